// Package jwt holds the federation providers that accept signed tokens:
// "jwt" (Knox's JWTProvider: a Bearer header, a cookie, or a query
// parameter when configured) and "sso-cookie" (Knox's SSOCookieProvider:
// the SSO login page's cookie; browsers without one are sent to the login
// page, API clients get a 401).
//
// Tokens the gateway issued are verified by the gateway's token service
// (chain.Host.Tokens: its live keys and token state, revocation included);
// tokens of other issuers with configured PEM keys or JWKS URLs (fetched
// with a timeout, refreshed at a bounded rate). A gateway token whose policy
// names topologies is refused by the providers of the others. Algorithms are pinned,
// iss, aud, exp and nbf checked; verified tokens are cached by their hash,
// never beyond their expiry. The credential is removed before dispatch.
package jwt
