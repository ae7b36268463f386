// Package apierr names what went wrong in a management call, in terms a
// caller can act on, without tying the services to a transport. Services
// (the api package, secretsvc) return errors made here; the gRPC layer maps
// each Kind to a status code in one place (api/errors.go), and a REST or
// web-console layer would map the same kinds to HTTP statuses.
//
// An error without a kind (and not one of the store's or context's
// sentinels) is internal: the caller gets a generic message and the detail
// goes to the log.
package apierr
