package frontend

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/securegw/gateway/proxy/internal/fieldline"
	"github.com/securegw/gateway/proxy/internal/splice"
)

// response is the lean server's http.ResponseWriter (with http.Flusher,
// http.Hijacker, io.ReaderFrom and the deadline setters of
// http.ResponseController). A body of unknown length that the handler
// finishes within pendingSize bytes gets a Content-Length; a longer one,
// or one flushed before the handler returned, is chunked (HTTP/1.1) or
// ends with the connection (HTTP/1.0).
type response struct {
	c          *leanConn
	req        *http.Request
	header     http.Header
	body       *reqBody
	status     int
	wrote      bool // a final status is set
	headSent   bool // the head is in the connection's buffer
	chunked    bool
	closeAfter bool
	handlerEnd bool
	keep10     bool  // an HTTP/1.0 request asks to keep the connection (wantsKeepAlive10)
	close10    bool  // an HTTP/1.0 request has a close option, in any Connection field
	cl         int64 // the Content-Length sent, -1 none
	written    int64
	trailers   []string    // declared by the Trailer header
	trailHead  http.Header // the head's values of the declared trailers, as WriteHeader saw them
	pending    []byte      // a small body held until its length is known
	contMu     sync.Mutex
	contSent   bool // 100 Continue went out
}

const pendingSize = 2048

func (r *response) reset(c *leanConn, req *http.Request) {
	h := r.header
	if h == nil {
		h = make(http.Header, 8)
	} else {
		clear(h)
	}
	*r = response{c: c, req: req, header: h, cl: -1}
	r.pending = c.ob.pend[:0]
}

// forget drops what the last exchange left in r (its request, body,
// header values and trailers) so that an idle connection keeps none of it.
func (r *response) forget() {
	r.req, r.body, r.trailers, r.trailHead, r.pending = nil, nil, nil, nil, nil
	clear(r.header)
}

func (r *response) Header() http.Header { return r.header }

func (r *response) WriteHeader(code int) {
	if r.c.state == http.StateHijacked {
		r.c.s.logf("frontend: WriteHeader on a hijacked connection")
		return
	}
	if r.wrote {
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		r.writeInformational(code)
		return
	}
	r.wrote, r.status = true, code
	if v := r.header["Content-Length"]; len(v) > 0 {
		if n, err := strconv.ParseInt(v[0], 10, 64); err == nil && n >= 0 {
			r.cl = n
		} else {
			r.c.s.logf("frontend: invalid Content-Length %q", v[0])
			delete(r.header, "Content-Length")
		}
	}
	if len(r.header["Trailer"]) > 0 {
		r.declareTrailers()
	}
}

// declareTrailers reads the names the Trailer header declares and keeps
// the values the header has for them now: the head sends those (as
// net/http's server, which copies the header at WriteHeader), the trailer
// the values they have when the handler returns, though the head goes out
// later (a checksum set after the body was written, the backend's in the
// head and in the trailer).
func (r *response) declareTrailers() {
	for _, v := range r.header["Trailer"] {
		for _, k := range strings.Split(v, ",") {
			// Not a framing or routing field (Content-Length as a trailer
			// would leave the head unframed), nor a name that is not one
			// (written as it is, CR and LF in it would add fields): net/http's
			// server writes neither.
			if k = http.CanonicalHeaderKey(strings.TrimSpace(k)); !httpguts.ValidTrailerHeader(k) || !httpguts.ValidHeaderFieldName(k) {
				continue
			}
			r.trailers = append(r.trailers, k)
			if vv := r.header[k]; len(vv) > 0 {
				if r.trailHead == nil {
					r.trailHead = make(http.Header, 1)
				}
				r.trailHead[k] = slices.Clone(vv)
			}
		}
	}
}

func (s *Lean) logf(format string, args ...any) {
	if s.log != nil {
		s.log.Warn(fmt.Sprintf(format, args...), "listener", s.opts.Name)
	}
}

// writeInformational sends a 1xx answer at once (103 Early Hints, a 100
// the handler writes itself), to an HTTP/1.1 client only: RFC 9110 §15.2
// forbids it to HTTP/1.0, whose client would take it for the answer.
func (r *response) writeInformational(code int) {
	if !r.req.ProtoAtLeast(1, 1) {
		return
	}
	r.contMu.Lock()
	defer r.contMu.Unlock()
	bw := r.c.bw
	writeStatusLine(bw, true, code)
	writeHeaderFields(bw, r.header, nil)
	_, _ = bw.WriteString("\r\n")
	_ = bw.Flush()
	if code == http.StatusContinue {
		r.contSent = true
	}
}

// sendContinue writes 100 Continue before the body's first read, unless
// the answer began.
func (r *response) sendContinue() {
	r.contMu.Lock()
	defer r.contMu.Unlock()
	if r.contSent || r.headSent {
		return
	}
	r.contSent = true
	_, _ = r.c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
	_ = r.c.bw.Flush()
}

func bodyAllowed(code int) bool {
	return code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified
}

func (r *response) Write(p []byte) (int, error) {
	if r.c.state == http.StateHijacked {
		return 0, http.ErrHijacked
	}
	if !r.wrote {
		r.WriteHeader(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !bodyAllowed(r.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if r.cl >= 0 && r.written+int64(len(p)) > r.cl {
		return 0, http.ErrContentLength
	}
	if !r.headSent {
		if r.cl < 0 && len(r.pending)+len(p) <= cap(r.pending) {
			r.pending = append(r.pending, p...)
			r.written += int64(len(p))
			return len(p), nil
		}
		r.sendHead()
	}
	r.written += int64(len(p))
	if r.req.Method == http.MethodHead {
		return len(p), nil
	}
	bw := r.c.bw
	if r.chunked {
		if err := writeChunk(bw, p); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return bw.Write(p)
}

// WriteString saves io.WriteString a copy.
func (r *response) WriteString(s string) (int, error) {
	if r.wrote && !r.headSent && r.cl < 0 && len(r.pending)+len(s) <= cap(r.pending) && bodyAllowed(r.status) {
		r.pending = append(r.pending, s...)
		r.written += int64(len(s))
		return len(s), nil
	}
	return r.Write([]byte(s))
}

// ReadFrom sends a body by the kernel when the client connection is plain
// TCP and the body is not chunked: from a TCP connection by splice(2)
// (package splice), from a file by sendfile(2).
func (r *response) ReadFrom(src io.Reader) (int64, error) {
	if !r.wrote {
		r.WriteHeader(http.StatusOK)
	}
	if r.c.tcp == nil || r.cl < 0 || r.req.Method == http.MethodHead || !bodyAllowed(r.status) || r.c.state == http.StateHijacked {
		return r.copyFrom(src)
	}
	r.sendHead()
	if err := r.c.bw.Flush(); err != nil {
		return 0, err
	}
	// Never more than the Content-Length announced. A source limited
	// already (a proxied body: its rest on the backend connection) is
	// limited once, not twice: the kernel splices only from a TCP
	// connection under at most one io.LimitedReader.
	lr := io.LimitedReader{R: src, N: r.cl - r.written}
	inner, _ := src.(*io.LimitedReader)
	if inner != nil {
		lr.R, lr.N = inner.R, min(lr.N, inner.N)
	}
	var n int64
	var err error
	c := r.c
	if tc, ok := lr.R.(*net.TCPConn); ok {
		// A TCP source (the backend connection): spliced by raw system
		// calls (package splice), cheaper than TCPConn.ReadFrom's; the
		// client's write deadline moves by progress.
		var srcFailed bool
		n, srcFailed, err = splice.CopySides(splice.Side{Conn: c.tcp, Idle: c.stall, End: c.writeEnd}, splice.Side{Conn: tc}, lr.N)
		lr.N -= n
		c.wdSet = time.Time{}
		var oe *net.OpError
		if err != nil && !srcFailed && !errors.As(err, &oe) {
			// The client's side failed: a write error, as Write's are.
			err = &net.OpError{Op: "write", Net: "tcp", Source: c.tcp.LocalAddr(), Addr: c.tcp.RemoteAddr(), Err: err}
		}
	} else if c.stall > 0 {
		// sendfile(2) in pieces, the deadline moved before each; a file's
		// piece that timed out while the client took bytes goes on (a slow
		// reader; sendfile leaves the file's offset after what was sent).
		_, file := lr.R.(*os.File)
		for lr.N > 0 {
			c.writeDeadline(true, true)
			piece := io.LimitedReader{R: lr.R, N: min(lr.N, filePiece)}
			var k int64
			k, err = c.tcp.ReadFrom(&piece)
			n += k
			lr.N -= k
			if err != nil && file && splice.Timeout(err) && c.acked.Moved(c.sock) {
				continue
			}
			if err != nil || piece.N > 0 {
				break // failed, or the source ended
			}
		}
	} else {
		n, err = c.tcp.ReadFrom(&lr)
	}
	if inner != nil {
		inner.N -= n
	}
	r.written += n
	return n, err
}

// filePiece is how much of a file goes under one move of the stall
// deadline (ReadFrom).
const filePiece = 256 << 10

func (r *response) copyFrom(src io.Reader) (int64, error) {
	buf := copyBufs.Get().(*[32 << 10]byte)
	defer copyBufs.Put(buf)
	return io.CopyBuffer(writerOnly{r}, src, buf[:])
}

var copyBufs = sync.Pool{New: func() any { return new([32 << 10]byte) }}

// writerOnly hides a writer's ReadFrom from io.Copy.
type writerOnly struct{ io.Writer }

// sendHead writes the status line and the header fields into the
// connection's buffer; the pending body follows.
func (r *response) sendHead() {
	if r.headSent {
		return
	}
	r.contMu.Lock()
	defer r.contMu.Unlock()
	r.headSent = true
	bw, h, req, code := r.c.bw, r.header, r.req, r.status
	is11 := req.ProtoAtLeast(1, 1)
	// Keep-alive: a close option (in any Connection field) ends the
	// connection (RFC 9112 §9.6); an HTTP/1.0 one is kept only when its
	// first Connection field says keep-alive (keep10, as net/http's server
	// reads it) and the answer has a length (below).
	if httpguts.HeaderValuesContainsToken(h["Connection"], "close") || is11 && req.Close || !is11 && (!r.keep10 || r.close10) || r.c.s.shutdown.Load() {
		r.closeAfter = true
	}
	if r.body != nil && !r.closeAfter && !r.contSent && r.body.unread() {
		// The client asked for 100 Continue and the body was not read:
		// unless told to close, it would send the body anyway (RFC 9110
		// §10.1.1), to be read as the next request. Once 100 Continue
		// went out, the body comes, and finish reads its rest or closes:
		// a body still in flight (a proxied upload's last bytes on their
		// way to the backend, which answered on seeing them) does not
		// close the connection.
		r.closeAfter = true
	}
	setLength := false
	if bodyAllowed(code) {
		delete(h, "Transfer-Encoding")
		if r.cl < 0 {
			switch {
			case r.handlerEnd && len(r.trailers) == 0 && (req.Method != http.MethodHead || len(r.pending) > 0):
				r.cl, setLength = int64(len(r.pending)), true
			case req.Method == http.MethodHead:
			case is11:
				r.chunked = true
			default:
				r.closeAfter = true // HTTP/1.0: the body ends with the connection
			}
		}
	} else {
		delete(h, "Transfer-Encoding")
		if code != http.StatusNotModified {
			delete(h, "Content-Length")
		}
	}
	if r.closeAfter && !httpguts.HeaderValuesContainsToken(h["Connection"], "close") {
		delete(h, "Connection") // the handler's keep-alive would be a false promise
	}
	writeStatusLine(bw, is11, code)
	writeHeaderFields(bw, h, r.trailers)
	for k, vv := range r.trailHead {
		for _, v := range vv {
			writeField(bw, k, v) // a declared trailer's value at WriteHeader
		}
	}
	if _, ok := h["Date"]; !ok {
		_, _ = bw.WriteString("Date: ")
		_, _ = bw.WriteString(httpDate())
		_, _ = bw.WriteString("\r\n")
	}
	if setLength {
		_, _ = bw.WriteString("Content-Length: ")
		writeInt(bw, r.cl, 10)
		_, _ = bw.WriteString("\r\n")
	}
	if r.chunked {
		_, _ = bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if _, ok := h["Connection"]; !ok {
		// An HTTP/1.0 answer says keep-alive when the connection is kept
		// and nothing when it closes (1.0's default), as net/http's, but
		// close to a request that had the option (as the net/http front
		// does, netHTTPRules).
		switch {
		case !is11 && !r.closeAfter:
			_, _ = bw.WriteString("Connection: keep-alive\r\n")
		case r.closeAfter && (is11 || r.close10):
			_, _ = bw.WriteString("Connection: close\r\n")
		}
	}
	_, _ = bw.WriteString("\r\n")
	if p := r.pending; len(p) > 0 && req.Method != http.MethodHead && bodyAllowed(code) {
		r.pending = r.pending[:0]
		if r.chunked {
			_ = writeChunk(bw, p)
		} else {
			_, _ = bw.Write(p)
		}
	}
}

// finish ends the answer after the handler returned: the head if not
// sent, the last chunk and trailers, the flush, and the rest of the
// request body.
func (r *response) finish() {
	r.handlerEnd = true
	if !r.wrote {
		r.WriteHeader(http.StatusOK)
	}
	bodyDone := r.body == nil
	if !bodyDone && !r.headSent {
		bodyDone = true
		if !r.body.finish() {
			// What is left of the body is too much to read (or will not
			// come): the answer says the connection closes.
			r.closeAfter = true
			r.c.unreadBody = true
		}
	}
	r.sendHead()
	bw := r.c.bw
	if r.chunked {
		_, _ = bw.WriteString("0\r\n")
		r.writeTrailers(bw)
		_, _ = bw.WriteString("\r\n")
	}
	if r.cl >= 0 && r.written != r.cl && r.req.Method != http.MethodHead && bodyAllowed(r.status) {
		r.closeAfter = true // the body is shorter than announced: the client must not wait for more
	}
	switch {
	case r.c.mayDefer(r):
		r.c.deferred = true // sent by the wait for the next request (deferred.go)
	case bw.Flush() != nil:
		r.closeAfter = true
	}
	if !bodyDone {
		switch {
		case r.closeAfter:
			// The connection closes after an answer whose head went out
			// before the handler returned: the body is not read on, but
			// a reader that outlived the handler must be stopped (abandon).
			// Its client may still send it: the close lingers, lest a
			// reset destroy the answer before the client read it.
			if r.body.abandon() {
				r.c.unreadBody = true
			}
		case !r.body.finish():
			r.closeAfter = true
			r.c.unreadBody = true
		}
	}
}

// writeTrailers writes the declared trailers' values and those set with
// http.TrailerPrefix.
func (r *response) writeTrailers(bw *bufio.Writer) {
	h := r.header
	for _, k := range r.trailers {
		for _, v := range h[k] {
			writeField(bw, k, v)
		}
	}
	for k, vv := range h {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok && httpguts.ValidHeaderFieldName(name) {
			for _, v := range vv {
				writeField(bw, name, v)
			}
		}
	}
}

// Flush sends what is buffered.
func (r *response) Flush() { _ = r.FlushError() }

// FlushError lets http.ResponseController flush.
func (r *response) FlushError() error {
	if r.c.state == http.StateHijacked {
		return http.ErrHijacked
	}
	if !r.wrote {
		r.WriteHeader(http.StatusOK)
	}
	r.sendHead()
	return r.c.bw.Flush()
}

// Hijack hands the connection over (WebSocket): its buffered bytes come
// with it; the server forgets it.
func (r *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c := r.c
	if c.state == http.StateHijacked {
		return nil, nil, http.ErrHijacked
	}
	if r.wrote {
		// What the handler wrote (a 101 set with WriteHeader) goes out
		// before the connection is handed over, as with net/http's Hijack.
		r.sendHead()
		if err := c.bw.Flush(); err != nil {
			return nil, nil, err
		}
	}
	c.cr.stopWatch()
	_ = c.nc.SetDeadline(time.Time{})
	c.deadlineStale, c.stall, c.rdSet = false, 0, time.Time{}
	c.setState(http.StateHijacked)
	c.s.untrack(c)
	c.handOver()
	return c.nc, bufio.NewReadWriter(c.br, c.bw), nil
}

// SetReadDeadline and SetWriteDeadline serve http.ResponseController.
func (r *response) SetReadDeadline(t time.Time) error {
	r.c.deadlineStale = false
	return r.c.nc.SetReadDeadline(t)
}

func (r *response) SetWriteDeadline(t time.Time) error { return r.c.nc.SetWriteDeadline(t) }

// EnableFullDuplex is a no-op: the lean server lets a handler read the
// body after writing.
func (r *response) EnableFullDuplex() error { return nil }

// writeStatusLine writes the status line of an answer in HTTP/1.1, or in
// HTTP/1.0 to an HTTP/1.0 request (!is11), as net/http's server does.
func writeStatusLine(bw *bufio.Writer, is11 bool, code int) {
	if is11 {
		_, _ = bw.WriteString("HTTP/1.1 ")
	} else {
		_, _ = bw.WriteString("HTTP/1.0 ")
	}
	writeInt(bw, int64(code), 10)
	_ = bw.WriteByte(' ')
	if t := http.StatusText(code); t != "" {
		_, _ = bw.WriteString(t)
	} else {
		_, _ = bw.WriteString("status code ")
		writeInt(bw, int64(code), 10)
	}
	_, _ = bw.WriteString("\r\n")
}

// writeHeaderFields writes h's fields but the trailers: names that are not
// valid are left out, CR and LF in values become spaces (as net/http does).
func writeHeaderFields(bw *bufio.Writer, h http.Header, trailers []string) {
outer:
	for k, vv := range h {
		if !httpguts.ValidHeaderFieldName(k) || strings.HasPrefix(k, http.TrailerPrefix) {
			continue
		}
		for _, t := range trailers {
			if k == t {
				continue outer
			}
		}
		for _, v := range vv {
			writeField(bw, k, v)
		}
	}
}

func writeField(bw *bufio.Writer, k, v string) {
	if strings.IndexByte(v, '\r') >= 0 || strings.IndexByte(v, '\n') >= 0 { // ContainsAny builds a set per call
		v = strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
	}
	fieldline.Write(bw, k, strings.TrimSpace(v))
}

// writeChunk writes p as one chunk; the error is the buffer's.
func writeChunk(bw *bufio.Writer, p []byte) error {
	writeInt(bw, int64(len(p)), 16)
	_, _ = bw.WriteString("\r\n")
	_, _ = bw.Write(p)
	_, err := bw.WriteString("\r\n")
	return err
}

// writeInt writes n in base without an allocation.
func writeInt(bw *bufio.Writer, n int64, base int) {
	if bw.Available() < 20 {
		_ = bw.Flush()
	}
	_, _ = bw.Write(strconv.AppendInt(bw.AvailableBuffer(), n, base))
}

// The Date header, formatted once a second.
var dateCache struct {
	mu   sync.Mutex
	sec  int64
	text string
}

func httpDate() string {
	now := time.Now()
	s := now.Unix()
	dateCache.mu.Lock()
	defer dateCache.mu.Unlock()
	if dateCache.sec != s {
		dateCache.sec, dateCache.text = s, now.UTC().Format(http.TimeFormat)
	}
	return dateCache.text
}
