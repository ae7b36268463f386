package frontend

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/securegw/gateway/proxy/internal/deadline"
	"github.com/securegw/gateway/proxy/internal/splice"
)

// Lean is the gateway's lean HTTP/1.1 server (see the package doc): one
// goroutine per connection, pooled buffers, net/http's http.ReadRequest
// for the parsing (simpleRequest for the plain heads it reads the same),
// and no per-request background read. Connections whose
// TLS handshake chose HTTP/2 go to h2.
type Lean struct {
	handler   http.Handler
	ctxServe  ContextHandler // handler's, when it sets the request's context itself
	opts      ServerOptions
	log       *slog.Logger
	connState func(net.Conn, http.ConnState)
	tlsConfig *tls.Config
	h2        func(*tls.Conn) // serves a handshaken HTTP/2 connection

	mu        sync.Mutex
	listeners map[*net.Listener]struct{}
	conns     map[*leanConn]struct{}
	shutdown  atomic.Bool
	wg        sync.WaitGroup
}

// newLean returns a Lean serving h with o's limits (o has its defaults).
func newLean(h http.Handler, o ServerOptions, connState func(net.Conn, http.ConnState)) *Lean {
	ch, _ := h.(ContextHandler)
	return &Lean{handler: h, ctxServe: ch, opts: o, log: o.Logger, connState: connState,
		listeners: map[*net.Listener]struct{}{}, conns: map[*leanConn]struct{}{}}
}

// ContextHandler is a handler that puts a request's context on it itself:
// the lean front hands it the request without one (its Context is
// Background) and the context to serve it under, and the handler serves a
// shallow copy carrying ctx (or a context derived from it) wherever the
// context matters. net/http's WithContext then copies the request once,
// where the front's copy and the handler's would be two (a 320-byte
// allocation per request). r is the connection's: nothing may keep it, nor
// its Header map or its URL (which every shallow copy of r shares), past
// the handler's return, when the connection reads its next request into
// them (a map or URL the handler put on r in their place is left alone).
type ContextHandler interface {
	http.Handler
	ServeHTTPContext(ctx context.Context, w http.ResponseWriter, r *http.Request)
}

// ContextHandlerFunc is a function as a ContextHandler; served as a plain
// http.Handler (by net/http's front), it serves r under r's own context.
type ContextHandlerFunc func(ctx context.Context, w http.ResponseWriter, r *http.Request)

// ServeHTTP calls f(r.Context(), w, r).
func (f ContextHandlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) { f(r.Context(), w, r) }

// ServeHTTPContext calls f(ctx, w, r).
func (f ContextHandlerFunc) ServeHTTPContext(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	f(ctx, w, r)
}

// Serve accepts connections on ln until Shutdown or Close; it returns
// http.ErrServerClosed then. It closes ln when it returns, as net/http's
// Serve does (also when called after Close: no client waits on a listener
// nobody accepts on).
func (s *Lean) Serve(ln net.Listener) error {
	defer ln.Close()
	s.mu.Lock()
	if s.shutdown.Load() {
		s.mu.Unlock()
		return http.ErrServerClosed
	}
	s.listeners[&ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, &ln)
		s.mu.Unlock()
	}()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.shutdown.Load() {
				return http.ErrServerClosed
			}
			if isTemporary(err) {
				// Out of descriptors, or a like failure: back off as
				// net/http's server does, instead of spinning.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				if s.log != nil {
					s.log.Warn("frontend: accept failed", "listener", s.opts.Name, "retry_in", delay, "err", err)
				}
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		s.serveConn(nc)
	}
}

func isTemporary(err error) bool {
	var te interface{ Temporary() bool }
	return errors.As(err, &te) && te.Temporary()
}

func (s *Lean) serveConn(nc net.Conn) {
	c := &leanConn{s: s, nc: nc, accepted: nc}
	c.cr.c = c
	s.mu.Lock()
	if s.shutdown.Load() {
		s.mu.Unlock()
		nc.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	c.setState(http.StateNew)
	go c.serve()
}

// untrack removes c from the connections Shutdown waits for.
func (s *Lean) untrack(c *leanConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// Shutdown stops accepting, closes idle connections, and waits for the
// others to finish their request; when ctx ends first it closes them and
// returns ctx's error. Hijacked connections are not waited for.
func (s *Lean) Shutdown(ctx context.Context) error {
	s.closeListeners()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.closeIdle() {
			s.wg.Wait()
			return nil
		}
		select {
		case <-ctx.Done():
			s.Close()
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Close closes the listeners and every connection at once.
func (s *Lean) Close() error {
	s.closeListeners()
	s.mu.Lock()
	for c := range s.conns {
		// Not c.nc, which a handshake may be replacing: closing the
		// accepted connection ends a TLS one above it as well.
		c.accepted.Close()
	}
	s.mu.Unlock()
	return nil
}

func (s *Lean) closeListeners() {
	s.mu.Lock()
	s.shutdown.Store(true)
	for ln := range s.listeners {
		(*ln).Close()
	}
	s.mu.Unlock()
}

// closeIdle closes the idle connections and reports whether none is left.
func (s *Lean) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.idle.Load() {
			c.nc.Close()
		}
	}
	return len(s.conns) == 0
}

// Buffers: a connection takes them for its life (a keep-alive connection
// reuses them request after request) and returns them when it closes.
var (
	readerPool sync.Pool
	writerPool sync.Pool
)

const bufSize = 4 << 10

// largeReaders counts the connections holding a large head's reader;
// heldBuffers the pooled readers and writers connections hold.
var largeReaders, heldBuffers atomic.Int64

func getReader(r io.Reader) *bufio.Reader {
	heldBuffers.Add(1)
	if v := readerPool.Get(); v != nil {
		br := v.(*bufio.Reader)
		br.Reset(r)
		return br
	}
	return bufio.NewReaderSize(r, bufSize)
}

// outBuf is a connection's buffers for its answers: the writer, and room
// for a small body held until its length is known (response.pending).
type outBuf struct {
	bw   *bufio.Writer
	pend [pendingSize]byte
}

func getWriter(w io.Writer) *outBuf {
	heldBuffers.Add(1)
	if v := writerPool.Get(); v != nil {
		ob := v.(*outBuf)
		ob.bw.Reset(w)
		return ob
	}
	return &outBuf{bw: bufio.NewWriterSize(w, bufSize)}
}

// leanConn is one client connection.
type leanConn struct {
	s *Lean
	// accepted is the connection as accepted, for Close: nc becomes the
	// TLS connection on the connection's goroutine after the handshake.
	accepted net.Conn
	nc       net.Conn
	tcp      *net.TCPConn // nc when plain TCP: bodies go by sendfile/splice
	tls      *tls.ConnectionState
	cr       connReader
	br       *bufio.Reader
	ob       *outBuf       // from writerPool while the connection has one
	bw       *bufio.Writer // ob.bw
	res      response      // reused request after request
	big      bool          // br is a large head's reader, not a pooled one
	// unreadBody: the connection closes after an answer while the client
	// may still send a body nobody read, or the rest of a head over the
	// limit (closeLingering).
	unreadBody bool
	// lentReader: a body reader that outlived its handler may still be in
	// br (reqBody.finish): br does not go back to the pool. straggler is
	// closed once that reader let go of the body (closeLingering waits).
	lentReader bool
	straggler  chan struct{}
	// afterPost: the last request was a POST (empty lines may follow it)
	afterPost bool
	idle      atomic.Bool
	remote    string
	state     http.ConnState
	// bodyDeadline is the read deadline while a handler runs (zero: none);
	// deadlineStale means the connection still has the idle or header one,
	// to be replaced before the handler's first read of the connection.
	bodyDeadline  time.Time
	deadlineStale bool
	// The stall bound (ServerOptions.StallTimeout, 0 after a hijack): a
	// read of the request body (bodyReads: the head was read) or a write to
	// the client moves the connection's deadline to stall from now (no
	// later than bodyDeadline or writeEnd). rdSet and wdSet are when the
	// read and write deadlines were last moved so (zero: the connection
	// does not have such a read deadline); they move again only once
	// stall/16 passed, which keeps a keep-alive connection's small
	// requests from moving them each time.
	stall     time.Duration
	bodyReads bool
	rdSet     time.Time
	wdSet     time.Time
	writeEnd  time.Time // WriteTimeout's deadline for the request (zero: none)
	// writeFailed: a write to the client failed (it stalled or left).
	writeFailed bool
	// sock is the TCP connection (under TLS too); acked what its peer
	// acknowledged when the write deadline last moved before a large
	// write: a write that timed out while the client took bytes goes on.
	sock  *net.TCPConn
	acked splice.Progress
	// next is the request simpleRequest reads into; serveRequest's copy
	// (WithContext) is the handler's, and next is cleared. A
	// ContextHandler, which keeps nothing of a request past its return, is
	// handed next itself, and the next simple request is read into it, its
	// header map reused (a plain handler may keep its request's header, as
	// net/http lets it: it gets a new map each time); next is cleared when
	// the connection goes idle (awaitRequest) or reads a head that is not
	// simple. hdr and url are the header map and URL a ContextHandler's
	// simple requests are read into: the connection's own, whatever a
	// handler left in next (nil for a plain handler: its request's are its
	// own).
	next http.Request
	hdr  http.Header
	url  *url.URL
	// deferred: the last answer is in bw, for the wait for the next
	// request to send (deferred.go); raw and step are made once for it,
	// rp, rn and rerr are sendRead's state. tlsSend: under TLS, the
	// connection's goroutine is in the read crypto/tls makes of the TCP
	// connection for that wait (tlsRead), where tlsSock sends it.
	deferred bool
	// atOnce: how many more answers go out at once, not deferred (a
	// deferred wait ran to its deadline: answersAtOnce).
	atOnce  uint8
	tlsSend bool
	raw     syscall.RawConn
	step    func(fd uintptr) bool
	rp      []byte
	rn      int
	rerr    error
}

func (c *leanConn) setState(st http.ConnState) {
	c.state = st
	if c.s.connState != nil {
		c.s.connState(c.nc, st)
	}
}

func (c *leanConn) serve() {
	defer func() {
		v := recover()
		if v != nil && v != http.ErrAbortHandler && c.s.log != nil {
			buf := make([]byte, 16<<10)
			buf = buf[:runtime.Stack(buf, false)]
			c.s.log.Error("frontend: panic serving a request", "remote", c.remote, "panic", fmt.Sprint(v), "stack", string(buf))
		}
		if c.state == http.StateHijacked {
			return
		}
		if b := c.res.body; v != nil && b != nil {
			// A handler that panicked did not finish its body: a reader
			// that outlives it (the proxy's upload writer, after an
			// http.ErrAbortHandler) must not read the connection's reader
			// once it is back in the pool. The connection closes at once.
			b.abandon()
		}
		_ = c.flushDeferred()
		if c.unreadBody {
			c.closeLingering()
		}
		if tc, ok := c.nc.(*tls.Conn); ok && c.writeFailed {
			// A client that does not take the answer would not take TLS's
			// close_notify either: crypto/tls would wait 5s to send it.
			tc.NetConn().Close()
		}
		c.nc.Close()
		c.release()
		c.s.untrack(c)
		c.setState(http.StateClosed)
	}()
	c.remote = c.nc.RemoteAddr().String()
	c.tcp, _ = c.nc.(*net.TCPConn)
	c.sock = c.tcp
	c.stall = c.s.opts.StallTimeout
	if c.s.tlsConfig != nil && !c.handshake() {
		return
	}
	for c.serveOne() {
	}
}

// closeLingering half-closes a connection whose client may still be
// sending a body nobody read, and discards what it sends while it sends:
// closing at once would make the kernel answer those bytes with a reset,
// which can destroy the answer before the client read it. It stops when
// the client closes, after rstAvoidance without a byte from it, at a
// shutdown, or after maxLinger in all (nginx's lingering_timeout and
// lingering_time; net/http's server waits 500 ms in all,
// closeWriteAndWait, and cuts a client still sending then). Past
// maxLingerDiscard discarded, it also stops once the client acknowledged
// the whole answer.
//
// A body reader that outlived its handler (straggler) may still read the
// connection: the discarding begins when its last read ended (the
// client's bytes, its close after the half-close, a deadline), waited for
// on the same terms (the bytes the kernel received count, whoever reads
// them), or the connection closes without it. Reading beside it would
// take bytes from the body it sends on.
func (c *leanConn) closeLingering() {
	if c.tcp == nil {
		return
	}
	_ = c.tcp.CloseWrite()
	giveUp := time.Now().Add(time.Duration(maxLinger.Load()))
	if ch := c.straggler; ch != nil {
		c.straggler = nil
		if !c.awaitStraggler(ch, giveUp) {
			return
		}
	}
	buf := copyBufs.Get().(*[32 << 10]byte)
	defer copyBufs.Put(buf)
	discarded := 0
	for !c.s.shutdown.Load() {
		d := time.Now().Add(rstAvoidance)
		if d.After(giveUp) {
			d = giveUp
		}
		_ = c.tcp.SetReadDeadline(d)
		n, err := c.tcp.Read(buf[:])
		discarded += n
		if err != nil || discarded >= maxLingerDiscard && splice.Delivered(c.tcp) {
			return
		}
	}
}

// awaitStraggler waits for the straggler to let go of the connection (ch
// closed) while bytes move on it, within giveUp: the client's (the bytes
// the kernel received) or the straggler's (the bytes waiting to be read);
// it reports whether the straggler let go.
func (c *leanConn) awaitStraggler(ch <-chan struct{}, giveUp time.Time) bool {
	got, unread, counted := splice.Received(c.tcp)
	t := time.NewTimer(rstAvoidance)
	defer t.Stop()
	for {
		select {
		case <-ch:
			return true
		case <-t.C:
		}
		g, u, ok := splice.Received(c.tcp)
		wait := time.Until(giveUp)
		if !counted || !ok || g == got && u == unread || wait <= 0 || c.s.shutdown.Load() {
			return false
		}
		got, unread = g, u
		t.Reset(min(rstAvoidance, wait))
	}
}

// rstAvoidance and maxLingerDiscard bound closeLingering: the client's
// longest quiet, and what is discarded before it checks whether the answer
// was delivered.
const (
	rstAvoidance     = 500 * time.Millisecond
	maxLingerDiscard = 4 << 20
)

// maxLinger is the longest closeLingering lingers (a time.Duration).
var maxLinger atomic.Int64

func init() { maxLinger.Store(int64(5 * time.Second)) }

// release returns the buffers to their pools (but a reader lent to a
// body reader that outlived its handler, left to the collector).
func (c *leanConn) release() {
	if c.br != nil && !c.big {
		if !c.lentReader {
			if hook := testHookReaderPut.Load(); hook != nil {
				(*hook)(c.br)
			}
			c.br.Reset(nil)
			readerPool.Put(c.br)
		}
		heldBuffers.Add(-1)
	}
	if c.big {
		c.big = false
		largeReaders.Add(-1)
	}
	c.br = nil
	if c.ob != nil {
		c.ob.bw.Reset(nil)
		writerPool.Put(c.ob)
		heldBuffers.Add(-1)
		c.ob, c.bw = nil, nil
	}
}

// handOver counts c's buffers out of the server's: a hijacker keeps them.
func (c *leanConn) handOver() {
	if c.big {
		largeReaders.Add(-1)
	} else if c.br != nil {
		heldBuffers.Add(-1)
	}
	if c.ob != nil {
		heldBuffers.Add(-1)
	}
}

// handshake runs the TLS handshake within the header timeout; a
// connection that chose HTTP/2 is handed to the HTTP/2 server.
func (c *leanConn) handshake() bool {
	raw := c.nc
	if c.sock != nil {
		raw = tlsSock{c.sock, c} // writeSock, and the read that sends a deferred answer
	}
	tc := tls.Server(raw, c.s.tlsConfig)
	o := &c.s.opts
	d := o.ReadHeaderTimeout
	if o.ReadTimeout > 0 && o.ReadTimeout < d {
		d = o.ReadTimeout
	}
	_ = tc.SetDeadline(time.Now().Add(d))
	if err := tc.HandshakeContext(context.Background()); err != nil {
		if c.s.log != nil {
			c.s.log.Debug("frontend: TLS handshake failed", "listener", o.Name, "remote", c.remote, "err", err)
		}
		return false
	}
	_ = tc.SetDeadline(time.Time{})
	st := tc.ConnectionState()
	if st.NegotiatedProtocol == "h2" && c.s.h2 != nil {
		c.stall = 0                    // the HTTP/2 server bounds its writes itself
		c.setState(http.StateHijacked) // the HTTP/2 server counts it from here
		c.s.untrack(c)
		c.s.h2(tc)
		return false
	}
	c.nc, c.tcp, c.tls = tc, nil, &st
	return true
}

// serveOne reads and serves one request; it reports whether the
// connection may serve another.
func (c *leanConn) serveOne() bool {
	o := &c.s.opts
	c.skipEmptyLines(false) // before the wait: one that came with the body is no request
	if c.big && c.br.Buffered() == 0 {
		// The large head was served: an idle connection keeps no more
		// than a pooled buffer.
		c.release()
	}
	if c.br == nil {
		c.br = getReader(&c.cr)
	}
	c.cr.limit = int64(o.MaxHeaderBytes) + 4096
	c.deadlineStale = false // from here on, serveOne sets the deadlines
	c.bodyReads, c.rdSet = false, time.Time{}
	// Wait for the request: the first within the header timeout, later
	// ones within the idle timeout. Unless all of the head is here, the
	// rest of it must come within the header timeout.
	if c.br.Buffered() == 0 {
		wait := o.IdleTimeout
		if c.state == http.StateNew {
			wait = o.ReadHeaderTimeout
		}
		c.idle.Store(!c.deferred) // else once the answer is sent (sendStep)
		err := c.awaitRequest(wait)
		c.idle.Store(false)
		if err != nil || c.s.shutdown.Load() {
			return false
		}
	}
	c.skipEmptyLines(true)
	start := time.Now()
	c.bodyDeadline = time.Time{}
	if o.ReadTimeout > 0 {
		c.bodyDeadline = start.Add(o.ReadTimeout)
	}
	head, err := c.peekHead(start)
	if err != nil {
		c.badRequest(err)
		return false
	}
	req := &c.next
	req.Header, req.URL = c.hdr, c.url
	hosts, host, simple := simpleRequest(head, req)
	if simple {
		_, _ = c.br.Discard(len(head))
		if c.s.ctxServe != nil {
			c.hdr, c.url = req.Header, req.URL
		}
	} else {
		c.next, c.hdr, c.url = http.Request{}, nil, nil // the last simple request: nothing of it stays
		hosts, host = hostFields(head)
		if req, err = http.ReadRequest(c.br); err != nil {
			c.badRequest(err)
			return false
		}
	}
	c.cr.limit = 1<<63 - 1
	c.deadlineStale = true
	c.bodyReads = true
	c.afterPost = req.Method == http.MethodPost
	if c.state != http.StateActive {
		c.setState(http.StateActive)
	}
	if code, msg := checkRequest(req, hosts, host, !simple); code != 0 {
		proto := "HTTP/1.1"
		if code == http.StatusExpectationFailed && !req.ProtoAtLeast(1, 1) {
			// net/http's server answers the requests it cannot read, or
			// whose Host it refuses, in HTTP/1.1, and an unknown
			// expectation through the request's writer: in its version.
			proto = "HTTP/1.0"
		}
		c.replyProto(proto, code, msg)
		return false
	}
	if o.WriteTimeout > 0 {
		c.writeEnd = start.Add(o.WriteTimeout)
		if c.stall > 0 {
			c.wdSet = time.Time{} // the first write sets the earlier deadline
		} else {
			_ = c.nc.SetWriteDeadline(c.writeEnd)
		}
	}
	if c.ob == nil {
		c.ob = getWriter(connWriter{c})
		c.bw = c.ob.bw
	}
	keep := c.serveRequest(req)
	if c.state == http.StateHijacked {
		return false
	}
	if !keep || c.s.shutdown.Load() {
		return false // (serve sends a deferred answer)
	}
	if c.deferred && (c.cr.hasByte || c.cr.gone || c.br.Buffered() > 0) {
		// The next request began to come (or the client left) while the
		// handler ran: its wait would be none.
		if c.flushDeferred() != nil {
			return false
		}
	}
	c.setState(http.StateIdle)
	return true
}

// skipEmptyLines drops the CRLF some clients send after a POST body (RFC
// 9112 §2.2: the server may ignore empty lines before a request line), as
// net/http's server does, from what c.br holds. After the wait for the
// request (waited), empty lines of which only part came (the idle
// release's wait reads one byte) are waited for up to 4 bytes, as
// net/http's server peeks, within the wait's deadline; before it, nothing
// waits.
func (c *leanConn) skipEmptyLines(waited bool) {
	if !c.afterPost {
		return
	}
	p, _ := c.br.Peek(min(4, c.br.Buffered()))
	for waited && len(p) < 4 && len(bytes.TrimLeft(p, "\r\n")) == 0 {
		q, err := c.br.Peek(len(p) + 1)
		if err != nil {
			break
		}
		p = q
	}
	_, _ = c.br.Discard(len(p) - len(bytes.TrimLeft(p, "\r\n")))
}

// idleRelease is how long a connection waits for a request holding its
// buffers: one quiet for longer gives them back and waits for the first
// byte of the next request without them.
var idleRelease atomic.Int64 // a time.Duration

func init() { idleRelease.Store(int64(time.Second)) }

// awaitRequest waits up to wait for the first byte of a request, in c.br
// when it returns nil. A connection quiet for idleRelease returns its
// reader and writer to their pools and waits for one byte read into the
// connection's own byte (connReader serves it first); it takes a reader
// again once the byte came. A busy connection's requests cost nothing
// more: the first wait's deadline replaces the idle one.
func (c *leanConn) awaitRequest(wait time.Duration) error {
	now := time.Now()
	if c.deferred {
		// The answer is sent from inside this wait, which may miss bytes
		// that came before it (deferred.go): at most deferredWait, then
		// the usual wait.
		first := min(wait, time.Duration(sendWait.Load()))
		_ = c.nc.SetReadDeadline(now.Add(first))
		_, err := c.br.Peek(1)
		if err == nil && c.afterPost {
			// skipEmptyLines may wait for the rest of an empty line
			// within this deadline: the usual wait's, not deferredWait.
			_ = c.nc.SetReadDeadline(now.Add(min(wait, time.Duration(idleRelease.Load()))))
		}
		if err == nil || !isTimeout(err) || first == wait || c.s.shutdown.Load() {
			return err
		}
		if first > 0 { // a wait that began (one of 0 ends before it does)
			c.atOnce = answersAtOnce
		}
		now, wait = time.Now(), wait-first
	}
	quiet := time.Duration(idleRelease.Load())
	if wait <= quiet {
		_ = c.nc.SetReadDeadline(now.Add(wait))
		_, err := c.br.Peek(1)
		return err
	}
	_ = c.nc.SetReadDeadline(now.Add(quiet))
	if _, err := c.br.Peek(1); err == nil || !isTimeout(err) || c.s.shutdown.Load() {
		return err
	}
	if c.deferred {
		// A deferred answer still in the writer (both waits timed out
		// before they began: a goroutine that ran a second late) goes
		// before the writer goes back to its pool; the connection is
		// idle after it, as after sendStep's.
		if c.flushDeferred() != nil {
			return errAnswerNotSent
		}
		c.idle.Store(true)
	}
	c.release()
	c.res.forget()
	c.next, c.hdr, c.url = http.Request{}, nil, nil // the last request (a ContextHandler's) is let go too
	_ = c.nc.SetReadDeadline(now.Add(wait))
	n, err := c.nc.Read(c.cr.byteBuf[:])
	if n == 1 {
		c.cr.mu.Lock()
		c.cr.hasByte = true
		c.cr.mu.Unlock()
	}
	c.br = getReader(&c.cr)
	if n == 0 {
		return err
	}
	_, err = c.br.Peek(1) // the byte, from connReader: no read of the connection
	return err
}

// peekHead returns the request's head, buffered whole in c.br (it is not
// consumed): the first bytes within the wait of serveOne, the rest within
// the header timeout. A head that does not fit the pooled buffer moves the
// connection to a reader as large as the limit allows.
func (c *leanConn) peekHead(start time.Time) ([]byte, error) {
	o := &c.s.opts
	deadline := false
	scanned := 0 // where the search for the head's end goes on (headEnd)
	for {
		n := c.br.Buffered()
		p, _ := c.br.Peek(n)
		var end int
		if end, scanned = headEnd(p, scanned); end > 0 {
			return p[:end], nil
		}
		if !deadline {
			deadline = true
			hd := start.Add(o.ReadHeaderTimeout)
			if o.ReadTimeout > 0 && o.ReadTimeout < o.ReadHeaderTimeout {
				hd = start.Add(o.ReadTimeout)
			}
			_ = c.nc.SetReadDeadline(hd)
		}
		if n == c.br.Size() {
			if n >= o.MaxHeaderBytes+4096 {
				c.cr.limit = 0
				return nil, errHeadTooLarge
			}
			// A large head: the bytes buffered go first to a reader of the
			// head's limit, which the connection keeps.
			rest := bytes.Clone(p)
			c.release()
			c.br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(rest), &c.cr), o.MaxHeaderBytes+4096)
			c.cr.limit = int64(o.MaxHeaderBytes) + 4096 - int64(len(rest))
			c.big = true
			scanned = 0 // the new reader has nothing buffered yet
			largeReaders.Add(1)
			continue
		}
		if _, err := c.br.Peek(n + 1); err != nil {
			return nil, err
		}
	}
}

var errHeadTooLarge = errors.New("frontend: request head too large")

// headEnd returns the length of the head at the start of p (up to and
// with the empty line that ends it), 0 when p holds no whole head, and
// where a search in p with more bytes after them may start (from, for the
// next call): the bytes before were searched already. A head that comes
// in many small reads thus costs one pass, not one per read (a client
// trickling a large head byte by byte would make the server scan it again
// for each byte). Lines end with CRLF or, as net/http's parser accepts, LF
// alone.
func headEnd(p []byte, from int) (end, next int) {
	for i := from; ; {
		if i > 0 && p[i-1] == '\n' {
			// i starts a line: an empty one ends the head.
			switch {
			case i < len(p) && p[i] == '\n':
				return i + 1, i
			case i+1 < len(p) && p[i] == '\r' && p[i+1] == '\n':
				return i + 2, i
			case i == len(p) || i+1 == len(p) && p[i] == '\r':
				return 0, i // the line's first bytes have not come
			}
		}
		j := bytes.IndexByte(p[i:], '\n')
		if j < 0 {
			return 0, len(p)
		}
		i += j + 1
	}
}

// hostFields counts the head's Host fields and returns the first one's
// value: http.ReadRequest drops the field, and HTTP/1.1 wants exactly one
// (RFC 9112 §3.2).
func hostFields(head []byte) (n int, first string) {
	for len(head) > 0 {
		i := bytes.IndexByte(head, '\n')
		if i < 0 {
			break
		}
		head = head[i+1:]
		if len(head) >= 5 && head[4] == ':' && asciiEqualFold(head[:4], "host") {
			if n++; n == 1 {
				first = fieldValue(head[5:])
			}
		}
	}
	return n, first
}

// fieldValue returns the value http.ReadRequest reads for a field whose
// value starts at p: the rest of its line and of each obs-fold line after
// it, joined by a space, each trimmed of spaces and tabs only (textproto's
// trim: no other byte, ASCII or not, is white space to it).
func fieldValue(p []byte) string {
	line, p := cutLine(p)
	v := string(bytes.Trim(line, " \t"))
	for len(p) > 0 && (p[0] == ' ' || p[0] == '\t') {
		line, p = cutLine(p)
		v += " " + string(bytes.Trim(line, " \t"))
	}
	return strings.TrimLeft(v, " \t")
}

// cutLine returns p's first line without its LF or CRLF, and the rest.
func cutLine(p []byte) (line, rest []byte) {
	line, rest, _ = bytes.Cut(p, []byte{'\n'})
	return bytes.TrimSuffix(line, []byte{'\r'}), rest
}

// checkRequest applies net/http's server checks beyond parsing: one
// valid Host field (HTTP/1.1), valid field names and values (fields: a
// head simpleRequest read has only valid ones), an Expect the server
// knows.
func checkRequest(req *http.Request, hosts int, host string, fields bool) (int, string) {
	if req.ProtoMajor != 1 {
		return http.StatusHTTPVersionNotSupported, ""
	}
	if req.ProtoAtLeast(1, 1) && hosts == 0 && req.Method != http.MethodConnect {
		return http.StatusBadRequest, "missing required Host header"
	}
	if hosts > 1 {
		return http.StatusBadRequest, "too many Host headers"
	}
	if hosts == 1 && !httpguts.ValidHostHeader(host) {
		return http.StatusBadRequest, "malformed Host header"
	}
	if fields {
		for k, vv := range req.Header {
			if !httpguts.ValidHeaderFieldName(k) {
				return http.StatusBadRequest, "invalid header name"
			}
			for _, v := range vv {
				if !httpguts.ValidHeaderFieldValue(v) {
					return http.StatusBadRequest, "invalid header value"
				}
			}
		}
	}
	if ex := req.Header["Expect"]; len(ex) > 0 && ex[0] != "" && !expectsContinue(req.Header) {
		// An HTTP/1.0 client's 100-continue is ignored (RFC 9110 §10.1.1),
		// as net/http's server does: no 100 goes out (see serveRequest).
		return http.StatusExpectationFailed, ""
	}
	return 0, ""
}

// expectsContinue reports whether h asks for 100 Continue as net/http's
// server reads it: the first Expect field's value holds the token
// 100-continue, in any case, between its ends, spaces, tabs or commas
// (later Expect fields are not read).
func expectsContinue(h http.Header) bool {
	ex := h["Expect"]
	return len(ex) > 0 && hasToken(ex[0], "100-continue")
}

// wantsKeepAlive10 reports whether an HTTP/1.0 request with header h asks
// to keep the connection as net/http's server reads it
// (wantsHttp10KeepAlive): the first Connection field holds the token
// keep-alive. The connection is kept when, besides, no field has the close
// option and the answer has a length (see response.sendHead).
func wantsKeepAlive10(h http.Header) bool {
	conn := h["Connection"]
	return len(conn) > 0 && hasToken(conn[0], "keep-alive")
}

// hasToken reports whether token (lower case) is in v, in any case,
// between v's ends, spaces, tabs or commas: net/http's server's reading
// of Expect and of an HTTP/1.0 request's Connection.
func hasToken(v, token string) bool {
	for i := 0; i+len(token) <= len(v); i++ {
		if i > 0 && !isTokenBoundary(v[i-1]) || i+len(token) < len(v) && !isTokenBoundary(v[i+len(token)]) {
			continue
		}
		if asciiEqualFold(v[i:i+len(token)], token) {
			return true
		}
	}
	return false
}

func isTokenBoundary(b byte) bool { return b == ' ' || b == ',' || b == '\t' }

// asciiEqualFold reports whether s is lower, an ASCII lower-case string
// of its length, with ASCII letters in any case (no Unicode folding, as
// net/http's).
func asciiEqualFold[T string | []byte](s T, lower string) bool {
	for i := range len(s) {
		b := s[i]
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if b != lower[i] {
			return false
		}
	}
	return true
}

// badRequest answers a request that could not be read, as net/http's
// server does: nothing when the client went away or was too slow, 431 for
// a head over the limit, 501 for a transfer coding it does not know, else
// 400.
func (c *leanConn) badRequest(err error) {
	switch {
	case err == errHeadTooLarge || c.cr.hitLimit():
		c.reply(http.StatusRequestHeaderFieldsTooLarge, "")
		c.unreadBody = true
	case err == io.EOF || err == io.ErrUnexpectedEOF || isReadError(err):
	case strings.Contains(err.Error(), "unsupported transfer encoding") || strings.Contains(err.Error(), "too many transfer encodings"):
		c.reply(http.StatusNotImplemented, "Unsupported transfer encoding")
	default:
		c.reply(http.StatusBadRequest, "")
	}
}

// isReadError reports whether err is the connection's: a timeout or a
// failed read (net/http's isCommonNetReadError). A request target that is
// no URL is a *url.Error, which is a net.Error too: that one is the
// client's request, answered 400.
func isReadError(err error) bool {
	var oe *net.OpError
	return isTimeout(err) || errors.As(err, &oe) && oe.Op == "read"
}

func isTimeout(err error) bool { return deadline.Passed(err) }

// reply writes a small plain-text HTTP/1.1 answer before the connection
// closes.
func (c *leanConn) reply(code int, msg string) { c.replyProto("HTTP/1.1", code, msg) }

// replyProto is reply with the status line's version given.
func (c *leanConn) replyProto(proto string, code int, msg string) {
	text := http.StatusText(code)
	if msg == "" {
		msg = text
	} else {
		msg = text + ": " + msg
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = fmt.Fprintf(c.nc, "%s %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n%d %s", proto, code, text, code, msg)
}

// connReader reads the connection for the bufio.Reader: it bounds the
// head's size, puts the handler's read deadline in place before the
// handler's first read, and carries the byte the client-gone watch read
// ahead.
type connReader struct {
	c       *leanConn
	limit   int64
	hasByte bool
	byteBuf [1]byte

	// The client-gone watch: a background read of one byte while a
	// handler runs, started when the request context is waited on.
	mu      sync.Mutex
	cond    sync.Cond
	cur     *reqCtx // the request a watch may start for; nil once it ended
	inRead  bool
	aborted bool
	gone    bool // the watch saw the connection end
}

func (cr *connReader) hitLimit() bool { return cr.limit <= 0 }

func (cr *connReader) Read(p []byte) (int, error) {
	if cr.limit <= 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > cr.limit {
		p = p[:cr.limit]
	}
	cr.mu.Lock()
	if cr.inRead {
		cr.mu.Unlock()
		panic("frontend: a handler read the client connection during the client-gone watch")
	}
	if cr.hasByte {
		p[0] = cr.byteBuf[0]
		cr.hasByte = false
		cr.limit--
		cr.mu.Unlock()
		return 1, nil
	}
	if cr.gone {
		cr.mu.Unlock()
		return 0, io.EOF
	}
	cr.mu.Unlock()
	cr.c.readDeadline()
	var n int
	var err error
	switch {
	case !cr.c.deferred:
		n, err = cr.c.nc.Read(p)
	case cr.c.tls == nil:
		n, err = cr.c.sendRead(p)
	default:
		n, err = cr.c.tlsRead(p)
	}
	cr.limit -= int64(n)
	return n, err
}

// freshDeadline replaces the idle or header deadline, or a stall one,
// with the handler's (the client-gone watch's: a client waiting for a slow
// answer sends nothing, rightly).
func (c *leanConn) freshDeadline() {
	if c.deadlineStale || !c.rdSet.IsZero() {
		c.deadlineStale, c.rdSet = false, time.Time{}
		_ = c.nc.SetReadDeadline(c.bodyDeadline)
	}
}

// readDeadline puts the deadline of a read of the connection in place:
// for the request body, the stall bound from now (no later than the
// handler's deadline); else the handler's (freshDeadline).
func (c *leanConn) readDeadline() {
	if c.stall <= 0 || !c.bodyReads {
		c.freshDeadline()
		return
	}
	now := time.Now()
	if !c.deadlineStale && !c.rdSet.IsZero() && now.Sub(c.rdSet) < c.stall>>4 {
		return
	}
	c.deadlineStale, c.rdSet = false, now
	_ = c.nc.SetReadDeadline(earlier(now.Add(c.stall), c.bodyDeadline))
}

// writeDeadline moves the write deadline to the stall bound from now (no
// later than the request's WriteTimeout) before a write to the client;
// before a large write (which may wait for the client) it marks what the
// client acknowledged so far.
func (c *leanConn) writeDeadline(force, large bool) {
	now := time.Now()
	if !force && !c.wdSet.IsZero() && now.Sub(c.wdSet) < c.stall>>4 {
		return
	}
	c.wdSet = now
	_ = c.nc.SetWriteDeadline(earlier(now.Add(c.stall), c.writeEnd))
	if large && c.sock != nil {
		c.acked.Mark(c.sock)
	}
}

// writeSock writes p to the TCP connection; a write that timed out while
// the client took bytes (a slow reader, slower than the kernel wakes a
// writer: a third of the send buffer per stall) goes on under a moved
// deadline. Only a client that takes nothing for the stall bound fails.
func (c *leanConn) writeSock(p []byte) (int, error) {
	n, err := c.sock.Write(p)
	for err != nil && c.stall > 0 && n < len(p) && splice.Timeout(err) && c.acked.Moved(c.sock) {
		c.writeDeadline(true, false)
		var k int
		k, err = c.sock.Write(p[n:])
		n += k
	}
	return n, err
}

// tlsSock is the TCP connection under TLS: its writes are writeSock's (a
// slow reader's timed-out writes go on), and the read crypto/tls makes
// for the wait for the next request sends a deferred answer (tlsSend).
type tlsSock struct {
	*net.TCPConn
	c *leanConn
}

func (s tlsSock) Write(p []byte) (int, error) { return s.c.writeSock(p) }

func (s tlsSock) Read(p []byte) (int, error) {
	if s.c.tlsSend {
		return s.c.sendRead(p)
	}
	return s.TCPConn.Read(p)
}

// earlier returns the earlier of t and end, t when end is zero.
func earlier(t, end time.Time) time.Time {
	if !end.IsZero() && end.Before(t) {
		return end
	}
	return t
}

// connWriter is the connection under the response's buffer: with a stall
// bound, each write to the client must make progress within it.
type connWriter struct{ c *leanConn }

func (w connWriter) Write(p []byte) (int, error) {
	c := w.c
	var n int
	var err error
	switch {
	case c.stall <= 0:
		n, err = c.nc.Write(p)
	case c.tcp != nil:
		c.writeDeadline(false, len(p) >= bufSize)
		n, err = c.writeSock(p)
	default: // TLS: its connection is a tlsSock
		c.writeDeadline(false, len(p) >= bufSize)
		n, err = c.nc.Write(p)
	}
	if err != nil {
		c.writeFailed = true
	}
	return n, err
}

// startWatch reads one byte in the background: an error ends the request
// (cancel); a byte is the start of a pipelined request, kept.
func (cr *connReader) startWatch(rc *reqCtx, cancel context.CancelFunc) {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if cr.cur != rc || cr.inRead || cr.hasByte || cr.gone {
		// Not for a request that ended (its context may be waited on by a
		// goroutine that outlived it) nor after a hijack: the connection
		// reads the next request, or is the handler's.
		return
	}
	if cr.cond.L == nil {
		cr.cond.L = &cr.mu
	}
	cr.c.freshDeadline()
	cr.inRead, cr.aborted = true, false
	go cr.watch(cancel)
}

func (cr *connReader) watch(cancel context.CancelFunc) {
	n, err := cr.c.nc.Read(cr.byteBuf[:])
	cr.mu.Lock()
	if n == 1 {
		cr.hasByte = true
	}
	gone := err != nil && !(cr.aborted && isTimeout(err))
	cr.gone = cr.gone || gone
	cr.inRead = false
	cr.cond.Broadcast()
	cr.mu.Unlock()
	if gone {
		cancel()
	}
}

// stopWatch ends the background read and waits for it.
func (cr *connReader) stopWatch() {
	cr.mu.Lock()
	cr.cur = nil
	if !cr.inRead {
		cr.mu.Unlock()
		return
	}
	cr.aborted = true
	_ = cr.c.nc.SetReadDeadline(aLongTimeAgo)
	for cr.inRead {
		cr.cond.Wait()
	}
	cr.mu.Unlock()
	cr.c.deadlineStale = true
}

var aLongTimeAgo = time.Unix(1, 0)

// serveRequest runs the handler and reports whether the connection may
// serve another request.
func (c *leanConn) serveRequest(req *http.Request) bool {
	rc := &reqCtx{c: c}
	c.cr.mu.Lock()
	c.cr.cur = rc
	c.cr.mu.Unlock()
	if c.s.ctxServe == nil {
		req = req.WithContext(rc)
		c.next = http.Request{} // simpleRequest's request, copied: the connection keeps nothing of it
	}
	req.RemoteAddr = c.remote
	req.TLS = c.tls
	res := &c.res
	res.reset(c, req)
	if req.ProtoMinor == 0 {
		// Read before the handler, which may change the header (as
		// net/http's server does).
		res.keep10 = wantsKeepAlive10(req.Header)
		res.close10 = httpguts.HeaderValuesContainsToken(req.Header["Connection"], "close")
	}
	if req.Body != nil && req.Body != http.NoBody {
		b := &reqBody{rc: req.Body, res: res, ctx: rc, length: -1, br: c.br, bigHead: c.big}
		if len(req.TransferEncoding) == 0 && req.ContentLength > 0 {
			b.length = req.ContentLength
		}
		b.expect = req.ProtoAtLeast(1, 1) && expectsContinue(req.Header)
		b.asked = b.expect
		res.body = b
		req.Body = b
	} else {
		rc.bodyDone.Store(true)
	}
	defer rc.end()
	if c.s.ctxServe != nil {
		// req is c.next or http.ReadRequest's, with no context: the
		// handler copies it (see ContextHandler).
		c.s.ctxServe.ServeHTTPContext(rc, res, req)
	} else {
		c.s.handler.ServeHTTP(res, req)
	}
	if c.state == http.StateHijacked {
		return false
	}
	res.finish()
	return !res.closeAfter
}

// reqCtx is a request's context: it is canceled when the handler returns
// or the client goes away, and its Done starts the client-gone watch the
// first time it is called (a request nobody waits on costs no background
// read). The watch starts once the body is read: before, a read of the
// body reports the client's leaving.
//
// Its cancellation is a context.WithCancel made when someone first asks
// for Done: most requests are answered without anyone waiting on their
// context, and then cost no cancel context (two allocations). Until then
// Err reports the end alone. Done comes first in everything the context
// package does with a parent (WithCancel, WithTimeout, AfterFunc), so a
// child finds the cancel context through Value and is canceled with it,
// without a goroutine of its own.
type reqCtx struct {
	c        *leanConn
	inner    atomic.Pointer[cancelState] // made by the first Done
	ended    atomic.Bool                 // the handler returned
	armed    atomic.Bool
	bodyDone atomic.Bool
	started  atomic.Bool
}

// cancelState is a request context's cancellation, once asked for.
type cancelState struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// Deadline implements context.Context: a request has no deadline.
func (rc *reqCtx) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done arms the client-gone watch.
func (rc *reqCtx) Done() <-chan struct{} {
	st := rc.state()
	if !rc.armed.Load() && !rc.armed.Swap(true) && rc.bodyDone.Load() {
		rc.startWatch()
	}
	return st.ctx.Done()
}

// Err implements context.Context.
func (rc *reqCtx) Err() error {
	if st := rc.current(); st != nil {
		return st.ctx.Err()
	}
	if rc.ended.Load() {
		return context.Canceled
	}
	return nil
}

// Value implements context.Context: a request context carries no values
// of its own; the cancel context answers the context package's lookups.
func (rc *reqCtx) Value(key any) any {
	if st := rc.current(); st != nil {
		return st.ctx.Value(key)
	}
	return nil
}

// String names the context in a panic or a log, as context's own do.
func (rc *reqCtx) String() string { return "frontend.requestContext" }

// state returns the request's cancellation, making it on the first call
// (canceled when the handler has returned already; a reader that finds it
// live after the end cancels it first, current: Err, which said Canceled
// then, never says nil after).
func (rc *reqCtx) state() *cancelState {
	if st := rc.current(); st != nil {
		return st
	}
	ctx, cancel := context.WithCancel(context.Background())
	st := &cancelState{ctx, cancel}
	if !rc.inner.CompareAndSwap(nil, st) {
		cancel()
		return rc.current()
	}
	if rc.ended.Load() { // end ran before it was there to cancel
		cancel()
	}
	return st
}

// current returns the cancellation made so far, or nil; once the handler
// returned, canceled (one a first Done published while end ran, not yet
// canceled by state, is canceled here rather than read live).
func (rc *reqCtx) current() *cancelState {
	st := rc.inner.Load()
	if st != nil && rc.ended.Load() {
		st.cancel() // a no-op once canceled
	}
	return st
}

// cancel cancels the context (the client went away).
func (rc *reqCtx) cancel() { rc.state().cancel() }

func (rc *reqCtx) startWatch() {
	if !rc.started.Swap(true) && rc.Err() == nil {
		rc.c.cr.startWatch(rc, rc.cancel)
	}
}

// bodyEnded is called when the request body was read to its end.
func (rc *reqCtx) bodyEnded() {
	if !rc.bodyDone.Swap(true) && rc.armed.Load() {
		rc.startWatch()
	}
}

// end stops the watch and cancels the context: the handler returned.
// ended goes first: a state made after it sees it (state), one made
// before is here to cancel.
func (rc *reqCtx) end() {
	rc.c.cr.stopWatch()
	rc.ended.Store(true)
	if st := rc.inner.Load(); st != nil {
		st.cancel()
	}
}

// reqBody is the request body: it sends 100 Continue before the first
// read when the client asked for it, notes the body's end, and reads
// nothing once the handler returned.
type reqBody struct {
	mu     sync.Mutex
	rc     io.ReadCloser
	res    *response
	ctx    *reqCtx
	length int64 // of an identity body (Content-Length), -1 for a chunked one
	read   int64 // bytes of the body read
	expect bool  // 100 Continue is owed before the first read
	asked  bool  // the client asked for 100 Continue (set before the handler runs)
	eof    atomic.Bool
	closed bool
	// broken: WriteTo took bytes from the connection past rc and did not
	// reach the body's end; rc knows nothing of them, so nothing more is
	// read from this body, and the connection closes after the answer.
	broken error
	// br is the connection's reader the body comes from, and bigHead
	// whether it is a large head's, as they were when the request came:
	// WriteTo reads them here, not from the connection, whose release
	// clears them while a reader that outlived its handler may still be
	// sending the bytes buffered there.
	br      *bufio.Reader
	bigHead bool
	// cut: the handler returned while a reader held the body (finish):
	// that reader's read in progress is its last; letGo, then set, is
	// closed as it lets go of the body (unlock), for closeLingering, whose
	// discarding read must not take bytes from it (they would be missing
	// from the body it sends on, and later bytes would fill their place).
	cut   atomic.Bool
	letGo atomic.Pointer[chan struct{}]
}

// unlock lets go of the body, and tells closeLingering so when it waits.
func (b *reqBody) unlock() {
	b.mu.Unlock()
	if ch := b.letGo.Swap(nil); ch != nil {
		close(*ch)
	}
}

func (b *reqBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.unlock()
	if b.closed || b.cut.Load() {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.eof.Load() {
		return 0, io.EOF
	}
	if b.broken != nil {
		return 0, b.broken
	}
	if b.expect {
		b.expect = false
		b.res.sendContinue()
	}
	n, err := b.rc.Read(p)
	b.read += int64(n)
	if err == io.EOF {
		b.eof.Store(true)
		b.ctx.bodyEnded()
	} else if err != nil {
		// The client hung up, stalled or broke the framing: nothing more
		// is read of this body (not even after the handler, which would
		// wait for the client again), and the connection closes.
		b.broken = err
	}
	return n, err
}

// spliceMin is the smallest rest of a body WriteTo hands to the kernel
// (as h1.SpliceMin for the answers).
const spliceMin = 64 << 10

// WriteTo sends the rest of the body to w. A body of known length
// (identity) on a plain TCP connection goes by the kernel when w is an
// io.ReaderFrom (a plain TCP backend connection): the bytes buffered
// already go first (w.Write), then w.ReadFrom gets the connection (a
// splice.Side that counts what it takes: took) under an io.LimitedReader
// of exactly the rest, so that splice(2) moves it and not one byte of a
// pipelined request after it. Other bodies are copied.
// An error of w's is returned as w returned it; a client that sent fewer
// bytes than promised is io.ErrUnexpectedEOF.
func (b *reqBody) WriteTo(w io.Writer) (int64, error) {
	rf, ok := w.(io.ReaderFrom)
	b.mu.Lock()
	if !ok || !b.spliceable() {
		b.unlock()
		buf := copyBufs.Get().(*[32 << 10]byte)
		defer copyBufs.Put(buf)
		return io.CopyBuffer(writerOnly{w}, readerOnly{b}, buf[:])
	}
	defer b.unlock()
	if b.expect {
		b.expect = false
		b.res.sendContinue()
	}
	c := b.res.c
	var total int64
	if k := min(int64(b.br.Buffered()), b.length-b.read); k > 0 {
		p, _ := b.br.Peek(int(k))
		n, err := w.Write(p)
		_, _ = b.br.Discard(n)
		b.read += int64(n)
		total += int64(n)
		if err != nil {
			b.broken = err
			return total, err
		}
	}
	// The splice tells took of the bytes it takes from the connection,
	// before it sends them on.
	side := &splice.Side{Conn: c.tcp, Taken: b.took}
	if c.stall > 0 {
		// The splice moves the read deadline by progress: a bounded side.
		side.Idle, side.End = c.stall, c.bodyDeadline
		c.deadlineStale = true // a stall deadline is left on the connection
	} else {
		c.freshDeadline()
	}
	lr := io.LimitedReader{R: side, N: b.length - b.read}
	n, err := rf.ReadFrom(&lr)
	total += n
	if err == nil && lr.N == 0 {
		// took recorded the body's end.
		if hook := testHookBodyTaken.Load(); hook != nil {
			(*hook)()
		}
		return total, nil
	}
	if err == nil {
		err = io.ErrUnexpectedEOF // the client's end came first
	}
	b.broken = err
	return total, err
}

// took counts n bytes of the body that WriteTo's splice took from the
// connection (b.mu is WriteTo's), sent on or not. The last ones end the
// body there and then, before they go to the backend: a backend that
// answers on the last byte may have its answer ended (finish) before the
// splice returns, and finish must find the body at its end.
func (b *reqBody) took(n int64) {
	if b.read += n; b.read == b.length {
		b.eof.Store(true)
		b.ctx.bodyEnded()
	}
}

// spliceable reports whether WriteTo may take the rest of the body from
// the connection itself (b.mu held): an identity body of which at least
// spliceMin is not buffered yet, on a plain TCP connection read through
// the pooled reader (a large head's reader may hold bytes of its own),
// with no byte of the client-gone watch pending.
func (b *reqBody) spliceable() bool {
	c := b.res.c
	if b.closed || b.cut.Load() || b.broken != nil || b.eof.Load() || b.length < 0 || c.tcp == nil || b.bigHead ||
		b.length-b.read-int64(b.br.Buffered()) < spliceMin {
		return false
	}
	c.cr.mu.Lock()
	defer c.cr.mu.Unlock()
	return !c.cr.hasByte && !c.cr.inRead && !c.cr.gone
}

type readerOnly struct{ io.Reader }

// Close is a no-op for the handler: the server reads what is left of a
// small body after the handler returns (a large one closes the connection).
func (b *reqBody) Close() error { return nil }

// unread reports whether the client waits for a 100 Continue to send a
// body nobody read: the connection cannot serve another request. It takes
// no lock: the answer's head must not wait for a read of the body that
// waits for the client (and a first read, holding b.mu, takes the
// answer's lock to send 100 Continue).
func (b *reqBody) unread() bool {
	return b.asked && !b.eof.Load()
}

// finish closes the body for good and reports whether the connection can
// read the next request: the rest of the body (up to 256 KiB) is read,
// unless the client still waits for 100 Continue. It never waits for the
// client: a body another goroutine still reads or splices, short of its
// end (a backend that answered before it had the whole body), or more
// than 256 KiB left to come closes the connection after the answer, as
// net/http's server does, and the close ends that reader.
func (b *reqBody) finish() bool {
	if !b.mu.TryLock() {
		// A reader still holds the body. One that took all of it from the
		// connection (eof: a splice records it as the last bytes leave the
		// connection, before they reach the backend, see took) has at
		// most their sending and its return left, and the connection is
		// at the next request: a backend that answered on seeing the last
		// byte spliced must not cost the client its connection. One short
		// of the end (a backend that answered early and reads no more)
		// costs it: the close ends that reader, which may be in the
		// connection's reader until then (or sending bytes of its buffer
		// on): it does not go back to the pool.
		if b.eof.Load() {
			return true
		}
		b.lend()
		return false
	}
	defer b.mu.Unlock()
	b.closed = true
	if b.eof.Load() {
		return true
	}
	if b.expect || b.broken != nil {
		// No 100 Continue went out: the body will not come; or WriteTo
		// broke off: where the body ends on the connection is unknown.
		return false
	}
	if b.length >= 0 && b.length-b.read > maxDiscard {
		return false
	}
	n, err := io.CopyN(io.Discard, b.rc, maxDiscard+1)
	if err == io.EOF && n <= maxDiscard {
		b.eof.Store(true)
		return true
	}
	return false
}

// lend cuts a body another goroutine holds (a reader that outlived its
// handler): its read in progress is its last, and closeLingering waits for
// it to end (unlock) before it reads the connection itself; the
// connection's reader, which it may be in until then, does not go back to
// the pool.
func (b *reqBody) lend() {
	c := b.res.c
	c.lentReader = true
	b.cut.Store(true)
	ch := make(chan struct{})
	b.letGo.Store(&ch)
	c.straggler = ch
	if b.mu.TryLock() {
		b.unlock() // it let go meanwhile
	}
}

// abandon closes the body of a request whose connection closes after the
// answer (the client's or the handler's close, HTTP/1.0, a shutdown)
// without reading its rest. A reader that outlived its handler reads no
// more of it, and one still in a read is cut as by finish: the
// connection's reader goes back to the pool at the close, and would
// otherwise be read by it there (a nil reader: the process panics) or
// once another connection has it (that connection's bytes sent on as this
// body).
// It reports whether the body's rest may still come (closeLingering).
func (b *reqBody) abandon() (unread bool) {
	if b.mu.TryLock() {
		b.closed = true
		b.mu.Unlock()
		return !b.eof.Load()
	}
	if b.eof.Load() {
		// It took the whole body and reads the reader no more (finish
		// keeps the connection then); out of the pool all the same, as
		// a caution: the connection closes anyway.
		b.res.c.lentReader = true
		return false
	}
	b.lend()
	return true
}

// testHookBodyTaken, when set (tests), runs in WriteTo after the whole
// body was taken from the connection, before the writer returns.
var testHookBodyTaken atomic.Pointer[func()]

// testHookReaderPut, when set (tests), sees every reader release returns
// to the pool.
var testHookReaderPut atomic.Pointer[func(*bufio.Reader)]

// maxDiscard is how much of an unread request body the server reads to
// keep the connection (net/http's figure).
const maxDiscard = 256 << 10
