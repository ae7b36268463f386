package proxy

import (
	"context"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/securegw/gateway/proxy/h1"
)

// The data path to an HTTP/1.1 backend, in place of httputil.ReverseProxy
// and http.Transport: forward builds the backend request (outbound),
// upstream.roundTrip sends it on a pooled connection (send) with failover,
// and respond streams the answer back. Extension points for the
// request path, in order:
//
//   - outbound: the backend request's headers after scrubbing
//     (service.rewrite, then the chain's RewriteOutbound);
//   - modifyResponse: the response's headers (Location and cookie
//     rewriting, the chain's response modifiers) and a response body
//     wrapper (a modifier may replace resp.Body; the copy then takes the
//     generic path).
//
// WebSocket upgrades leave before (serveWebSocket, websocket.go).

// forward serves in from the service's backends.
func (s *service) forward(ex *exchange, in *http.Request) { s.dispatch(ex, in, nil) }

// dispatch serves in from the service's backends, or from the sealed datanode
// target when sealed is not nil.
func (s *service) dispatch(ex *exchange, in *http.Request, sealed *url.URL) {
	ex.takeMsg()
	s.exchangeMsg(ex, in, sealed)
	ex.putMsg() // not when a handler panicked: the collector takes it then
}

func (s *service) exchangeMsg(ex *exchange, in *http.Request, sealed *url.URL) {
	out := s.outbound(ex, in)
	defer ex.outHeader.put()
	var resp *http.Response
	var err error
	if sealed == nil {
		resp, err = s.up.roundTrip(ex, out)
	} else {
		aimSealed(out, sealed)
		resp, err = s.dn.roundTrip(ex, out)
	}
	if err != nil {
		// A failed round trip waited for the body's writer, unless a
		// standby's answer came first (then the writer may still read).
		s.errorHandler(ex, in, err, !errors.Is(err, errStandbyOnly))
		return
	}
	removeHopByHop(resp.Header)
	if err := s.modifyResponse(resp); err != nil {
		// The backend answered, perhaps before it read the whole body:
		// its writer may still be reading the client's body, so what it
		// saw of it is not for errorHandler to read.
		ex.release(resp)
		s.errorHandler(ex, in, err, false)
		return
	}
	s.respond(ex, resp)
}

// outbound builds the backend request: a shallow copy of in (kept in the
// exchange) with its own URL and a copy of the headers without hop-by-hop
// fields, then the service's rewrite. It answers and returns nil for a
// request that cannot be forwarded.
func (s *service) outbound(ex *exchange, in *http.Request) *http.Request {
	out := &ex.msg.out
	*out = *in
	ex.msg.outURL = *in.URL
	out.URL = &ex.msg.outURL
	ex.outHeader = forwardHeader(in.Header)
	out.Header = ex.outHeader.h
	out.Close = false
	if in.ContentLength == 0 {
		out.Body = nil
	}
	if httpguts.HeaderValuesContainsToken(in.Header["Te"], "trailers") {
		out.Header["Te"] = teTrailers
	}
	s.rewrite(out, in)
	return out
}

var teTrailers = []string{"trailers"}

// hopByHop are the fields of one connection (RFC 9110 §7.6.1), never
// forwarded; Content-Length and Host are written by the client from the
// request itself; Forwarded and X-Forwarded-{For,Host,Proto} are the
// gateway's to set (rewrite).
func hopByHop(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// forwardHeader copies h without hop-by-hop fields (and those the client
// named in Connection), framing, and the forwarding fields the gateway
// sets, into a pooled map and slice of values (the strings shared).
func forwardHeader(h http.Header) *headerBuf {
	n := 0
	for _, vv := range h {
		n += len(vv)
	}
	hb := headerBufs.Get().(*headerBuf)
	if cap(hb.vals) < n {
		hb.vals = make([]string, n)
	}
	out, vals := hb.h, hb.vals[:n]
	for k, vv := range h {
		switch {
		case hopByHop(k), k == "Content-Length", k == "Host",
			k == "Forwarded", k == "X-Forwarded-For", k == "X-Forwarded-Host", k == "X-Forwarded-Proto":
			continue
		}
		m := copy(vals, vv)
		out[k] = vals[:m:m]
		vals = vals[m:]
	}
	// Then the fields Connection names go, each token once: matching every
	// field against every token would let one request of many fields and a
	// long Connection list cost a second of CPU.
	for _, v := range h["Connection"] {
		for tok := range strings.SplitSeq(v, ",") {
			dropNamed(out, strings.TrimSpace(tok))
		}
	}
	return hb
}

// dropNamed deletes from out the field a Connection token names, in any
// case (the keys are canonical; the usual tokens cost no allocation).
func dropNamed(out http.Header, tok string) {
	switch {
	case tok == "":
		return
	case strings.EqualFold(tok, "close"):
		tok = "Close"
	case strings.EqualFold(tok, "keep-alive"):
		tok = "Keep-Alive"
	}
	if _, ok := out[tok]; !ok {
		tok = http.CanonicalHeaderKey(tok)
	}
	delete(out, tok)
}

// headerBuf is a backend request's header map and the backing array of
// its values, reused from request to request: the map keeps its room, so
// that neither the copy nor the X-Forwarded-* fields set later allocate.
type headerBuf struct {
	h    http.Header
	vals []string
}

var headerBufs = sync.Pool{New: func() any { return &headerBuf{h: make(http.Header, 16), vals: make([]string, 16)} }}

// put gives hb back once its request is done (nothing holds the header
// then: the response copies values, not the map). One grown unusually
// large by a request is left to the collector.
func (hb *headerBuf) put() {
	if hb == nil || len(hb.h) > 64 || cap(hb.vals) > 256 {
		return
	}
	clear(hb.h)
	clear(hb.vals)
	headerBufs.Put(hb)
}

// scrubTrailer deletes the fields of a backend's trailer section (declared
// or received) that must not reach the client (trailerAllowed).
func scrubTrailer(t http.Header) {
	for k := range t {
		if !trailerAllowed(k) {
			delete(t, k)
		}
	}
}

// trailerAllowed reports whether a backend's trailer field may be sent on
// to the client: not one that belongs in the head (framing, routing,
// authentication, content format: httpguts.ValidTrailerHeader, RFC 9110
// §6.5.1), nor a hop-by-hop one, nor one the gateway rewrites in the head
// or sets itself (headOnlyField: a URL, cookie or CSP that may name a
// backend, X-Request-Id).
func trailerAllowed(k string) bool {
	return httpguts.ValidTrailerHeader(k) && !hopByHop(k) && !headOnlyField(k)
}

// removeHopByHop deletes a response's hop-by-hop fields and those named
// in its Connection.
func removeHopByHop(h http.Header) {
	for _, v := range h["Connection"] {
		for tok := range strings.SplitSeq(v, ",") {
			if tok = strings.TrimSpace(tok); tok != "" {
				delete(h, http.CanonicalHeaderKey(tok))
			}
		}
	}
	for k := range h {
		if hopByHop(k) {
			delete(h, k)
		}
	}
}

// cleanQuery drops the parts of a query that Go's URL parsing refuses
// (semicolons as separators, bad escapes), as httputil.ReverseProxy did: a
// backend must not read a parameter the gateway's providers did not see.
func cleanQuery(q string) string {
	var b strings.Builder
	for part := range strings.SplitSeq(q, "&") {
		if part == "" || strings.IndexByte(part, ';') >= 0 {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		if !validEscapes(k) || !validEscapes(v) {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(part)
	}
	return b.String()
}

func validEscapes(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return false
		}
		i += 2
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// errBackendClosed: a reused connection was closed by the backend before
// it answered (it timed out the idle connection meanwhile).
var errBackendClosed = errors.New("backend closed the connection before answering")

// send sends req on a connection of pool and reads the head of its answer
// (waiting for it at most tmo). A request that may be sent twice
// (replayable: no body, an idempotent method) is sent again on a fresh
// connection when a reused one turns out to have been closed by the
// backend: the backend may have closed it idle as the request came, or
// after it acted on the request; the gateway cannot tell which, so a POST
// or PATCH is not sent again (RFC 9110 §9.2.2).
func send(ex *exchange, pool *h1.Pool, tmo time.Duration, req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	for attempt := 0; ; attempt++ {
		c, err := pool.Get(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := exchangeOn(ex, c, tmo, req)
		if err == nil {
			return resp, nil
		}
		ex.unwatch()
		c.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if c.Reused && replayable(req) && attempt < 3 && staleConn(err) {
			continue
		}
		if c.Reused && staleConn(err) {
			err = errBackendClosed
		}
		return nil, err
	}
}

func staleConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// exchangeOn writes req on c and reads the answer's head; a request body
// is written by its own goroutine meanwhile (the backend may answer before
// reading it all). It leaves the exchange what respond needs to release c.
func exchangeOn(ex *exchange, c *h1.Conn, tmo time.Duration, req *http.Request) (*http.Response, error) {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	hasBody := req.Body != nil && req.Body != http.NoBody
	cl, chunked := req.ContentLength, false
	switch {
	case !hasBody:
		if req.Method != http.MethodPost && req.Method != http.MethodPut && req.Method != http.MethodPatch {
			cl = -1
		} else {
			cl = 0
		}
	case cl < 0 || len(req.Trailer) > 0:
		cl, chunked = -1, true
	}
	var trailers []string
	if chunked && len(req.Trailer) > 0 {
		trailers = make([]string, 0, len(req.Trailer))
		for k := range req.Trailer {
			trailers = append(trailers, k)
		}
	}
	if err := c.WriteRequestHead(req.Method, req.URL.EscapedPath(), req.URL.RawQuery, host, req.Header, cl, chunked, trailers); err != nil {
		return nil, err
	}
	if !hasBody {
		if err := c.FlushOnRead(); err != nil {
			return nil, err
		}
		return readHead(ex, c, req, tmo, false) // arms the watch when the answer is slow
	}
	if err := c.Flush(); err != nil {
		return nil, err
	}
	ex.watch(req.Context(), c)
	if httpguts.HeaderValuesContainsToken(req.Header["Expect"], "100-continue") {
		// Wait for the backend's go-ahead (or its refusal) before sending
		// the body; a backend that says nothing gets it after a second.
		_ = c.SetReadDeadline(time.Now().Add(expectContinueTimeout))
		err := c.Peek()
		switch {
		case err == nil:
			resp, err := readHead(ex, c, req, tmo, true)
			if err != nil || resp.StatusCode != http.StatusContinue {
				c.Discard() // the body was not sent: the connection cannot serve another request
				return resp, err
			}
		case !isTimeout(err) || req.Context().Err() != nil:
			return nil, err
		}
	}
	done := make(chan error, 1)
	splice, sent := ex.plainFront, &ex.bodySent
	sent.reset(req)
	from := ex.trailerIn
	ex.writer = true
	go func() { done <- writeBody(c, req, chunked, splice, sent, from) }()
	resp, err := readHead(ex, c, req, tmo, false)
	if err != nil {
		c.Close()
		<-done // ends: its connection is closed (errorHandler reads what it saw of the client's body)
		return nil, err
	}
	ex.bodyDone = done
	return resp, nil
}

// readHead reads the answer's head. Informational answers are passed to
// an HTTP/1.1 or HTTP/2 client, except 100 (the front server sends its own
// when the body is read), which stops the reading when stopAt100.
func readHead(ex *exchange, c *h1.Conn, req *http.Request, tmo time.Duration, stopAt100 bool) (*http.Response, error) {
	ctx := req.Context()
	now := time.Now()
	var end time.Time // zero: no limit
	if tmo > 0 {
		end = now.Add(tmo)
	}
	first := now.Add(headWait)
	if !end.IsZero() && !first.Before(end) {
		first = end
	}
	resp := &ex.msg.resp
	for informational := 0; ; {
		if err := ex.awaitHead(ctx, c, first, end); err != nil {
			return nil, err
		}
		if err := c.ReadResponse(resp, req.Method, ex.respVals[:]); err != nil {
			return nil, err
		}
		code := resp.StatusCode
		if code >= 200 || code == http.StatusSwitchingProtocols || code == http.StatusContinue && stopAt100 {
			break
		}
		if informational++; informational > maxInformational {
			// A backend answering with 1xx after 1xx keeps the request
			// (and the client, to whom early hints are relayed) busy
			// until the header timeout; net/http's Transport stops at 5.
			c.Discard()
			return nil, errTooManyInformational
		}
		if code != http.StatusContinue && req.ProtoAtLeast(1, 1) {
			// (Never to an HTTP/1.0 client, RFC 9110 §15.2: it would take
			// the 103 for the answer, and an HTTP/1.0 proxy keeping the
			// connection alive the real answer for the next request's.)
			removeHopByHop(resp.Header) // the backend connection's, as a final answer's
			h := ex.Header()
			// The final answer's fields set so far (the chain's security
			// headers, the Connection: close of a request framed by
			// Transfer-Encoding) go out with the 1xx as before, and are
			// put back for the final answer after it.
			kept := maps.Clone(h)
			for k, vv := range resp.Header {
				if headOnlyField(k) {
					// An informational answer's URLs, cookies and CSP are
					// not rewritten as the final answer's are
					// (rewriteResponseHeaders, rewriteBody): they would
					// name the backend. Left out: an early hint's links
					// are hints. The X-Request-Id is the gateway's.
					continue
				}
				h[k] = append(h[k], vv...)
			}
			ex.WriteHeader(code)
			clear(h)
			maps.Copy(h, kept)
		}
	}
	switch {
	case ex.stopWatch != nil:
		_ = c.SetReadDeadline(time.Time{})
	case !bodyHere(resp):
		// Reading the body may wait for the backend: without a deadline,
		// and no longer than the client.
		_ = c.SetReadDeadline(time.Time{})
		ex.watch(ctx, c)
	}
	// else: the whole answer is read; the deadline left on the connection
	// is moved before its next read (awaitHead, probe, 100-continue).
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	resp.Request = req
	ex.bconn = c
	return resp, nil
}

// maxInformational bounds the informational (1xx) answers a backend may
// send before its final answer to one request (net/http's Transport: 5).
const maxInformational = 5

// errTooManyInformational: the backend sent more than maxInformational
// 1xx answers to one request; the client gets 502.
var errTooManyInformational = errors.New("backend sent too many informational (1xx) answers")

// headWait is how long a request waits for its answer before it watches
// its client: an answer that comes sooner (most do, by far) costs no
// watch, and a client that leaves is noticed at most this late.
const headWait = 50 * time.Millisecond

// awaitHead waits until a whole response head is buffered on c or its
// first bytes came, within end (zero: no limit). Unless the watch is armed
// already, it waits until first (headWait after the request, at most end);
// an answer that takes longer arms it.
func (ex *exchange) awaitHead(ctx context.Context, c *h1.Conn, first, end time.Time) error {
	if ex.stopWatch != nil {
		return c.SetReadDeadline(end)
	}
	_ = c.SetReadDeadline(first)
	err := c.Peek()
	switch {
	case err == nil && c.HeadBuffered():
		return nil
	case err != nil && (!isTimeout(err) || first.Equal(end)):
		return err
	}
	// A slow answer (or a head in pieces): the deadline first, then the
	// watch, which moves it to the past when the client goes away.
	_ = c.SetReadDeadline(end)
	ex.watch(ctx, c)
	return nil
}

// bodyHere reports whether resp's body is all in its connection's buffer
// (or there is none): reading it cannot wait for the backend.
func bodyHere(resp *http.Response) bool {
	sb, ok := resp.Body.(streamBody)
	if !ok {
		return resp.Body == http.NoBody
	}
	return sb.Done() || resp.ContentLength >= 0 && int64(sb.Buffered()) >= resp.ContentLength
}

// watch makes a canceled request (the client went away) interrupt the
// backend connection's reads.
func (ex *exchange) watch(ctx context.Context, c *h1.Conn) {
	ex.stopWatch = context.AfterFunc(ctx, c.Interrupt())
}

// unwatch ends the watch; false when it fired (the connection's deadline
// was moved: it must not serve another request).
func (ex *exchange) unwatch() bool {
	if ex.stopWatch == nil {
		return true
	}
	stopped := ex.stopWatch()
	ex.stopWatch = nil
	return stopped
}

// discard drops an answer the client will not see (the request goes to
// another backend, or again later): it reads up to 64 KiB of its body, so
// that a short one leaves the connection reusable, then releases it.
func (ex *exchange) discard(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	ex.release(resp)
}

// release ends the use of the backend connection of resp, which goes back
// to its pool only when its answer was read to the end, its request body
// was sent whole, and the watch did not touch it.
func (ex *exchange) release(resp *http.Response) {
	if !ex.unwatch() {
		ex.bconn.Discard()
	}
	if done := ex.bodyDone; done != nil {
		ex.bodyDone = nil
		select {
		case werr := <-done:
			if werr != nil {
				ex.bconn.Discard()
			}
		default:
			// The writer has not reported: the backend answered before it
			// had the whole body, or on its last byte, before the writer
			// returned.
			if !ex.bodySent.whole.Load() {
				if ex.h2Client && isRedirect(resp.StatusCode) {
					// The client will send the body again where the
					// redirect points (WebHDFS's CREATE, curl -L -T), and
					// HTTP/2 clients that get the stream reset while they
					// still send fail the whole request instead of
					// following (curl before 8): once the writer is gone,
					// the rest of the body is read and dropped.
					ex.bconn.Discard()
					resp.Body.Close() // closes the connection: the writer's write fails
					ex.drainBody = awaitWriterGone(done)
					return
				}
				go releaseAfterWriter(ex.bconn, resp.Body, done, ex.bodySent.req)
				return
			}
			if !awaitWriter(done, ex.bodySent.req) {
				ex.bconn.Discard()
			}
		}
	}
	resp.Body.Close()
}

// writerReturn bounds the wait for a request body's writer that has not
// reported when the answer ended (a time.Duration: 250 ms; tests set it).
// One that wrote the whole body has only its return left (for a copied
// body of known length, perhaps the body's read of its end), which takes
// far less.
var writerReturn atomic.Int64

func init() { writerReturn.Store(int64(250 * time.Millisecond)) }

// awaitWriter waits for a writer that wrote the whole body (at most
// writerReturn) and reports whether it succeeded: its connection then
// goes back to the pool before the answer's end, ready for the next
// request (a backend that answers on the last byte may answer before the
// writer returned).
func awaitWriter(done <-chan error, req *http.Request) bool {
	testEvent(eventAwaitWriter, req)
	t := time.NewTimer(time.Duration(writerReturn.Load()))
	defer t.Stop()
	select {
	case err := <-done:
		return err == nil
	case <-t.C:
		return false
	}
}

// awaitWriterGone waits (at most writerReturn) for a request body's
// writer whose connection was closed to return, and reports whether it
// did: the body is then no one else's to read.
func awaitWriterGone(done <-chan error) bool {
	t := time.NewTimer(time.Duration(writerReturn.Load()))
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// isRedirect reports whether status sends the client elsewhere.
func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// The bounds of a redirected request's drain: each wait for the client's
// body (drainStall: a client still sending sends more within it; one that
// stopped at the answer without ending its side, as Go's client does on
// an answer >= 300, gets the stream's end this late), and in all, whatever
// the service's max_body_bytes (unlimited by default), drainMaxBytes read
// and drainMaxTime: past either the stream is reset, as for any other
// early answer. The client sends the body again where the redirect points;
// a larger or slower body is not worth reading twice (--http1.1 spares the
// first copy).
const (
	drainStall    = 2 * time.Second
	drainMaxBytes = 1 << 30
	drainMaxTime  = 5 * time.Minute
)

// drainBound is a total bound of the drain; drainBounds, when set (by
// tests), replaces drainMaxBytes and drainMaxTime.
type drainBound struct {
	bytes int64
	time  time.Duration
}

var drainBounds atomic.Pointer[drainBound]

// drainRedirected sends the answer (a redirect) at once, then reads and
// drops the rest of the request body: through the body's limits
// (max_body_bytes: past it the stream is reset as before), each read
// bounded by drainStall, at most drainMaxBytes in drainMaxTime. The flush
// lets a client that streams a large body learn the redirect while it
// sends (curl then stops sending and ends its side), instead of after its
// last byte.
func (ex *exchange) drainRedirected() {
	bound := drainBound{drainMaxBytes, drainMaxTime}
	if b := drainBounds.Load(); b != nil {
		bound = *b
	}
	rc := http.NewResponseController(ex.w)
	if rc.Flush() != nil {
		return
	}
	buf := h1.GetBuffer()
	defer h1.PutBuffer(buf)
	end := time.Now().Add(bound.time)
	for drained := int64(0); drained <= bound.bytes; {
		deadline := time.Now().Add(drainStall)
		if deadline.After(end) {
			deadline = end
		}
		_ = rc.SetReadDeadline(deadline)
		n, err := ex.body.Read(buf[:])
		if err != nil {
			return
		}
		drained += int64(n)
	}
}

// releaseAfterWriter releases a connection whose answer ended before its
// request body's writer wrote the whole body, or before it said so (it
// may have been descheduled right after its last write): once the writer
// reports success, within writerReturn, the connection goes back to the
// pool; else it is closed, which ends a writer stuck in a write the
// backend will not read (the backend answered early). The answer's end
// does not wait for it.
func releaseAfterWriter(c *h1.Conn, body io.Closer, done <-chan error, req *http.Request) {
	t := time.NewTimer(time.Duration(writerReturn.Load()))
	select {
	case err := <-done:
		if err != nil {
			c.Discard()
		}
	case <-t.C:
		c.Discard()
	}
	t.Stop()
	body.Close() // to the pool, or closed
	testEvent(eventReleasedLate, req)
}

// bodySent tells the answer's end that the request body's writer wrote
// the whole body: every byte of a known length, or the last chunk.
type bodySent struct {
	whole atomic.Bool
	req   *http.Request // the backend request, for the test hook
}

func (s *bodySent) reset(req *http.Request) {
	s.whole.Store(false)
	s.req = req
}

// mark is called by the writer right after its last write.
func (s *bodySent) mark() {
	testEvent(eventBodyWritten, s.req)
	s.whole.Store(true)
	testEvent(eventBodySent, s.req)
}

// Events of the request body's writer and of the release of its
// connection, for the test hook (export_test.go).
const (
	eventBodyWritten  = "body-written"  // the writer wrote the whole body, not marked yet
	eventBodySent     = "body-sent"     // ... and marked it
	eventAwaitWriter  = "await-writer"  // the answer's end waits for such a writer
	eventReleasedLate = "released-late" // a connection left to its writer was released
)

var testHook atomic.Pointer[func(event string, req *http.Request)]

func testEvent(event string, req *http.Request) {
	if hook := testHook.Load(); hook != nil {
		(*hook)(event, req)
	}
}

// writeBody sends the request body (chunked: then its trailers, the
// fields req.Trailer names with their values in from, the client's), marking
// it sent (marks) once the backend has all of it. It closes the connection
// on failure, which ends the wait for the answer. Behind a plain HTTP/1
// front (splice), a large body of known length to a plain TCP backend goes
// through the body's WriteTo (spliceBody).
func writeBody(c *h1.Conn, req *http.Request, chunked, splice bool, marks *bodySent, from http.Header) error {
	if wt, ok := req.Body.(io.WriterTo); ok && splice && !chunked && c.PlainTCP() && req.ContentLength >= h1.SpliceMin {
		return spliceBody(c, wt, req.ContentLength, marks)
	}
	var buf []byte
	if req.ContentLength < 0 || req.ContentLength >= h1.LargeBufferSize {
		// A large body moves in large reads and writes: half the system
		// calls of 32 KiB ones at the same memory per upload in flight.
		b := h1.GetLargeBuffer()
		defer h1.PutLargeBuffer(b)
		buf = b[:]
	} else {
		b := h1.GetBuffer()
		defer h1.PutBuffer(b)
		buf = b[:]
	}
	var sent int64
	err := func() error {
		for {
			n, rerr := req.Body.Read(buf)
			if n > 0 {
				var werr error
				if chunked {
					werr = c.WriteChunk(buf[:n])
				} else {
					_, werr = c.Write(buf[:n])
				}
				if werr == nil {
					werr = c.Flush()
				}
				if werr != nil {
					return werr
				}
				sent += int64(n)
				if sent == req.ContentLength && !chunked {
					marks.mark()
				}
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				return rerr
			}
		}
		if chunked {
			for k := range req.Trailer {
				// The values the client's trailer section brought, of the
				// fields the backend may get (clientTrailer).
				req.Trailer[k] = from[k]
			}
			err := c.WriteLastChunk(req.Trailer)
			if err == nil {
				marks.mark()
			}
			return err
		}
		if sent != req.ContentLength {
			return io.ErrUnexpectedEOF
		}
		return c.Flush()
	}()
	if err != nil {
		c.NetConn().Close()
	}
	return err
}

// spliceBody sends a body of known length to a plain TCP backend through
// the body's WriteTo: the lean front's moves it from a plain TCP client
// connection by splice(2), never through the gateway's memory.
func spliceBody(c *h1.Conn, wt io.WriterTo, length int64, marks *bodySent) error {
	bw := bodyWriter{c: c, left: length, marks: marks}
	n, err := wt.WriteTo(&bw)
	if err == nil && n != length {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		c.NetConn().Close()
	}
	return err
}

// bodyWriter is the backend connection as the writer of a request body
// of known length (io.ReaderFrom: h1.Conn.ReadFrom splices); it keeps the
// backend's own failure apart from the body's (bodyReader.WriteTo), and
// marks the body sent once the backend has all of it.
type bodyWriter struct {
	c     *h1.Conn
	left  int64 // bytes of the body not written yet
	marks *bodySent
	err   error // the backend's
}

func (w *bodyWriter) Write(p []byte) (int, error) {
	n, err := w.c.Write(p)
	if err == nil {
		err = w.c.Flush()
	}
	if err != nil {
		w.err = err
	} else {
		w.wrote(int64(n))
	}
	return n, err
}

func (w *bodyWriter) ReadFrom(r io.Reader) (int64, error) {
	n, err := w.c.ReadFrom(r)
	var se *h1.SourceError
	if err != nil && !errors.As(err, &se) {
		w.err = err
	}
	if err == nil {
		w.wrote(n)
	}
	return n, err
}

func (w *bodyWriter) wrote(n int64) {
	if w.left -= n; w.left == 0 {
		w.marks.mark()
	}
}

// respond writes the answer's head and streams its body to the client.
func (s *service) respond(ex *exchange, resp *http.Response) {
	h := ex.Header()
	for k, vv := range resp.Header {
		if prior, ok := h[k]; ok {
			h[k] = append(prior, vv...)
		} else {
			h[k] = vv
		}
	}
	scrubTrailer(resp.Trailer) // the declared names
	declared := make([]string, 0, len(resp.Trailer))
	for k := range resp.Trailer {
		declared = append(declared, k)
	}
	if len(declared) > 0 {
		h.Add("Trailer", strings.Join(declared, ", "))
	}
	ex.WriteHeader(resp.StatusCode)
	err := ex.copyBody(resp)
	ex.release(resp)
	if err != nil {
		// The client's failure (it went away, or stalled) is not the
		// backend's: the access log says 499, no backend error counts it.
		ex.clientGone = ex.clientFailed
		panic(http.ErrAbortHandler) // the server aborts the client's connection
	}
	scrubTrailer(resp.Trailer) // the fields received, and the declared names
	if len(resp.Trailer) == 0 {
		return
	}
	setTrailer(ex, h, declared, resp.Trailer)
}

// setTrailer hands the backend's trailer section to the front server, as
// the backend sent it: its fields, declared or not (each under
// http.TrailerPrefix, which both fronts send; RFC 9110 §6.6.2 makes
// Trailer a SHOULD of the sender, no filter for the recipient), and no
// other. The head goes out first, with the head's values of the fields the
// trailer declares too (the lean front writes its head lazily, from h:
// the flush also forces chunking, so that the trailers can follow); then
// the declared names' head values leave h, where both fronts would send
// them again as trailers.
func setTrailer(ex *exchange, h http.Header, declared []string, trailer http.Header) {
	_ = ex.FlushError()
	for _, k := range declared {
		delete(h, k)
	}
	for k, vv := range trailer {
		if len(vv) > 0 { // a declared name that did not come is nil
			h[http.TrailerPrefix+k] = vv
		}
	}
}

// streamBody is a response body of the h1 client.
type streamBody interface {
	io.Reader
	io.WriterTo
	Buffered() int
	Done() bool
}

// copyBody streams the response body. The client's buffer is flushed
// only before a read that would wait for the backend: bytes that are here
// go out together, and none wait while the backend is silent (SSE, long
// polls). A large Content-Length body between plain TCP connections is
// moved by splice(2); behind a TLS or HTTP/2 front, and once a chunked
// body shows itself a bulk one, it is read from the backend while the
// piece before is written (pipeBody).
func (ex *exchange) copyBody(resp *http.Response) error {
	sb, ok := resp.Body.(streamBody)
	if !ok {
		return ex.copyForeign(resp)
	}
	if resp.ContentLength >= h1.SpliceMin {
		if ex.plainFront {
			_, err := sb.WriteTo(ex)
			return err
		}
		return ex.pipeBody(sb)
	}
	buf := h1.GetBuffer()
	defer h1.PutBuffer(buf)
	pending := true // the head
	var copied int64
	for !sb.Done() {
		if pending && sb.Buffered() == 0 {
			if err := ex.FlushError(); err != nil {
				return err
			}
			pending = false
		}
		n, err := sb.Read(buf[:])
		if n > 0 {
			if _, werr := ex.Write(buf[:n]); werr != nil {
				return werr
			}
			pending = true
			copied += int64(n)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if n == len(buf) && copied >= pipeAfter && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			// A bulk body of unknown length (chunked): the rest goes as
			// one of known length would behind a TLS front.
			return ex.pipeBody(sb)
		}
	}
	return nil
}

// pipeAfter is how much of a body of unknown length is copied in full
// reads before the rest is piped (h1.Pipe): an event stream or a long poll
// does not hold the pipe's buffers.
const pipeAfter = 1 << 20

// pipeBody copies the rest of the body with h1.Pipe: the next piece is
// read from the backend while this one is written (encrypted, for a TLS
// front).
func (ex *exchange) pipeBody(sb streamBody) error {
	nc := ex.bconn.NetConn()
	_, err := h1.Pipe(sb, func(p []byte, more bool) error {
		if _, err := ex.Write(p); err != nil {
			return err
		}
		if !more {
			return ex.FlushError()
		}
		return nil
	}, func() { _ = nc.SetReadDeadline(time.Unix(1, 0)) })
	if err != nil {
		ex.bconn.Discard() // its read deadline may have been moved
	}
	return err
}

// copyForeign copies a body a response modifier replaced: flushed after
// every write when the response streams (no length, or an event stream).
func (ex *exchange) copyForeign(resp *http.Response) error {
	flush := resp.ContentLength < 0 || strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream")
	buf := h1.GetBuffer()
	defer h1.PutBuffer(buf)
	for {
		n, err := resp.Body.Read(buf[:])
		if n > 0 {
			if _, werr := ex.Write(buf[:n]); werr != nil {
				return werr
			}
			if flush {
				if werr := ex.FlushError(); werr != nil {
					return werr
				}
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
