package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/h1"
	"github.com/securegw/gateway/proxy/identity"
	"github.com/securegw/gateway/proxy/route"
)

// ServeHTTP is the data-plane handler.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.ServeHTTPContext(r.Context(), w, r)
}

// ServeHTTPContext serves r under ctx (frontend.ContextHandler): the lean
// front hands over its request without a context, and the one shallow copy
// made at routing carries the route and the principal on ctx, where the
// front's own copy would be a second (a 320-byte allocation per request).
func (p *Proxy) ServeHTTPContext(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	ex := &exchange{w: w, start: time.Now()}
	ex.ctx = reqCtx{Context: ctx, ex: ex} // handed out at routing (serve)
	ex.idArr[0] = p.requestID(r.Header.Get("X-Request-Id"))
	r.Header["X-Request-Id"] = ex.idValues()
	p.metrics.inflight.Add(1)
	defer func() {
		if v := recover(); v != nil {
			// http.ErrAbortHandler from respond: the answer broke off
			// mid-body; the server aborts the client connection. A client
			// that went away or stalled is not the backend's failure.
			ex.aborted = !ex.clientGone
			p.finish(ex, r)
			panic(v)
		}
		p.finish(ex, r)
	}()
	p.serve(ex, r)
	if ex.drainBody {
		ex.drainRedirected()
	}
}

func (p *Proxy) serve(ex *exchange, r *http.Request) {
	if len(r.TransferEncoding) > 0 {
		// RFC 9112 §6.1: a request framed by Transfer-Encoding may have come
		// with a Content-Length that net/http dropped; the server MUST close
		// the connection after responding, so that no byte after this body
		// can be read as a request a front proxy did not see.
		ex.w.Header().Set("Connection", "close")
	}
	if p.closed.Load() {
		writeError(ex, http.StatusServiceUnavailable, "shutting down")
		return
	}
	canon, reason := canonicalPath(r.URL)
	if reason != "" {
		ex.refused = reason
		writeError(ex, http.StatusBadRequest, "bad path: "+reason)
		return
	}
	ex.path = canon
	ex.plainFront = r.TLS == nil && r.ProtoMajor == 1
	ex.h2Client = r.ProtoMajor == 2
	if !strings.HasPrefix(canon, p.prefix) {
		writeError(ex, http.StatusNotFound, "no such route")
		return
	}
	name, after, ok := strings.Cut(canon[len(p.prefix):], "/")
	if !ok {
		writeError(ex, http.StatusNotFound, "no such route")
		return
	}
	c, s := p.route(name, after)
	if c == nil {
		writeError(ex, http.StatusNotFound, "no such route")
		return
	}
	defer c.leave()
	ex.routed, ex.stats = true, s.stats
	ex.info = route.Info{Topology: c.name, Service: s.path, Role: s.role}
	var ep *chain.Endpoint // a gateway-served endpoint, nil for a backend service
	if s.internal {
		if ep = s.endpoint(canon[len(s.prefix):]); ep == nil {
			writeError(ex, http.StatusNotFound, "no such route")
			return
		}
	}
	if s.notRouted {
		writeError(ex, http.StatusNotFound, "service "+s.path+" is not routed: the topology keeps it for service discovery only")
		return
	}
	if isTrace(r.Method) && !s.allowTrace {
		// Refused before the chain: a TRACE echoed by a backend reflects the
		// request's credentials and cookies to the caller (cross-site
		// tracing), and refusing it needs no authentication work.
		ex.w.Header()["Allow"] = allowedMethods
		writeError(ex, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	ex.info.Peer, ex.info.Client, ex.info.ViaTrustedProxy = route.SourceAddr(r.RemoteAddr, r.Header["X-Forwarded-For"], p.trustedAddr)
	wsUpgrade := false
	if _, up := r.Header["Upgrade"]; up {
		if wsUpgrade = s.websocket && isWebSocketUpgrade(r); !wsUpgrade {
			// Not a WebSocket service (or not a WebSocket upgrade): the
			// offer to switch protocols is ignored (RFC 9110 §7.8 lets a
			// server ignore Upgrade) and the request is served as plain HTTP.
			delete(r.Header, "Upgrade")
		}
	}
	if s.maxBody > 0 && r.Body != nil && r.Body != http.NoBody && r.ContentLength > s.maxBody {
		writeError(ex, http.StatusRequestEntityTooLarge, "request body too large")
		return
	}
	// One shallow copy carries the route information and the wrapped body:
	// the server's own request keeps its body, whose type the server
	// inspects after the handler (an unanswered Expect: 100-continue closes
	// the connection instead of waiting for a body the client will not send).
	r = r.WithContext(&ex.ctx) // carries ex.info for route.FromContext
	ex.req = r                 // the request ex.ctx was made for (CarryPrincipal)
	if r.Body != nil && r.Body != http.NoBody {
		ex.body = bodyReader{rc: r.Body, remaining: -1, length: -1}
		if len(r.TransferEncoding) == 0 && r.ContentLength >= 0 {
			ex.body.length = r.ContentLength
		}
		if s.maxBody > 0 {
			ex.body.remaining = s.maxBody
		}
		r.Body = &ex.body
	}
	r.URL.Path, r.URL.RawPath = canon, ""
	if ep != nil && ep.Public {
		ep.Handler.ServeHTTP(ex, r)
		return
	}
	r2 := s.topo.chain.ServeInbound(ex, r)
	if r2 == nil {
		return // a handler answered
	}
	if r2.URL.Path != canon {
		p.log.Error("proxy: a handler changed the request path", "topology", name, "service", s.path)
		writeError(ex, http.StatusInternalServerError, "internal error")
		return
	}
	pr, ok := identity.FromContext(r2.Context())
	if !ok {
		writeError(ex, http.StatusUnauthorized, "unauthenticated")
		return
	}
	ex.principal = pr.Name
	if ep != nil {
		ep.Handler.ServeHTTP(ex, r2)
		return
	}
	if wsUpgrade {
		s.serveWebSocket(ex, r2) // the WebSocket path: its own dial and relay
		return
	}
	if s.dn != nil && s.dn.claims(canon[len(s.prefix):]) {
		s.serveSealed(ex, r2) // a sealed datanode URL (datanode.go)
		return
	}
	s.forward(ex, r2)
}

// allowedMethods is the Allow header of a refused TRACE or TRACK.
var allowedMethods = []string{"GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"}

// isTrace reports TRACE and TRACK in any case (some backends read methods
// case-insensitively).
func isTrace(m string) bool {
	return len(m) == 5 && (strings.EqualFold(m, http.MethodTrace) || strings.EqualFold(m, "TRACK"))
}

// route finds the topology and service of a request on the live table and
// counts the request on the topology. A topology retired between the load
// and the count is looked up again on the newer table, so a request during
// a redeploy is served by the old or the new topology, never refused.
// It returns (nil, nil) for no route.
func (p *Proxy) route(name, after string) (*Compiled, *service) {
	for {
		c := p.table.Load().get(name)
		if c == nil {
			return nil, nil
		}
		s := c.match(after)
		if s == nil {
			return nil, nil
		}
		if c.enter() {
			return c, s
		}
	}
}

// match finds the service with the longest path that is a whole-segment
// prefix of rest ("svc/x/y"): at most maxDepth map lookups.
func (c *Compiled) match(rest string) *service {
	var ends [maxServiceDepth]int
	n := 0
	for i := 0; n < c.maxDepth; i++ {
		j := strings.IndexByte(rest[i:], '/')
		if j < 0 {
			ends[n] = len(rest)
			n++
			break
		}
		ends[n] = i + j
		n++
		i += j
	}
	for k := n - 1; k >= 0; k-- {
		if s := c.services[rest[:ends[k]]]; s != nil {
			return s
		}
	}
	return nil
}

// exchange is the per-request state: it wraps the ResponseWriter to record
// status and bytes for the access log, and owns the body reader.
type exchange struct {
	w          http.ResponseWriter
	start      time.Time
	idArr      [1]string // the request id (id), its header value (idValues)
	path       string
	stats      *serviceStats // nil for the auth API
	info       route.Info    // in the request context from routing on
	principal  string
	status     int
	bytes      int64
	refused    string
	backendErr error
	body       bodyReader
	backend    int                                // index of the backend rewrite picked, for roundTrip
	ctx        reqCtx                             // the front's context; the routed request's (serve)
	req        *http.Request                      // the request served from routing on, under ctx
	who        atomic.Pointer[identity.Principal] // the principal ctx carries (CarryPrincipal)

	// The backend exchange (forward.go).
	msg       *backendMsg // pooled: taken by dispatch, given back when it ends
	outHeader *headerBuf  // out.Header's pooled storage
	// respVals: the values of resp.Header, when they fit; not in msg, for
	// the answer's header shares them and net/http's front server may
	// write it after the handler returned.
	respVals  [12]string
	bconn     *h1.Conn    // the connection resp came on
	bodyDone  chan error  // the request body's writer, when there is a body
	trailerIn http.Header // the client's request trailers (out.Trailer names those sent on)
	bodySent  bodySent    // the writer wrote the whole body (writeBody)
	stopWatch func() bool // ends the client-cancel watch on bconn

	// The flags, together (the exchange fits malloc's 640-byte class).
	routed      bool
	wroteHeader bool
	hijacked    bool
	aborted     bool
	clientGone  bool
	// clientFailed: a write to the client failed (it went away, or
	// stalled past the front's stall timeout).
	clientFailed bool
	plainFront   bool // HTTP/1 without TLS: the client connection is plain TCP
	h2Client     bool // the client speaks HTTP/2
	// drainBody: the backend redirected an HTTP/2 client before it had the
	// request body, and the body's writer is gone: the rest of the body is
	// read and dropped before the stream ends (drainRedirected).
	drainBody bool
	// writer: a goroutine writes the request body and may outlive
	// dispatch (releaseAfterWriter), so msg is not given back.
	writer bool
}

// id is the request id.
func (ex *exchange) id() string { return ex.idArr[0] }

// idValues is the request id as a header's values (X-Request-Id): no
// allocation, ex being on the heap anyway.
func (ex *exchange) idValues() []string { return ex.idArr[:1:1] }

// backendMsg is the storage of a backend request and its answer: a
// request's largest part (about 700 bytes), reused from request to request
// through msgs. Nothing holds it once dispatch returns, except a request
// body's writer (exchange.writer), and then it is left to the collector.
type backendMsg struct {
	out    http.Request
	outURL url.URL
	resp   http.Response
	fwd    [5]string // the X-Forwarded-* values of out (setForwarded)
}

var msgs = sync.Pool{New: func() any { return new(backendMsg) }}

// takeMsg gives ex its backend message storage.
func (ex *exchange) takeMsg() { ex.msg = msgs.Get().(*backendMsg) }

// fwdValues is the storage of the X-Forwarded-* values of the backend
// request: the message's, or for a request outside dispatch (a WebSocket
// handshake) its own.
func (ex *exchange) fwdValues() *[5]string {
	if ex.msg == nil {
		return new([5]string)
	}
	return &ex.msg.fwd
}

// putMsg gives ex's backend message storage back, cleared, unless a body
// writer may still use it.
func (ex *exchange) putMsg() {
	m := ex.msg
	ex.msg = nil
	if m == nil || ex.writer {
		return
	}
	*m = backendMsg{}
	msgs.Put(m)
}

// reqCtx is a request's context from routing on: it carries the exchange
// for the proxy's own steps (rewrite, roundTrip, modifyResponse) without
// an allocation, the exchange being on the heap already.
type reqCtx struct {
	context.Context
	ex *exchange
}

type exchangeKey struct{}

// Value returns the exchange for exchangeKey, the route information for
// route's key, the principal for identity's once authentication gave one,
// else the parent's value.
func (c *reqCtx) Value(key any) any {
	switch {
	case key == (exchangeKey{}):
		return c.ex
	case route.IsContextKey(key):
		return &c.ex.info
	case identity.IsContextKey(key):
		if p := c.ex.who.Load(); p != nil {
			return p
		}
	}
	return c.Context.Value(key)
}

// CarryPrincipal implements identity.Carrier: the first principal of the
// routed request (its authentication) is carried by its context itself, so
// the chain goes on with the same request. Whatever else holds that
// context then sees the principal too: a request of a handler's own made
// on r.Context() (a sign-in page checking credentials through the chain)
// must not be taken as authenticated by the context it shares, only by
// the request the chain returned for it.
func (c *reqCtx) CarryPrincipal(r *http.Request, p *identity.Principal) bool {
	return r == c.ex.req && p != nil && c.ex.who.CompareAndSwap(nil, p)
}

// exchangeOf returns the exchange of a request routed by ServeHTTP, or nil.
func exchangeOf(ctx context.Context) *exchange {
	ex, _ := ctx.Value(exchangeKey{}).(*exchange)
	return ex
}

func (e *exchange) Header() http.Header { return e.w.Header() }

func (e *exchange) WriteHeader(code int) {
	if code < 200 || e.wroteHeader {
		e.w.WriteHeader(code) // 1xx pass through; a second call is the server's to report
		return
	}
	e.wroteHeader, e.status = true, code
	h := e.w.Header()
	if _, ok := h["X-Request-Id"]; !ok {
		h["X-Request-Id"] = e.idValues()
	}
	e.w.WriteHeader(code)
}

func (e *exchange) Write(b []byte) (int, error) {
	if !e.wroteHeader {
		e.WriteHeader(http.StatusOK)
	}
	n, err := e.w.Write(b)
	e.bytes += int64(n)
	if err != nil {
		e.clientFailed = true
	}
	return n, err
}

// ReadFrom lets a body reach the server's ReadFrom: on a plain TCP client
// connection the kernel moves a Content-Length body (splice, sendfile).
func (e *exchange) ReadFrom(src io.Reader) (int64, error) {
	if !e.wroteHeader {
		e.WriteHeader(http.StatusOK)
	}
	if rf, ok := e.w.(io.ReaderFrom); ok {
		n, err := rf.ReadFrom(src)
		e.bytes += n
		if err != nil && writeFailed(err) {
			e.clientFailed = true
		}
		return n, err
	}
	buf := h1.GetBuffer()
	defer h1.PutBuffer(buf)
	return io.CopyBuffer(writerOnly{e}, src, buf[:])
}

// writerOnly hides a writer's ReadFrom from io.Copy.
type writerOnly struct{ io.Writer }

// FlushError lets http.ResponseController flush.
func (e *exchange) FlushError() error {
	if !e.wroteHeader {
		e.WriteHeader(http.StatusOK)
	}
	var err error
	switch f := e.w.(type) {
	case interface{ FlushError() error }:
		err = f.FlushError()
	case http.Flusher:
		f.Flush()
	default:
		err = http.NewResponseController(e.w).Flush()
	}
	if err != nil {
		e.clientFailed = true
	}
	return err
}

// writeFailed reports whether an error of the server's ReadFrom is the
// client's, not its source's (the backend): a write's (a *net.OpError of
// a write), or a timeout (the client's write deadline, its stall bound,
// or the client-gone watch interrupting the backend read for a client
// that left).
func writeFailed(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && (oe.Op == "write" || oe.Op == "raw-write") || isTimeout(err)
}

// Flush implements http.Flusher.
func (e *exchange) Flush() { _ = e.FlushError() }

// Hijack lets switchProtocols take the client connection (WebSocket).
func (e *exchange) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(e.w).Hijack()
	if err == nil {
		e.hijacked, e.wroteHeader, e.status = true, true, http.StatusSwitchingProtocols
	}
	return c, rw, err
}

// Unwrap exposes the server's ResponseWriter to http.ResponseController.
func (e *exchange) Unwrap() http.ResponseWriter { return e.w }

// bodyReader limits the request body to the service's MaxBodyBytes and
// remembers why reading it failed.
type bodyReader struct {
	rc        io.ReadCloser
	remaining int64 // -1: no limit
	length    int64 // the Content-Length of an identity body, else -1
	tooLarge  bool
	err       error
}

var errBodyTooLarge = errors.New("request body too large")

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.tooLarge {
		return 0, errBodyTooLarge
	}
	if b.remaining >= 0 && int64(len(p)) > b.remaining+1 {
		p = p[:b.remaining+1]
	}
	n, err := b.rc.Read(p)
	if b.remaining >= 0 {
		if int64(n) > b.remaining {
			b.tooLarge = true
			return int(b.remaining), errBodyTooLarge
		}
		b.remaining -= int64(n)
	}
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

func (b *bodyReader) Close() error { return b.rc.Close() }

// WriteTo passes the body's own WriteTo through (the lean front's: by
// splice(2) to a plain TCP backend) when the limit cannot be passed, a
// body of known length within it; else it copies with Read (into w's
// ReadFrom when it has one, as io.Copy would). An error of the body's, not
// of w's (a bodyWriter tells), is remembered as Read's.
func (b *bodyReader) WriteTo(w io.Writer) (int64, error) {
	wt, ok := b.rc.(io.WriterTo)
	if !ok || b.tooLarge || b.err != nil || b.remaining >= 0 && (b.length < 0 || b.length > b.remaining) {
		if rf, ok := w.(io.ReaderFrom); ok {
			return rf.ReadFrom(readerOnly{b})
		}
		buf := h1.GetBuffer()
		defer h1.PutBuffer(buf)
		return io.CopyBuffer(writerOnly{w}, readerOnly{b}, buf[:])
	}
	n, err := wt.WriteTo(w)
	if b.remaining >= 0 {
		b.remaining -= n
	}
	if bw, ok := w.(*bodyWriter); err != nil && b.err == nil && !(ok && bw.err != nil) {
		b.err = err
	}
	return n, err
}

// readerOnly hides a reader's WriteTo from io.Copy.
type readerOnly struct{ io.Reader }

// requestID returns the client's X-Request-Id when sane (1–128 characters
// of [A-Za-z0-9._-]), else a new one: a per-process random prefix and a counter.
func (p *Proxy) requestID(v string) string {
	if saneRequestID(v) {
		return v
	}
	var buf [40]byte
	b := append(buf[:0], p.idPrefix...)
	b = strconv.AppendUint(b, p.idSeq.Add(1), 36)
	return string(b)
}

func saneRequestID(v string) bool {
	if len(v) == 0 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// writeError answers with a small JSON error.
func writeError(w http.ResponseWriter, status int, msg string) { chain.WriteError(w, status, msg) }

// finish records the request in the metrics and the access log. The log
// has the canonical path only: never the query, which may hold a token.
func (p *Proxy) finish(ex *exchange, r *http.Request) {
	p.metrics.inflight.Add(-1)
	status := ex.status
	switch {
	case ex.clientGone && (!ex.wroteHeader || ex.clientFailed):
		// The client closed the request, or went away or stalled during
		// the answer (nginx's convention).
		status = 499
	case status == 0 && ex.aborted:
		status = http.StatusBadGateway
	case status == 0:
		status = http.StatusOK
	}
	d := time.Since(ex.start)
	topo, svc := "", ""
	if ex.routed {
		// Names and stats, not the service: an upgraded connection's
		// exchange must not keep its topology generation alive.
		topo, svc = ex.info.Topology, ex.info.Service
		if ex.stats != nil {
			ex.stats.observe(status, d, ex.aborted)
		}
	} else {
		p.metrics.unrouted(status, ex.refused)
	}
	ctx := ex.ctx.Context // the front's
	if !p.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	var a *accessFields
	if p.reuseAccess {
		a = accessPool.Get().(*accessFields)
	} else {
		a = new(accessFields)
	}
	*a = accessFields{
		slog.String("request_id", ex.id()),
		slog.String("method", r.Method),
		slog.String("path", logPath(ex.path, r)),
		slog.String("topology", topo),
		slog.String("service", svc),
		slog.String("principal", ex.principal),
		slog.Int("status", status),
		slog.Int64("bytes", ex.bytes),
		slog.Duration("duration", d),
		slog.String("remote", r.RemoteAddr),
		slog.Bool("aborted", ex.aborted),
	}
	p.log.LogAttrs(ctx, slog.LevelInfo, "access", slog.Attr{Value: slog.AnyValue(a)})
	if p.reuseAccess {
		*a = accessFields{} // slog's JSON or text handler wrote the line: nothing holds a
		accessPool.Put(a)
	}
}

// accessPool holds access log fields between lines: a request whose line
// is not logged (log level above info) costs none.
var accessPool = sync.Pool{New: func() any { return new(accessFields) }}

// doneWhenHandled reports whether h is slog's JSON or text handler, which
// writes a record before Handle returns and keeps nothing of it. Any
// other may keep the record (slog.Record.Clone) and resolve its values
// later: its access fields are not reused.
func doneWhenHandled(h slog.Handler) bool {
	switch h.(type) {
	case *slog.JSONHandler, *slog.TextHandler:
		return true
	}
	return false
}

// accessFields are the fields of an access log line (from accessPool):
// logged as one attribute whose value resolves to them, a group without a
// key, which handlers write inline. A record holds one attribute without
// allocating; eleven would need a slice per line.
type accessFields [11]slog.Attr

// LogValue implements slog.LogValuer.
func (a *accessFields) LogValue() slog.Value { return slog.GroupValue(a[:]...) }

// logPath is the canonical path, or for a refused path a bounded prefix of
// what was sent (the query is never logged).
func logPath(canon string, r *http.Request) string {
	if canon != "" {
		return canon
	}
	raw := r.URL.EscapedPath()
	if len(raw) > 256 {
		raw = raw[:256]
	}
	return raw
}
