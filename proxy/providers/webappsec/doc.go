// Package webappsec is the provider "webappsec" (role webappsec, Knox's
// WebAppSec): CSRF protection, CORS, and security response headers, each
// off unless enabled. It runs first in the chain, before authentication, so
// that CORS preflights (which carry no credentials) are answered and the
// headers are on every answer, the chain's 401s included.
//
// CSRF (Knox's): a request whose method is not in csrf.methodsToIgnore must
// carry the header csrf.customHeader (any value; browsers cannot add custom
// headers to cross-site form posts), else 400.
//
// CORS: a preflight (OPTIONS with Origin and Access-Control-Request-Method)
// is answered by the gateway: 204 with the Access-Control-Allow-* headers,
// 403 for an origin or header not allowed, 405 for a method not allowed. A
// cross-origin request from an origin not allowed gets 403 (same-origin
// requests, whose Origin is the request's own scheme://Host, pass). Allowed
// ones get Access-Control-Allow-Origin (and -Credentials, -Expose-Headers).
// Unlike Knox, credentials are off by default and cannot be combined with
// the any-origin "*" (Knox then echoes every origin with credentials).
//
// The backend's copies of the headers the gateway sets are dropped from its
// responses: the client sees exactly one value, the gateway's.
//
//	Knox param                   also accepted           default
//	csrf.enabled                                         false
//	csrf.customHeader                                    X-XSRF-Header
//	csrf.methodsToIgnore                                 GET,OPTIONS,HEAD
//	cors.enabled                                         false
//	cors.allowOrigin                                     * (space- or comma-separated origins)
//	cors.allowSubdomains                                 false
//	cors.allowGenericHttpRequests                        true (false: requests without Origin get 403)
//	cors.supportedMethods        cors.allowMethods       GET,POST,HEAD,OPTIONS
//	cors.supportedHeaders        cors.allowHeaders       * (the requested headers are echoed)
//	cors.exposedHeaders                                  none
//	cors.supportsCredentials     cors.allowCredentials   false (Knox: true)
//	cors.maxAge                                          -1 (not sent)
//	xframe.options.enabled                               false
//	xframe.options.value                                 DENY (SAMEORIGIN, ALLOW-FROM uri)
//	xcontent-type.options.enabled                        false
//	xcontent-type.options                                nosniff
//	strict.transport.enabled                             false
//	strict.transport                                     max-age=31536000
//	xss.protection.enabled                               false (X-XSS-Protection: 1; mode=block)
//
// rate.limiting.* is refused: the gateway has no rate limiter yet. With
// nothing enabled the provider adds no link to the chain.
package webappsec
