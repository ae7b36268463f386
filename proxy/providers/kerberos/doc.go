// Package kerberos is the "kerberos" authentication provider: SPNEGO
// (HTTP Negotiate, RFC 4559) with Kerberos tickets checked against the
// service's keytab, as Knox's HadoopAuth provider with type=kerberos does,
// and a signed session cookie after the first Negotiate, modelled on
// Hadoop's hadoop.auth.
//
// Params (Knox's HadoopAuth names, without its config.prefix, in brackets):
//
//	principal         the service principal: HTTP/gw.example.test, with or
//	                  without @REALM; * for any principal of the keytab
//	                  [kerberos.principal]; required
//	keytab            ${alias:NAME}: the alias holding the keytab's bytes
//	                  (gatewayctl alias create NAME --from-file http.keytab)
//	                  [kerberos.keytab]; required, never a file path
//	name_rules        Hadoop auth_to_local rules mapping user@REALM to the
//	                  principal's name [kerberos.name.rules]; default DEFAULT
//	                  (the first component of names of the service's realm)
//	clock_skew        the largest difference allowed between the client's
//	                  clock and ours; default 5m, 1s to 1h
//	cookie.validity   how long the session cookie lasts (never past the
//	                  ticket's end); default 10h, 0 for no cookie
//	cookie.name       default gateway.auth
//	cookie.domain     the cookie's Domain; default none (the host)
//	cookie.path       default /PREFIX/TOPOLOGY of the request
//	signature.secret  ${alias:NAME}, at least 16 bytes, the cookie's HMAC
//	                  key; default a random key per deploy (sessions then
//	                  end at a redeploy: clients negotiate again)
//
// A request without credentials is not the provider's: the chain's 401
// carries "WWW-Authenticate: Negotiate" with the other providers'
// challenges (Basic beside it, for clients without a ticket; an NTLM
// token sent as Negotiate is passed on the same way). A Negotiate token
// is verified (ticket decrypted with the keytab and for the configured
// principal, ticket times, authenticator within the clock skew, not seen
// before in the gateway's replay cache (chain.Host.Replay), keyed, as MIT's
// is, by a digest of the server and the authenticator's ciphertext) and
// the client principal mapped with the rules; any failure is a 401 with the Negotiate challenge, the
// reason only in the log. Each accepted authenticator holds a key in the
// replay cache for clock_skew: the gateway's cache (proxy.replay_cache_size,
// 65,536 keys by default) takes about size / clock_skew new Negotiates per
// second (218/s at 5m);
// beyond that it fails closed (401) until keys expire. Clients that keep
// the session cookie negotiate once. When the client asks for mutual authentication
// the answer carries "WWW-Authenticate: Negotiate <AP-REP>".
//
// Authenticated, the client gets the session cookie
// u=USER&p=PRINCIPAL&t=kerberos&e=EXPIRY_MS&s=HMAC-SHA256 (HttpOnly,
// SameSite=Lax, Secure on TLS or behind an https public URL), bound to
// the topology; while valid it authenticates without Kerberos. The
// Authorization header and the cookie
// are consumed credentials: they never reach a backend unless the service
// forwards credentials. The PAC that MIT and Active Directory KDCs put in
// tickets is not decoded.
//
// # Outbound: the gateway to Kerberized backends
//
// The "kerberos" provider of role "dispatch" (Outbound) sets, on every
// request to the topology's backends, "Authorization: Negotiate …" made
// with the gateway's own keytab for HTTP/HOST of the backend (or spn).
// With identity-assertion's query_param: doAs the backend also gets the
// end user as doAs: Hadoop's proxy-user pattern. Params: principal (the
// gateway's, knox/gateway@REALM), keytab (${alias:NAME}), kdc (host:port,
// comma-separated), spn. It logs in at the first request, not at deploy;
// service tickets are cached until they expire. When no ticket can be had
// (the KDC is down) the request goes without Authorization and the backend
// answers 401; the log says why.
package kerberos
