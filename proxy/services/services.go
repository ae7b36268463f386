// Package services imports the gateway-served services (the KNOXTOKEN
// token API, the KNOXSSO login pages) so that they register themselves.
package services

import (
	_ "github.com/securegw/gateway/proxy/services/knoxtoken"
	_ "github.com/securegw/gateway/proxy/services/sso"
)
