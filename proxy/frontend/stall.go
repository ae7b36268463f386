package frontend

import (
	"io"
	"net/http"
	"sync"
	"time"
)

// stallHandler bounds the stalls of net/http's server (KindNetHTTP, and
// HTTP/2 on either front) as the lean server bounds its own: a request
// body read must make progress within stall (the read deadline moves
// before each read), and so must the answer's writes (the write deadline
// moves before each write and flush). HTTP/1 connections get the write
// deadline at the start of each request, which bounds the server's own
// last flush of a small answer too; HTTP/2 streams only once their answer
// is past the first flow-control window (a write before cannot wait for
// the client), the connection's writes being bounded by
// HTTP2Config.WriteByteTimeout. (Over TLS, net/http closes a connection
// whose write failed with crypto/tls's close_notify, which waits up to 5s
// more for a client that takes nothing: the lean front closes under TLS.)
type stallHandler struct {
	h            http.Handler
	stall        time.Duration
	readTimeout  time.Duration // the server's, composed with the stall bound
	writeTimeout time.Duration
}

// deadliner is what net/http's writers (HTTP/1 and HTTP/2) offer
// http.ResponseController.
type deadliner interface {
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
}

// h2Window is the initial HTTP/2 flow-control window: an answer's first
// bytes up to it never wait for the client.
const h2Window = 64 << 10

var stallWriters = sync.Pool{New: func() any { return new(stallWriter) }}

func (s *stallHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	dl, ok := w.(deadliner)
	if !ok {
		s.h.ServeHTTP(w, r)
		return
	}
	now := time.Now()
	sw := stallWriters.Get().(*stallWriter)
	*sw = stallWriter{w: w, dl: dl, stall: s.stall, h2: r.ProtoMajor == 2}
	if s.writeTimeout > 0 {
		sw.end = now.Add(s.writeTimeout)
	}
	if !sw.h2 {
		sw.move(now)
	}
	var body *stallBody
	if r.Body != nil && r.Body != http.NoBody {
		body = &stallBody{rc: r.Body, dl: dl, stall: s.stall}
		if s.readTimeout > 0 {
			body.end = now.Add(s.readTimeout)
		}
		r2 := *r
		r2.Body = body
		r = &r2
	}
	defer func() {
		if body != nil {
			body.handlerDone()
		}
		*sw = stallWriter{}
		stallWriters.Put(sw)
	}()
	s.h.ServeHTTP(sw, r)
}

// stallWriter is the ResponseWriter under a stall bound.
type stallWriter struct {
	w       http.ResponseWriter
	dl      deadliner
	stall   time.Duration
	end     time.Time // WriteTimeout's deadline (zero: none)
	set     time.Time // when the deadline was last moved (zero: never)
	written int64
	h2      bool
}

// move puts the write deadline stall from now (no later than end); it
// moves only once stall/16 passed since the last move.
func (s *stallWriter) move(now time.Time) {
	if !s.set.IsZero() && now.Sub(s.set) < s.stall>>4 {
		return
	}
	s.set = now
	_ = s.dl.SetWriteDeadline(earlier(now.Add(s.stall), s.end))
}

// before is called before a write or flush of the answer.
func (s *stallWriter) before() {
	if s.h2 && s.written < h2Window {
		return
	}
	s.move(time.Now())
}

func (s *stallWriter) Header() http.Header { return s.w.Header() }

func (s *stallWriter) WriteHeader(code int) { s.w.WriteHeader(code) }

func (s *stallWriter) Write(p []byte) (int, error) {
	s.before()
	n, err := s.w.Write(p)
	s.written += int64(n)
	return n, err
}

// FlushError lets http.ResponseController flush.
func (s *stallWriter) FlushError() error {
	s.before()
	return http.NewResponseController(s.w).Flush()
}

// Flush implements http.Flusher.
func (s *stallWriter) Flush() { _ = s.FlushError() }

// ReadFrom passes a body to the server's ReadFrom (sendfile, splice on a
// plain connection) in pieces, the deadline moved before each.
func (s *stallWriter) ReadFrom(src io.Reader) (int64, error) {
	rf, ok := s.w.(io.ReaderFrom)
	if !ok {
		buf := copyBufs.Get().(*[32 << 10]byte)
		defer copyBufs.Put(buf)
		return io.CopyBuffer(writerOnly{s}, src, buf[:])
	}
	// A source limited already (a proxied body: its rest on the backend
	// connection) is limited once: the kernel splices only from a
	// connection under at most one io.LimitedReader.
	inner, _ := src.(*io.LimitedReader)
	var total int64
	for {
		s.move(time.Now())
		piece := io.LimitedReader{R: src, N: filePiece}
		if inner != nil {
			piece.R, piece.N = inner.R, min(filePiece, inner.N)
		}
		want := piece.N
		n, err := rf.ReadFrom(&piece)
		total += n
		s.written += n
		if inner != nil {
			inner.N -= n
		}
		if err != nil || n < want || inner != nil && inner.N == 0 {
			return total, err
		}
	}
}

// Unwrap exposes the server's writer to http.ResponseController.
func (s *stallWriter) Unwrap() http.ResponseWriter { return s.w }

// stallBody is a request body under the stall bound: each read must
// bring bytes within stall. At its end the read deadline goes back to the
// request's (net/http's server then reads in the background to notice a
// client that leaves, which a client waiting for a slow answer must not
// be taken for); after a failure it stays, and the server closes the
// connection.
//
// The body may be read after the handler returned: a request body's writer
// to a backend that answered before it had the whole body outlives the
// handler. net/http's writers must not be used then (HTTP/2's dereferences
// nil: the whole process panics), so the deadline moves only while the
// handler runs.
type stallBody struct {
	rc    io.ReadCloser
	dl    deadliner
	stall time.Duration
	end   time.Time // ReadTimeout's deadline (zero: none)
	set   time.Time
	done  bool

	mu   sync.Mutex
	over bool // the handler returned: dl is not to be used
}

func (b *stallBody) Read(p []byte) (int, error) {
	if b.done {
		return b.rc.Read(p)
	}
	if now := time.Now(); b.set.IsZero() || now.Sub(b.set) >= b.stall>>4 {
		b.set = now
		b.deadline(earlier(now.Add(b.stall), b.end))
	}
	n, err := b.rc.Read(p)
	if err != nil {
		b.done = true
		if err == io.EOF {
			b.deadline(b.end)
		}
	}
	return n, err
}

// deadline sets the read deadline, unless the handler returned.
func (b *stallBody) deadline(t time.Time) {
	b.mu.Lock()
	if !b.over {
		_ = b.dl.SetReadDeadline(t)
	}
	b.mu.Unlock()
}

// handlerDone is called when the handler returned: from then on the
// deadline stays as it is.
func (b *stallBody) handlerDone() {
	b.mu.Lock()
	b.over = true
	b.mu.Unlock()
}

func (b *stallBody) Close() error { return b.rc.Close() }
