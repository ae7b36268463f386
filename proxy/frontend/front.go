package frontend

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// The front servers a Front can run (gateway.yaml's proxy.front).
const (
	// KindLean is the lean HTTP/1.1 server (Lean), with net/http's server
	// for HTTP/2 on a TLS front.
	KindLean = "lean"
	// KindNetHTTP is net/http's server for everything.
	KindNetHTTP = "net/http"
	// DefaultKind is the front a configuration without proxy.front gets.
	DefaultKind = KindLean
)

// Front is a proxy listener's server: net/http's, or the lean HTTP/1.1
// server with net/http's serving the connections whose TLS handshake
// chose HTTP/2. TLSConfig (ServerOptions.TLSConfig, or set before Serve)
// makes it a TLS front.
type Front struct {
	TLSConfig *tls.Config
	// Std is net/http's server: the whole front (KindNetHTTP) or its
	// HTTP/2 part (KindLean).
	Std  *http.Server
	lean *Lean
}

// NewFront returns a front of the given kind ("" for DefaultKind) serving
// h with o's limits.
func NewFront(h http.Handler, o ServerOptions, kind string) (*Front, error) {
	std := NewServer(h, o)
	if kind == "" {
		kind = DefaultKind
	}
	switch kind {
	case KindNetHTTP:
		std.Handler = netHTTPRules{std.Handler}
		return &Front{TLSConfig: o.TLSConfig, Std: std}, nil
	case KindLean:
	default:
		return nil, fmt.Errorf("frontend: front %q: want %s or %s", kind, KindLean, KindNetHTTP)
	}
	return &Front{TLSConfig: o.TLSConfig, Std: std, lean: newLean(h, o.withDefaults(), std.ConnState)}, nil
}

// Kind reports which server the front runs.
func (f *Front) Kind() string {
	if f.lean != nil {
		return KindLean
	}
	return KindNetHTTP
}

// Serve serves ln (with TLS when TLSConfig is set) until Shutdown or
// Close, when it returns http.ErrServerClosed.
func (f *Front) Serve(ln net.Listener) error {
	if f.lean == nil {
		if f.TLSConfig != nil {
			// A copy: net/http's HTTP/2 set-up writes into it.
			f.Std.TLSConfig = f.TLSConfig.Clone()
			return f.Std.ServeTLS(ln, "", "")
		}
		return f.Std.Serve(ln)
	}
	if f.TLSConfig == nil {
		return f.lean.Serve(ln)
	}
	// HTTP/2: the handshaken connections go to net/http's server through
	// a listener of their own. It gets a copy of the TLS configuration:
	// its HTTP/2 set-up writes into it while the lean server handshakes.
	f.Std.TLSConfig = f.TLSConfig.Clone()
	h2 := &connListener{addr: ln.Addr(), conns: make(chan net.Conn), done: make(chan struct{})}
	f.lean.tlsConfig, f.lean.h2 = f.TLSConfig, h2.deliver
	errc := make(chan error, 1)
	go func() { errc <- f.Std.Serve(h2) }()
	err := f.lean.Serve(ln)
	h2.Close()
	if e := <-errc; !errors.Is(e, http.ErrServerClosed) && !errors.Is(e, net.ErrClosed) && err == nil {
		err = e
	}
	return err
}

// Shutdown drains the front (see http.Server.Shutdown and Lean.Shutdown).
func (f *Front) Shutdown(ctx context.Context) error {
	if f.lean == nil {
		return f.Std.Shutdown(ctx)
	}
	var wg sync.WaitGroup
	var stdErr error
	wg.Add(1)
	go func() { defer wg.Done(); stdErr = f.Std.Shutdown(ctx) }()
	err := f.lean.Shutdown(ctx)
	wg.Wait()
	return errors.Join(err, stdErr)
}

// Close closes the front's listener and connections at once.
func (f *Front) Close() error {
	if f.lean == nil {
		return f.Std.Close()
	}
	err := f.lean.Close()
	return errors.Join(err, f.Std.Close())
}

// connListener is a net.Listener of connections handed over (HTTP/2
// connections the lean server accepted and handshook).
type connListener struct {
	addr  net.Addr
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func (l *connListener) deliver(c *tls.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *connListener) Addr() net.Addr { return l.addr }

// netHTTPRules is where the net/http front departs from net/http's HTTP/1
// server, to answer as the lean front does:
//
//   - the h2c prior-knowledge preface "PRI * HTTP/2.0", the one HTTP/2
//     request line net/http's HTTP/1 server hands to its handler (let
//     through for handlers that take HTTP/2 over themselves), gets 505 and
//     a close, as the lean server answers every HTTP/2 request line. The
//     gateway speaks no cleartext HTTP/2, and a preface is no request for
//     the proxy (which would give it a request id, log it, answer it 400,
//     and, when a field came with it, keep the connection and read the
//     preface's rest as the next request). Other HTTP/2 request lines get
//     net/http's own 505; HTTP/2 requests (a TLS connection whose ALPN
//     chose h2) reach h as they are;
//   - an HTTP/1.0 request with the close option in a Connection field has
//     its connection closed after the answer (RFC 9112 §9.6), which
//     net/http's server does not do when the first Connection field also
//     says keep-alive (wantsHttp10KeepAlive): the answer says close;
//   - an HTTP/1 answer whose head goes out while its request body is
//     still being read (a proxied upload the backend answered, or the
//     gateway refused, before the body's end) closes the connection
//     (readWatch);
//   - an HTTP/1.0 request gets no informational (1xx) answer, which RFC
//     9110 §15.2 forbids (an HTTP/1.0 client takes it for the answer);
//     net/http's server writes it in HTTP/1.0.
type netHTTPRules struct{ h http.Handler }

func (p netHTTPRules) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 1 && r.ProtoMinor == 0 && httpguts.HeaderValuesContainsToken(r.Header["Connection"], "close") {
		w.Header().Set("Connection", "close")
	}
	if r.Method != "PRI" || r.RequestURI != "*" || r.ProtoMajor != 2 || r.TLS != nil && r.TLS.NegotiatedProtocol == "h2" {
		if r.ProtoMajor == 1 && (r.ProtoMinor == 0 || r.Body != nil && r.Body != http.NoBody) {
			rw, r2 := watchHTTP1(w, r)
			p.h.ServeHTTP(rw, r2)
			// A handler that wrote nothing: net/http writes the head
			// (200) after it, under the same rules.
			rw.head()
			return
		}
		p.h.ServeHTTP(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Connection", "close")
	w.WriteHeader(http.StatusHTTPVersionNotSupported)
	_, _ = io.WriteString(w, "505 HTTP Version Not Supported")
}

// readState is where an HTTP/1 request body stands when its answer's head
// goes out.
const (
	bodyUntouched int32 = iota // no read yet
	bodyReading                // read, not to its end
	bodyEnded                  // read to its end (or its error)
	bodyAnswered               // the head went out before any read
)

// readWatch is an HTTP/1 request's body and ResponseWriter on the net/http
// front (a request with a body, or an HTTP/1.0 one, whose informational
// answers it drops). Unlike the lean front, net/http's server cannot
// answer while the body is read: it holds the body's lock through a read
// (which waits for the client), and before it writes an answer's head it
// takes that lock to learn how much of the body is left. A proxied upload's writer reads the
// body on its own goroutine; when the backend answers before the body's
// end (a refused WebHDFS redirect, an early 413), the head waits for that
// read, the read for the client, and a client that waits for the answer
// before it sends more (or stops sending) for the head: nothing moves
// until the stall bound. So:
//
//   - a head the handler writes (WriteHeader, or its first Write or flush)
//     after a read of the body that stopped short of its end, on any
//     goroutine, says Connection: close, and net/http then writes it
//     without the lock (the connection ends after the answer; the lean
//     front keeps it when at most 256 KiB are left and no read is in
//     progress);
//   - a head written before any read leaves the body to net/http (it
//     reads up to 256 KiB of it to keep the connection, or closes), and a
//     read that starts after it fails with http.ErrBodyReadAfterClose (a
//     writer that started late; net/http's server lets a handler read
//     until the head is flushed, and says the body may be unavailable
//     after it: here it is, from the handler's WriteHeader on);
//   - a handler that enabled full duplex (http.ResponseController) gets
//     neither rule: net/http then takes no lock.
type readWatch struct {
	w      http.ResponseWriter
	rc     io.ReadCloser
	state  atomic.Int32
	duplex atomic.Bool
	headed bool // a final head was written (the handler's goroutine only)
	http10 bool // the request is HTTP/1.0: no 1xx answer
}

// watchHTTP1 returns w and r under a readWatch (r's body under it when
// there is one).
func watchHTTP1(w http.ResponseWriter, r *http.Request) (*readWatch, *http.Request) {
	rw := &readWatch{w: w, http10: r.ProtoMinor == 0}
	if r.Body == nil || r.Body == http.NoBody {
		return rw, r
	}
	rw.rc = r.Body
	r2 := *r
	r2.Body = (*watchedBody)(rw)
	return rw, &r2
}

// head applies the rules before the first final head.
func (rw *readWatch) head() {
	if rw.headed {
		return
	}
	rw.headed = true
	if rw.duplex.Load() || rw.state.CompareAndSwap(bodyUntouched, bodyAnswered) {
		return
	}
	if rw.state.Load() == bodyReading {
		rw.w.Header().Set("Connection", "close")
	}
}

func (rw *readWatch) Header() http.Header { return rw.w.Header() }

func (rw *readWatch) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		rw.head()
	} else if rw.http10 && code >= 100 {
		return
	}
	rw.w.WriteHeader(code)
}

func (rw *readWatch) Write(p []byte) (int, error) {
	rw.head()
	return rw.w.Write(p)
}

// ReadFrom keeps net/http's (sendfile, splice).
func (rw *readWatch) ReadFrom(src io.Reader) (int64, error) {
	rw.head()
	if rf, ok := rw.w.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{rw.w}, src)
}

// FlushError lets http.ResponseController flush.
func (rw *readWatch) FlushError() error {
	rw.head()
	return http.NewResponseController(rw.w).Flush()
}

// Flush implements http.Flusher.
func (rw *readWatch) Flush() { _ = rw.FlushError() }

// EnableFullDuplex lets http.ResponseController enable full duplex.
func (rw *readWatch) EnableFullDuplex() error {
	err := http.NewResponseController(rw.w).EnableFullDuplex()
	if err == nil {
		rw.duplex.Store(true)
	}
	return err
}

// SetReadDeadline and SetWriteDeadline are net/http's (stallHandler's
// deadliner).
func (rw *readWatch) SetReadDeadline(t time.Time) error {
	return http.NewResponseController(rw.w).SetReadDeadline(t)
}

func (rw *readWatch) SetWriteDeadline(t time.Time) error {
	return http.NewResponseController(rw.w).SetWriteDeadline(t)
}

// Unwrap exposes the server's writer to http.ResponseController (Hijack).
func (rw *readWatch) Unwrap() http.ResponseWriter { return rw.w }

// watchedBody is the request body side of a readWatch.
type watchedBody readWatch

func (b *watchedBody) Read(p []byte) (int, error) {
	if !b.state.CompareAndSwap(bodyUntouched, bodyReading) && b.state.Load() == bodyAnswered {
		return 0, http.ErrBodyReadAfterClose
	}
	n, err := b.rc.Read(p)
	if err != nil {
		b.state.Store(bodyEnded)
	}
	return n, err
}

func (b *watchedBody) Close() error { return b.rc.Close() }
