// Package sso is the gateway's single sign-on, in KnoxSSO's role: a
// topology with a KNOXSSO service serves a login page (an HTML form with
// embedded assets and a strict Content-Security-Policy) that checks the
// credentials with the topology's own providers, then sets a cookie holding
// a token of the gateway (HttpOnly, Secure when TLS is on or the public URL
// is https, SameSite=Strict by default) and sends the browser back to where it came from, but only to
// an allowed origin. Logout (the KNOXSSO service's logout page, or a
// KNOXSSOUT service) revokes the cookie's token and clears it. Other
// topologies accept the cookie with the sso-cookie provider.
package sso
