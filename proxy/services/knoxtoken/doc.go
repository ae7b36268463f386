// Package knoxtoken serves Knox's token API for topologies with a
// KNOXTOKEN service: issue (GET or POST …/knoxtoken/api/v1/token with
// lifespan, doAs, comment), renew, revoke, enable, disable, getUserTokens
// and getTssStatus, each authorizing its caller through the gateway's token
// service; the JWKS (…/knoxtoken/api/v1/jwks.json) and an OpenID Connect
// discovery document (…/{topology}/.well-known/openid-configuration) are
// public, so other systems can trust the gateway's tokens. With hmac_secret
// (an alias reference) the service issues HS256 tokens signed with that
// secret instead, bound to its topology: only a jwt provider holding the
// secret accepts them.
package knoxtoken
