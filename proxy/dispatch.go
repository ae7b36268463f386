package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/identity"
)

// service is one routed service of a compiled topology.
type service struct {
	topo      *Compiled
	path      string // "a/b"
	role      string // the topology's role for it ("WEBHDFS"), may be ""
	prefix    string // "/gateway/t/a/b"
	internal  bool   // gateway-served endpoints (the auth API), no backend
	notRouted bool   // kept for service discovery only (Knox NAMENODE): 404
	websocket bool
	// allowTrace forwards TRACE and TRACK (dispatch.allow_trace); else 405.
	allowTrace bool
	maxBody    int64
	up         *upstream
	dn         *datanodes    // sealed datanode redirects (datanode.go), nil: none
	body       *bodyRewrite  // UI body rewriting (uirewrite.go), nil: none
	stats      *serviceStats // replaced by the live one's on Apply (adoptLocked)
	// endpoints of an internal service, by the path after prefix ("" or
	// "/api/v1/groups"): registered by the compiler and the chain.
	endpoints map[string]*chain.Endpoint
	// forwardCredentials: the credentials the chain consumed are sent on
	// (dispatch.forward_credentials); by default they are removed.
	forwardCredentials bool
	// fed sends the principal to another gateway (dispatch.federate); nil
	// for services that do not federate.
	fed *federator
	fp  fingerprint // what serves it: upgraded connections keep to it
	ws  wsService   // WebSocket limits and rewrite rules
}

// rewrite builds the backend request. outbound has already removed
// hop-by-hop headers (including those the client named in Connection) and
// the client's Forwarded and X-Forwarded-{For,Host,Proto}; what is set here
// is therefore sent as set.
func (s *service) rewrite(out, in *http.Request) {
	ex := exchangeOf(in.Context())      // never nil: ServeHTTP set the context
	rest := in.URL.Path[len(s.prefix):] // ServeHTTP guarantees the prefix
	if s.dn != nil {
		rest = homeDir(in.Context(), rest) // datanode.go
	}
	ex.backend = s.up.pick() // roundTrip starts with it
	b := s.up.backends[ex.backend]
	out.URL.Scheme, out.URL.Host = b.scheme, b.host
	out.URL.Path, out.URL.RawPath = joinPath(b.basePath, rest), ""
	out.URL.User, out.URL.Fragment = nil, ""
	out.Host = "" // the backend's own host name
	p := s.topo.p
	trusted := ex.info.ViaTrustedProxy // the peer is a trusted proxy: decided once, in ServeHTTP
	scrubHeaders(out.Header, trusted, s.topo.scrub)
	p.setForwarded(out, in, trusted, s.topo.ctxPath, ex.fwdValues())
	if id := in.Header["X-Request-Id"]; id != nil {
		out.Header["X-Request-Id"] = id
	}
	if strings.IndexByte(out.URL.RawQuery, ';') >= 0 {
		// Before the impersonation parameters are stripped: a backend that
		// reads ';' as a separator would see "x=1;user.name=hdfs" as
		// user.name (any proxied request, WebSocket handshakes too).
		out.URL.RawQuery = cleanQuery(out.URL.RawQuery)
	}
	// A client's doAs or user.name never reaches the backend (CVE-2017-5646):
	// identity assertion decides on them and, when configured, sets its own.
	if q, removed := identity.StripImpersonation(out.URL.RawQuery); removed {
		out.URL.RawQuery = q
		if !s.topo.assertsIdentity {
			p.log.Warn("proxy: client doAs/user.name query parameter removed", "request_id", in.Header.Get("X-Request-Id"),
				"topology", s.topo.name, "service", s.path)
		}
	}
	// The credentials the authentication consumed (a password, a token, a
	// session cookie) stay at the gateway unless the service asks for them.
	// So do those of the chain's other authenticators (a password sent
	// beside a client certificate).
	if !s.forwardCredentials {
		s.stripCredentials(out, in)
	}
	out.Trailer = s.clientTrailer(in)
	ex.trailerIn = in.Trailer
	if s.body != nil {
		s.body.outbound(out) // uirewrite.go: encodings the rewriter decodes
	}
	s.topo.chain.RewriteOutbound(out, in)
	if s.fed != nil {
		s.fed.rewrite(out, in) // federation hook: last, on out as sent
	}
}

// stripCredentials removes from out the credentials in's authentication
// consumed and those of the chain's other authenticators.
func (s *service) stripCredentials(out, in *http.Request) {
	if who, ok := identity.FromContext(in.Context()); ok {
		for _, c := range who.Consumed {
			c.Strip(out)
		}
	}
	for _, c := range s.topo.chain.Credentials() {
		c.Strip(out)
	}
}

// clientTrailer returns the trailer fields the client declared that the
// backend may get (their values come with the end of the body: writeBody
// copies them from the client's), nil when none. The head's rules apply
// to their names: hop-by-hop and framing fields and those that belong in
// the head (httpguts.ValidTrailerHeader) go, cookies and the request id
// too, then identity and forwarding fields (never kept from a trailer,
// trusted peer or not) and the service's scrub list (scrubHeaders), and
// the credential headers the chain consumed (stripCredentials).
func (s *service) clientTrailer(in *http.Request) http.Header {
	if len(in.Trailer) == 0 {
		return nil
	}
	t := make(http.Header, len(in.Trailer))
	for k := range in.Trailer {
		if httpguts.ValidTrailerHeader(k) && !hopByHop(k) && k != "Cookie" && k != "X-Request-Id" {
			t[k] = nil
		}
	}
	scrubHeaders(t, false, s.topo.scrub)
	if !s.forwardCredentials {
		s.stripCredentials(&http.Request{Header: t}, in)
	}
	if len(t) == 0 {
		return nil
	}
	return t
}

// modifyResponse rewrites backend URLs in the response headers and runs the
// chain's response modifiers.
func (s *service) modifyResponse(resp *http.Response) error {
	h := resp.Header
	// The gateway's X-Request-Id is the one returned (exchange.WriteHeader
	// adds it); a hijacked 101 bypasses WriteHeader, so it is set here.
	delete(h, "X-Request-Id")
	if resp.StatusCode == http.StatusSwitchingProtocols && resp.Request != nil {
		if id := resp.Request.Header["X-Request-Id"]; id != nil {
			h["X-Request-Id"] = id
		}
	}
	if err := s.rewriteResponseHeaders(resp); err != nil {
		return err
	}
	if s.body != nil {
		if err := s.rewriteBody(resp); err != nil { // uirewrite.go
			return err
		}
	}
	if err := s.topo.chain.ModifyResponse(resp); err != nil {
		return err
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// Upgrades never reach forward (serveWebSocket): a backend
		// switching protocols unasked does not get a raw tunnel.
		return errors.New("backend switched protocols unasked")
	}
	return nil
}

// errorHandler answers when the backend could not be reached or answered
// badly. Messages to the client never carry backend addresses.
func (s *service) errorHandler(w http.ResponseWriter, r *http.Request, err error, bodySettled bool) {
	ex, _ := w.(*exchange)
	status, msg := http.StatusBadGateway, "backend unavailable"
	switch {
	case ex != nil && bodySettled && ex.body.tooLarge:
		status, msg = http.StatusRequestEntityTooLarge, "request body too large"
	case ex != nil && bodySettled && isTimeout(ex.body.err):
		// The client left its body silent past the stall (or read) timeout.
		status, msg = http.StatusRequestTimeout, "request body timeout"
	case ex != nil && bodySettled && ex.body.err != nil:
		status, msg = http.StatusBadRequest, "malformed request body"
	case r.Context().Err() != nil && errors.Is(err, context.Canceled):
		if ex != nil {
			ex.clientGone = true
		}
		return
	case isTimeout(err):
		status, msg = http.StatusGatewayTimeout, "backend timeout"
	case errors.Is(err, errStandbyOnly):
		status, msg = http.StatusServiceUnavailable, "no active backend"
	case errors.Is(err, errUnroutableRedirect):
		msg = "backend redirected to an address the gateway does not publish"
	}
	if ex != nil {
		ex.backendErr = err
	}
	if status >= 500 {
		s.topo.p.log.Warn("proxy: backend error", "request_id", requestIDOf(ex),
			"topology", s.topo.name, "service", s.path, "status", status, "err", err)
	}
	if ex != nil && ex.wroteHeader {
		return // too late for an answer; the access log records the error
	}
	writeError(w, status, msg)
}

func requestIDOf(ex *exchange) string {
	if ex == nil {
		return ""
	}
	return ex.id()
}

// trustedAddr reports whether a (unmapped) is in TrustedProxies.
func (p *Proxy) trustedAddr(a netip.Addr) bool {
	for _, pfx := range p.trusted {
		if pfx.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedKept are the forwarding headers kept from trusted peers.
var forwardedKept = []string{"x-forwarded-for", "x-forwarded-host", "x-forwarded-proto",
	"x-forwarded-port", "x-forwarded-context", "forwarded"}

// identityHeaders are never accepted from clients, trusted or not: only
// an outbound handler may set them.
var identityHeaders = []string{"x-forwarded-user", "sm-user", "remote-user", "x-remote-user",
	"x-authenticated-user", "x-forwarded-groups"}

// scrubHeaders removes client-sent headers that could pass for the gateway's:
// identity headers (built-in and the chain's) under any spelling ('_' and
// '.' for '-', any case); from untrusted peers all X-Forwarded-* and
// Forwarded spellings; from trusted peers the non-canonical spellings of
// these and X-Forwarded-* headers other than the ones kept.
func scrubHeaders(h http.Header, trusted bool, extra []string) {
	for k := range h {
		n := normHeaderMatch(k)
		if n == matchNone && !matchesAny(k, extra) {
			continue
		}
		if n == matchKept && trusted && !strings.ContainsAny(k, "_.") {
			continue
		}
		delete(h, k)
	}
}

const (
	matchNone      = iota
	matchKept      // a forwarding header kept from trusted peers
	matchForwarded // any other x-forwarded-* spelling
	matchIdentity
)

func normHeaderMatch(k string) int {
	for _, id := range identityHeaders {
		if normEqual(k, id) {
			return matchIdentity
		}
	}
	if len(k) >= len("x-forwarded-") && normEqual(k[:len("x-forwarded-")], "x-forwarded-") || normEqual(k, "forwarded") {
		for _, f := range forwardedKept {
			if normEqual(k, f) {
				return matchKept
			}
		}
		return matchForwarded
	}
	return matchNone
}

func matchesAny(k string, list []string) bool {
	for _, n := range list {
		if normEqual(k, n) {
			return true
		}
	}
	return false
}

// normEqual compares a header name with a lower-case, '-'-separated name,
// ignoring case and reading '_' and '.' as '-'.
func normEqual(k, norm string) bool {
	if len(k) != len(norm) {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c == '_' || c == '.':
			c = '-'
		}
		if c != norm[i] {
			return false
		}
	}
	return true
}

func normHeader(k string) string {
	b := []byte(strings.ToLower(k))
	for i, c := range b {
		if c == '_' || c == '.' {
			b[i] = '-'
		}
	}
	return string(b)
}

// setForwarded sets X-Forwarded-For/Proto/Host/Port/Context (and appends
// to Forwarded when a trusted peer sent one). From a trusted peer, its
// X-Forwarded-For is appended to and its Proto/Host/Port/Context kept;
// without its X-Forwarded-Port, the port is the one of the host told
// (forwardedPort: its X-Forwarded-Host's, else the Host's), else the
// default of the scheme told (its X-Forwarded-Proto's; Knox takes the
// connection's, wrong behind a proxy that ended TLS), never the port of
// the Host the proxy's own request had.
// With a public URL configured, Proto/Host/Port are the public URL's,
// whoever sent what: a backend that builds links from them builds them on
// the origin the gateway's own links use. Without a host (a request that
// named none, no trusted proxy's, no public URL) there is no
// X-Forwarded-Host, nor a host in the gateway's Forwarded element.
//
// The values share one backing array, v (the request's own), each a full
// slice (len == cap), so a later Add on one header reallocates instead of
// overwriting its neighbour: no allocation instead of five.
func (p *Proxy) setForwarded(out, in *http.Request, trusted bool, ctxPath string, v *[5]string) {
	clientIP, _, err := net.SplitHostPort(in.RemoteAddr)
	if err != nil {
		clientIP = in.RemoteAddr
	}
	proto := "http"
	if in.TLS != nil {
		proto = "https"
	}
	*v = [5]string{clientIP, proto, in.Host, "", ctxPath}
	if trusted {
		if prior := in.Header.Values("X-Forwarded-For"); len(prior) > 0 {
			v[0] = strings.Join(prior, ", ") + ", " + clientIP
		}
		for i, name := range [...]string{"X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Port", "X-Forwarded-Context"} {
			if prior := in.Header.Get(name); prior != "" {
				v[i+1] = prior
			}
		}
		if fwd := in.Header.Values("Forwarded"); len(fwd) > 0 {
			out.Header["Forwarded"] = []string{strings.Join(fwd, ", ") + ", " + forwardedElement(clientIP, in.Host, proto)}
		}
	}
	if pub := &p.public; pub.origin != "" {
		v[1], v[2], v[3] = pub.proto, pub.host, pub.port
	} else if v[3] == "" {
		v[3] = forwardedPort(v[2], v[1])
	}
	h := out.Header
	h["X-Forwarded-For"] = v[0:1:1]
	h["X-Forwarded-Proto"] = v[1:2:2]
	if v[2] != "" {
		h["X-Forwarded-Host"] = v[2:3:3]
	} else {
		// No host was named (an HTTP/1.0 request without Host, or with an
		// empty one, and no trusted proxy's): none is told, rather than an
		// empty one a backend would build broken URLs from.
		delete(h, "X-Forwarded-Host")
	}
	h["X-Forwarded-Port"] = v[3:4:4]
	h["X-Forwarded-Context"] = v[4:5:5]
}

// forwardedPort is the port of host (a Host, or an X-Forwarded-Host:
// its first element, the client's), or the default port of proto (an
// X-Forwarded-Proto, read by forwardedScheme, as links are).
func forwardedPort(host, proto string) string {
	host, _, _ = strings.Cut(host, ",")
	host = strings.TrimSpace(host)
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") &&
		(host[0] == '[' || strings.IndexByte(host[:i], ':') < 0) { // a bare IPv6 address has no port
		return host[i+1:]
	}
	if forwardedScheme(proto) == "http" {
		return "80"
	}
	return "443"
}

// forwardedElement is the gateway's element of Forwarded (RFC 7239): no
// host parameter for a request that named no host (as no
// X-Forwarded-Host), rather than an empty one.
func forwardedElement(ip, host, proto string) string {
	if strings.Contains(ip, ":") {
		ip = `"[` + ip + `]"`
	}
	if host == "" {
		return "for=" + ip + ";proto=" + proto
	}
	return "for=" + ip + `;host="` + strings.ReplaceAll(host, `"`, "") + `";proto=` + proto
}

func nowNano() int64 { return time.Now().UnixNano() }
