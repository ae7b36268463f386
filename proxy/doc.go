// Package proxy is the gateway's data plane: the routing table compiled from
// topologies, the handler chain (package chain, providers in package
// providers, the principal in package identity), and HTTP dispatch to the
// backends on the proxy's own HTTP/1.1 client (package h1, forward.go).
//
// # Routing
//
// URLs are /{prefix}/{topology}/{service-path}/{rest} ("gateway" by
// default). ServeHTTP canonicalises the path once, loads the live table
// with one atomic load, finds the topology by name (a map lookup) and then
// the service whose path is the longest whole-segment prefix of the rest
// (at most one map lookup per segment of the deepest service path): the cost
// does not depend on the number of topologies. No route: 404
// {"error":"no such route"}. Services of a role kept for service discovery
// only (topology.ServiceNotRouted: Knox's NAMENODE, JOBTRACKER) have a route
// that answers 404 {"error":"service namenode is not routed: …"} before the
// chain, and no backend.
//
// Compile first runs topology.ValidateWith against the provider registry
// (the rules gatewayctl applies offline, with the same verdict), then builds
// the chain and every service, reporting all their problems in one error.
//
// Before the chain runs, the request's context gets a *route.Info: the
// topology, the matched service's path and role, and the source address:
// the TCP peer, or when the peer is in TrustedProxies the right-most
// X-Forwarded-For address that is not a trusted proxy (entries further left
// are the client's own word). Handlers (ACLs, impersonation rules) read it
// from there.
//
// # Gateway-served endpoints
//
// Paths the gateway answers itself are chain.Endpoints registered on each
// compiled topology: the auth API below, and those of the chain's handlers
// (chain.EndpointProvider: login pages, token endpoints, JWKS). Each first
// path segment they use becomes an internal route that no service may
// use; an exact path match picks the endpoint (else 404), served after the
// chain, or without it when the endpoint is Public. The generic dispatch
// path knows nothing of what they are.
//
// # Auth API
//
// /{prefix}/{topology}/auth/api/v1/groups and …/pre are answered by the
// gateway itself for every topology, after the topology's chain (so an
// unauthenticated request gets the chain's 401, and ACLs apply to the
// service "auth"), from the principal in context; no backend is involved.
// groups: 200 {"user":"alice","groups":["a","b"]} (sorted). pre (Knox's
// pre-authentication endpoint): 200, no body, X-Knox-Actor-ID: alice and
// X-Knox-Actor-Groups-1, -2, … holding the comma-separated groups, at most
// 1000 bytes per header (a longer group gets one of its own; groups with a
// comma or control characters are left out). GET and HEAD only (else 405);
// other paths under auth/ are 404. A service path whose first segment is
// "auth" is refused at compile time. LookupGroups answers the management
// API's group lookup from the group sources (chain.GroupLookup) of a live
// topology's chain.
//
// Writers (Update, which publishes a batch of compiled topologies and
// withdraws others; Apply and Remove, its one-entry forms; Load) are
// serialised by a mutex and copy the table's map of topology pointers,
// O(topologies): about 0.2 ms and 0.4 MB of garbage per deploy at 10k
// topologies (BenchmarkDeploy), then publish it with one atomic store.
//
// A request counts itself on the topology it routed to; a topology replaced
// or removed is finalised (transport references released, handlers closed)
// when its last request ends, so requests in flight finish on the table they
// started with, and a request racing a swap is routed again on the new
// table: a redeploy never makes a request fail.
//
// # Path canonicalisation
//
// Routing, the chain and the backend see one path: the canonical, decoded
// path. Per case:
//
//	input                          decision
//	/a//b, trailing //             canonicalised: empty segments merged (/a/b); one trailing slash kept
//	/a/./b, /a/%2e/b               canonicalised: "." segments removed
//	/a/../b, %2e%2e, .%2E, ..;x=y  refused 400 "dot-dot segment" (never resolved: a route cannot be climbed out of)
//	"...", ". .", ".;x"            refused 400 "dot-dot segment" (dots and spaces only: Windows and Tomcat trim them)
//	/;x=y/ (only parameters)       refused 400 "segment of only parameters"
//	a;jsessionid=1                 kept: ';' is data in a segment whose name is not a dot segment
//	%2F, %2f                       refused 400 "encoded slash"
//	\ and %5C                      refused 400 "backslash"
//	%00..%1F, %7F                  refused 400 "control character"
//	%252e %252f %255c %2500 %2525  refused 400 "double-encoded character"
//	%23 (#), %3F (?)               kept as data: decoded for routing and the chain, re-encoded (%23, %3F) to the backend
//	other escapes (%41, %20, UTF-8) decoded; the backend receives Go's canonical encoding of the decoded path
//	invalid escapes (%zz)          refused 400 by Go's server (or here: "invalid percent-encoding")
//	/gateway/t/public../admin      not a dot segment: "public.." is a service name of its own, so 404 (never a prefix match on "public")
//
// The backend request's path is the service URL's path joined with the
// canonical rest, with the query passed through (Go drops unparsable query
// parameters). The chain sees r.URL.Path = the canonical full path
// (RawPath cleared) and must not change it.
//
// # Chain
//
// Each topology compiles its providers into a chain.Chain once per deploy.
// A topology without an enabled authentication or federation provider is
// refused at compile time: nothing is unauthenticated by accident, and
// "anonymous" says openly that a topology is public. After the inbound
// chain, a request without an identity.Principal in its context gets 401.
// Upgrade requests run the same chain before any backend connection. A
// service with websocket: true forwards "Upgrade: websocket"; other
// services ignore the Upgrade offer (the header is removed and the request
// served as plain HTTP, as RFC 9110 allows).
//
// # Upgraded connections
//
// A WebSocket upgrade leaves the plain request path once the chain has
// accepted it (serveWebSocket, websocket.go): the proxy checks the
// handshake (GET, version 13, a well-formed key), reserves a slot (503
// past the service's connection limits or the descriptor ceiling), builds
// the backend handshake as it builds any proxied request (rewrite: hop-by-
// hop and identity headers, consumed credentials, X-Forwarded-*, outbound
// handlers; cookies and the subprotocol offer pass), dials the backend
// itself and checks its 101 (accept key, no unrequested extension or
// subprotocol). Any other answer reaches the client as an HTTP response.
// Then it hijacks the client, answers 101 and hands both sockets to the
// frame relay (package wsrelay: limits, close codes, rewrite rules, idle
// sides parked on epoll without goroutine or buffer). The handler returns:
// the generation that accepted the connection is finalised (transports
// released, handlers closed) like any other.
//
// Every compiled service has a fingerprint (fingerprint.go: an HMAC of its
// definition, the chain's providers and params, and the versions of the
// secrets and truststores they use). Upgraded connections are tracked by
// topology and service with that fingerprint. Each swap checks the
// connections of the topologies it publishes or retires against the live
// table: one whose service is served with the same fingerprint stays open;
// one whose service was removed or changed is closed (1001) after
// Config.UpgradeGrace (restored unchanged within the grace, it stays). The
// credential the upgrade was authenticated with is watched: revoked
// (Host.Revocations) or expired, its sockets close with 1008 within the
// relay's sweep interval. CloseUpgraded (and Close) close them all (1001):
// http.Server.Shutdown does not see hijacked connections, so the daemon
// calls it after draining HTTP.
//
// # Dispatch
//
// forward.go: hop-by-hop headers (and those named in Connection) are gone
// from the backend request's headers before rewrite, which then strips identity headers
// (X-Forwarded-User, SM_USER, … in any spelling, plus those the chain's
// providers read), sets X-Forwarded-For/Proto/Host/Port/Context (no
// X-Forwarded-Host, nor a host in its Forwarded element, for a request
// that named no host, HTTP/1.0 without Host or an empty Host: a backend
// would build broken URLs from an empty one) and
// X-Request-Id, and runs the outbound handlers, so a client's Connection
// header cannot remove what the gateway adds. Client X-Forwarded-* and
// Forwarded are discarded unless the peer is in TrustedProxies (then
// X-Forwarded-For and Forwarded are appended to, the others kept; without
// its X-Forwarded-Port, the port told is its X-Forwarded-Host's, else the
// default of its X-Forwarded-Proto, not the port of the Host it sent the
// gateway). With a PublicURL, X-Forwarded-Proto/Host/Port are always its (publicurl.go). Bodies
// stream both ways through pooled 32 KiB buffers; a Content-Length answer
// of 64 KiB or more between plain TCP connections moves by splice(2),
// behind a TLS or HTTP/2 front (and once a chunked answer has shown itself
// a bulk one) through h1.Pipe, which reads the next 256 KiB from the
// backend while the last are written. A request body of known length,
// 64 KiB or more, from the lean front's plain TCP connection to a plain
// TCP backend moves by splice(2) too (the front's body implements
// io.WriterTo, bodyReader passes it through when max_body_bytes cannot be
// crossed, writeBody hands it the backend connection's ReadFrom); a body
// the client broke off is its fault (400, the backend not blamed), as when
// copied. A backend connection serves the next request once its request
// body was sent whole, even when the backend answered on its last byte,
// before the body's writer returned: the answer's end waits for a writer
// that marked the body sent (at most writerReturn), and leaves the
// connection to one that has not (released when it reports success, closed
// when it fails or takes longer, as after an answer that came before the
// body). The client's buffer is flushed only before a read that would wait for the
// backend (SSE and long polls stream at once, bytes already here go out
// together); trailers (a backend's as it sent them, declared in Trailer
// or not, on either front; a field in its head and its trailer keeps the
// head's value in the head), 1xx and 100-continue pass through, without the
// fields a head keeps (forward.go's trailerAllowed, dispatch.go's
// clientTrailer: framing, hop-by-hop, identity, forwarding, cookies,
// consumed credentials) nor, from a backend, the URLs and cookies a head
// has rewritten or set (headOnlyField: Location, Content-Location,
// Refresh, Link, Set-Cookie, Content-Security-Policy, X-Request-Id); no 1xx reaches an HTTP/1.0 client, and a backend's sixth 1xx to one request is a 502 (net/http's Transport allows 5). A body longer than the
// service's MaxBodyBytes gets 413 (at once from Content-Length, or when the
// limit is crossed while streaming). The query is passed as is, except
// doAs and user.name parameters (any case, any encoding of the name): a
// client's are always removed (CVE-2017-5646), logged when no
// identity-assertion provider handled them; identity assertion decides on
// impersonation and may add the gateway's own (an Outbound handler edits
// out.URL.RawQuery).
//
// The credentials the authentication consumed (identity.Principal.Consumed:
// the Authorization header of Basic or LDAP, later a bearer token, an SSO
// cookie, a pre-auth signature) are removed from the backend request: a
// header entirely, a cookie from the Cookie header (the others kept), a
// query parameter from the query; so are the credentials the chain's other
// authenticators read (chain.CredentialReader: a Basic password sent beside
// a client certificate). WebSocket upgrades and failover retries are
// requests like any other here (a retry resends the stripped request). A
// service with dispatch.forward_credentials sends them on; its deploy warns
// about it.
//
// Federation (seed 001; federation.go): a service with dispatch.federate
// re-dispatches to another gateway's topology. Last in the backend
// request's rewrite, it removes every client-sent spelling of the
// federation headers (Config.Federation: SM_USER by default, and the
// groups header) and of the signature header, sets them from the
// principal, and signs method, path, query, user and groups with the
// dispatch.federation_secret alias (package internal/fedsig); a failover's
// next attempt is signed anew. The receiving side is the header-preauth
// provider (proxy/providers/preauth).
//
// TRACE and TRACK (any case) are answered 405 before the chain, with an
// Allow header, unless the service sets dispatch.allow_trace: a backend
// echoing the request would reflect its credentials and cookies to the
// caller (cross-site tracing).
//
// Responses: Location, Content-Location, Refresh and Link URLs naming any backend
// origin of the topology (or a host the hostmap provider declares internal)
// become the gateway URL of the service covering them (longest base path
// first; a lookup table built at compile time). A Refresh URL is found as
// browsers find it: with or without "url=", quoted or not. Each URL is
// read as the browser reads it against the gateway URL it asked
// (rewrite.ReadURL: http:\\rm/x, \\rm/x and http:///rm/x are
// http://rm/x; http:rm/x too from an https gateway). One naming a
// backend origin that no service covers is removed, and a 3xx losing its
// Location is answered 502: backend addresses never reach clients. The
// gateway URL's origin is Config.PublicURL when set (computed once, in New),
// else the request's as told to the backend in X-Forwarded-Proto/Host.
// Set-Cookie Path under the base path is mapped to /gateway/{t}/{service}/…
// (any other Path is narrowed to the service's prefix: a backend's cookie
// never reaches other routes), and a Domain naming a backend host is
// dropped (the cookie becomes host-only for the gateway). Errors: 502
// {"error":"backend unavailable"}, 504 after the response-header timeout, a
// backend breaking off mid-body aborts the client's response.
//
// # Per-request memory
//
// A proxied request allocates its exchange (the state of the request: the
// response writer's record, the route, the context the chain's providers
// see) and the request copies of its context changes; those are never
// reused, for a provider or handler that kept one after its request would
// read another's values. The backend request and its answer (backendMsg)
// are reused through a pool once dispatch returns, unless a goroutine
// writing the request body may still hold them; so are the access line's
// fields, taken only when the line is logged, behind slog's JSON or text
// handler (which keeps nothing of a record once it is written).
//
// # Backends
//
// One long-lived pool of keep-alive connections (h1.Pool) per backend
// origin, TLS settings and timeouts, shared by every topology that uses it and kept across
// redeploys (keep-alive pools survive), closed when no topology references
// it. TLS: BackendRoots (or the named truststore of dispatch.truststore),
// SNI and hostname verification always, InsecureSkipVerify per service
// with a warning, a client certificate (PEM certificate and key in the alias
// Dispatch.ClientCertificate) when Dispatch.UseTwoWayTLS.
//
// Several URLs: the first healthy URL is used (the first is the primary).
// Connection and TLS handshake failures fail over for any method (nothing
// was sent); HA.FailoverStatuses fail over for idempotent requests without
// a body, and so does, with HA.FailoverOnStandby, a standby Hadoop
// namenode's answer (403, a JSON body of at most 4 KiB whose
// RemoteException.exception is StandbyException; the part read to tell is
// put back in front of any other 403's body), or, for the YARN
// ResourceManager roles (topology.ResourceManagerRole), a standby RM's
// answer (307 or 403 whose body, at most 4 KiB, holds "This is standby
// RM", or a 307 holding "Can not find any active RM"; older Hadoop 2
// releases' 200 whose Refresh URL is the request's own path (no query)
// on another origin or relative, holding "This is standby RM"; Hadoop 3's
// text/plain 200 "There is no active RM right now"; to HEAD, which has
// no body, a 307 whose Location is the request's own path and query on
// another origin, or whose Refresh URL carries next.refresh.interval, or a
// 200 with such a Refresh): it names the RMs' addresses, so when it cannot
// fail over the client gets 503 instead. With HA.SafeModeRetries, a
// replayable request is sent again to the same URL, up to that many times,
// HA.SafeModeRetrySleep apart, when a namenode answers 403 with a
// RemoteException whose exception is SafeModeException or
// RetriableException (one in safe mode, or an HA namenode starting up);
// the wait ends with the request's context (the client going away) and is
// skipped when the request's deadline would pass first; the last answer
// reaches the client. Such an answer counts as a "safe_mode" backend error
// and leaves the URL's health alone. MaxFailures consecutive failures (default 3) take a URL out for
// Cooloff (default 30s); HealthCheckPath probes each URL every
// HealthCheckInterval (default 10s) while the topology is live. Health
// survives redeploys of the same URL, and is visible in BackendStatus and
// the metrics.
//
// # Observability
//
// The metrics (gateway_requests_total, gateway_request_duration_seconds,
// gateway_backend_errors_total, gateway_routing_table_generation,
// gateway_backend_up, gateway_backend_open_connections, …) are collected
// from the live table at scrape time. The access log is one JSON record per
// request with request_id, method, canonical path (never the query),
// topology, service, principal, status, bytes, duration. X-Request-Id is
// taken from the client when it is 1–128 characters of [A-Za-z0-9._-],
// generated otherwise, sent to the backend and returned to the client.
package proxy
