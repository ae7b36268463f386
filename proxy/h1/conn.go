package h1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/securegw/gateway/proxy/internal/fieldline"
)

// Conn is one backend connection, used by one request at a time.
type Conn struct {
	nc     net.Conn
	tcp    *net.TCPConn // the plain TCP connection under nc, nil for TLS
	w      *wire        // what br and bw read from and write to
	br     *bufio.Reader
	bw     *bufio.Writer
	pool   *Pool
	idleAt int64
	// Reused: the connection served a request before (a failure before
	// any answer may be its backend having closed it meanwhile).
	Reused bool
	// reusable after the current response: set by ReadResponse, cleared
	// by Discard and by any error.
	keep bool
	// peekFirst: the last response had no body by rule (HEAD, 204, 304),
	// the kind a backend gets wrong by sending one anyway: the pool peeks
	// at the connection before it serves another request, however short
	// its idle time, so that such bytes are not read as that request's
	// answer.
	peekFirst bool
	// sendOnRead: FlushOnRead may hold the head for the next read (the
	// connection is new, or its last answer came just before).
	sendOnRead bool
	body       body
	head       []byte
	kv         []span
	hdr        http.Header // the response header, reused from response to response
	// interrupt moves the read deadline to the past: made once per connection.
	interrupt func()
}

// Interrupt returns a function that makes a blocked read of the
// connection fail at once (a read deadline in the past): the same function
// for the connection's life, so that arming it per request (context.AfterFunc)
// allocates nothing for it.
func (c *Conn) Interrupt() func() { return c.interrupt }

type span struct{ k0, k1, v0, v1 int }

// NetConn is the underlying connection (deadlines, closing).
func (c *Conn) NetConn() net.Conn { return c.nc }

// Write buffers p for the backend.
// Write, Flush, WriteChunk, WriteLastChunk and ReadFrom may run on another
// goroutine than the reading of the response (a request body is sent while
// the answer is awaited): the caller Discards the connection when a write
// failed or did not finish.
func (c *Conn) Write(p []byte) (int, error) { return c.bw.Write(p) }

// Flush sends what is buffered.
func (c *Conn) Flush() error { return c.bw.Flush() }

// FlushOnRead sends what is buffered, a request head with nothing to
// follow it: on a plain TCP connection new or busy (its last answer came
// within sendOnReadWithin) the next read sends it, from inside its wait
// for the answer, and that read is the only read(2) the answer costs (see
// wire). Nothing may be written before that read.
func (c *Conn) FlushOnRead() error {
	if c.w.raw == nil || !c.sendOnRead {
		return c.bw.Flush()
	}
	c.w.holding = true
	err := c.bw.Flush()
	c.w.holding = false
	return err
}

// Buffered reports bytes of the backend's answer already read and waiting.
func (c *Conn) Buffered() int { return c.br.Buffered() }

// Discard makes the connection unusable for another request: it is closed
// when released.
func (c *Conn) Discard() { c.keep = false }

// Release returns the connection to its pool when its response was read
// to the end, nothing the backend sent after it is buffered, and both
// sides keep it alive; else it closes it. Bytes after the end of an answer
// are no answer to anything: the next request on the connection would read
// them as its own (response desync). The connection, its response and body
// must not be used afterwards.
func (c *Conn) Release() {
	if c.keep && c.body.done && c.br.Buffered() == 0 {
		c.keep = false
		c.pool.put(c)
		return
	}
	c.keep = false
	c.nc.Close()
}

// Close closes the connection.
func (c *Conn) Close() {
	c.keep = false
	c.nc.Close()
}

// HeaderError is a request the connection refused to write: a header name
// or value (or the method, target or host) that is not valid HTTP. The
// backend is not at fault.
type HeaderError struct{ What string }

func (e *HeaderError) Error() string { return "invalid request " + e.What }

// WriteRequestHead buffers the request line (path and query escaped), Host, the fields of h (which
// the caller cleared of hop-by-hop and framing fields) and the framing:
// Content-Length when contentLength >= 0, else chunked when chunked,
// else none; a Trailer field names the trailers a chunked body will end with.
func (c *Conn) WriteRequestHead(method, path, query, host string, h http.Header, contentLength int64, chunked bool, trailers []string) error {
	if !validMethod(method) {
		return &HeaderError{"method"}
	}
	if !validTarget(path) || !validQuery(query) {
		return &HeaderError{"target"}
	}
	if !httpguts.ValidHostHeader(host) {
		return &HeaderError{"host"}
	}
	w := c.bw
	w.WriteString(method)
	w.WriteByte(' ')
	w.WriteString(path)
	if query != "" {
		w.WriteByte('?')
		w.WriteString(query)
	}
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(host)
	w.WriteString("\r\n")
	for k, vv := range h {
		if !httpguts.ValidHeaderFieldName(k) {
			c.bw.Reset(c.w)
			return &HeaderError{"header name"}
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				c.bw.Reset(c.w)
				return &HeaderError{"value of header " + strconv.Quote(k)}
			}
			fieldline.Write(w, k, trimOWS(v))
		}
	}
	switch {
	case contentLength >= 0:
		var num [20]byte
		w.WriteString("Content-Length: ")
		w.Write(strconv.AppendInt(num[:0], contentLength, 10))
		w.WriteString("\r\n")
	case chunked:
		w.WriteString("Transfer-Encoding: chunked\r\n")
		for i, k := range trailers {
			if !httpguts.ValidHeaderFieldName(k) {
				c.bw.Reset(c.w)
				return &HeaderError{"trailer name"}
			}
			if i == 0 {
				w.WriteString("Trailer: ")
			} else {
				w.WriteString(", ")
			}
			w.WriteString(k)
		}
		if len(trailers) > 0 {
			w.WriteString("\r\n")
		}
	}
	_, err := w.WriteString("\r\n")
	return err
}

// WriteChunk buffers p as one chunk of a chunked body.
func (c *Conn) WriteChunk(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	var num [18]byte
	c.bw.Write(strconv.AppendUint(num[:0], uint64(len(p)), 16))
	c.bw.WriteString("\r\n")
	c.bw.Write(p)
	_, err := c.bw.WriteString("\r\n")
	return err
}

// WriteLastChunk ends a chunked body with its trailer fields (only the
// valid ones) and sends everything buffered.
func (c *Conn) WriteLastChunk(trailer http.Header) error {
	c.bw.WriteString("0\r\n")
	for k, vv := range trailer {
		if !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		for _, v := range vv {
			if httpguts.ValidHeaderFieldValue(v) {
				c.bw.WriteString(k)
				c.bw.WriteString(": ")
				c.bw.WriteString(trimOWS(v))
				c.bw.WriteString("\r\n")
			}
		}
	}
	c.bw.WriteString("\r\n")
	return c.Flush()
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		if !httpguts.IsTokenRune(rune(m[i])) {
			return false
		}
	}
	return true
}

func validTarget(t string) bool {
	if t == "" {
		return false
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

func validQuery(q string) bool {
	for i := 0; i < len(q); i++ {
		if c := q[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

func trimOWS(v string) string {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}

// Errors of a malformed response: the backend broke the protocol.
var (
	ErrMalformed   = errors.New("malformed HTTP response from the backend")
	ErrHeadTooLong = errors.New("backend response head too long")
)

// MaxHeadBytes bounds a response head.
const MaxHeadBytes = 1 << 20

// ReadResponse reads the next response head into resp and sets resp.Body
// to a reader of its body. resp.Header is the connection's own map, valid
// until the connection is released or closed (copy the values you keep:
// they are not overwritten); the values are sliced from one string and
// stored in vals when they fit (memory of the caller's request), else in
// a new slice. An informational (1xx) response has no body: the caller
// reads the next response. For a request of method HEAD no body is read.
func (c *Conn) ReadResponse(resp *http.Response, method string, vals []string) error {
	err := c.readHead(resp, method, vals)
	if err != nil {
		c.keep = false
		if errors.Is(err, bufio.ErrBufferFull) {
			err = ErrHeadTooLong
		}
	}
	return err
}

// Peek waits until the backend starts to answer (or the read deadline).
func (c *Conn) Peek() error {
	_, err := c.br.Peek(1)
	return err
}

// HeadBuffered reports whether a whole response head (up to its empty
// line) is in the read buffer: ReadResponse will read nothing more.
func (c *Conn) HeadBuffered() bool {
	b, _ := c.br.Peek(c.br.Buffered())
	return bytes.Contains(b, headEnd) || bytes.Contains(b, headEndLF)
}

// The end of a head: a line's end, then an empty line (bare LFs accepted).
var (
	headEnd   = []byte("\n\r\n")
	headEndLF = []byte("\n\n")
)

func (c *Conn) readHead(resp *http.Response, method string, vals []string) error {
	head, kv := c.head[:0], c.kv[:0]
	statusEnd := -1
	for {
		start := len(head)
		for {
			line, err := c.br.ReadSlice('\n')
			head = append(head, line...)
			if len(head) > MaxHeadBytes {
				return ErrHeadTooLong
			}
			if err == bufio.ErrBufferFull {
				continue
			}
			if err != nil {
				if err == io.EOF && len(head) > 0 {
					err = io.ErrUnexpectedEOF
				}
				return err
			}
			break
		}
		// Strip the line's CRLF (or bare LF).
		end := len(head) - 1
		if end > start && head[end-1] == '\r' {
			end--
		}
		head = head[:end]
		if statusEnd < 0 {
			statusEnd = end
			continue
		}
		if end == start {
			break // the empty line ending the head
		}
		line := head[start:end]
		colon := -1
		for i, b := range line {
			if b == ':' {
				colon = i
				break
			}
		}
		if colon <= 0 || line[0] == ' ' || line[0] == '\t' {
			return fmt.Errorf("%w: bad header line", ErrMalformed) // includes obs-fold
		}
		v0, v1 := start+colon+1, end
		for v0 < v1 && (head[v0] == ' ' || head[v0] == '\t') {
			v0++
		}
		for v1 > v0 && (head[v1-1] == ' ' || head[v1-1] == '\t') {
			v1--
		}
		kv = append(kv, span{start, start + colon, v0, v1})
	}
	c.head, c.kv = head, kv
	s := string(head)
	if err := parseStatusLine(resp, s[:statusEnd]); err != nil {
		return err
	}
	h := c.hdr
	if h == nil || len(h) > 64 {
		h = make(http.Header, max(len(kv), 8))
		c.hdr = h
	}
	clear(h)
	if len(kv) <= len(vals) {
		vals = vals[:len(kv)]
	} else {
		vals = make([]string, len(kv))
	}
	for i, sp := range kv {
		k, v := s[sp.k0:sp.k1], s[sp.v0:sp.v1]
		if !httpguts.ValidHeaderFieldName(k) || !httpguts.ValidHeaderFieldValue(v) {
			return fmt.Errorf("%w: invalid header field", ErrMalformed)
		}
		k = http.CanonicalHeaderKey(k)
		vals[i] = v
		if prior, ok := h[k]; ok {
			h[k] = append(prior, v)
		} else {
			h[k] = vals[i : i+1 : i+1]
		}
	}
	resp.Header = h
	resp.Trailer = nil
	resp.TransferEncoding = nil
	resp.ContentLength = -1
	resp.Close = false
	resp.Body = http.NoBody
	return c.framing(resp, method)
}

func parseStatusLine(resp *http.Response, line string) error {
	// HTTP/1.x SP 3DIGIT [SP reason]
	if len(line) < 12 || line[:7] != "HTTP/1." || (line[7] != '0' && line[7] != '1') || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return fmt.Errorf("%w: bad status line", ErrMalformed)
	}
	code := 0
	for i := 9; i < 12; i++ {
		d := line[i]
		if d < '0' || d > '9' {
			return fmt.Errorf("%w: bad status code", ErrMalformed)
		}
		code = code*10 + int(d-'0')
	}
	if code < 100 {
		return fmt.Errorf("%w: bad status code", ErrMalformed)
	}
	resp.Proto, resp.ProtoMajor, resp.ProtoMinor = line[:8], 1, int(line[7]-'0')
	resp.Status, resp.StatusCode = line[9:], code
	return nil
}

// framing decides how the body is delimited (RFC 9112 §6.3) and whether
// the connection stays open after it.
func (c *Conn) framing(resp *http.Response, method string) error {
	h := resp.Header
	keep := resp.ProtoMinor == 1 && !hasToken(h["Connection"], "close")
	b := &c.body
	*b = body{c: c, trailer: &resp.Trailer}
	resp.Body = b
	te, hasTE := h["Transfer-Encoding"]
	if hasTE {
		if len(te) != 1 || !asciiEqualFold(te[0], "chunked") || resp.ProtoMinor == 0 {
			return fmt.Errorf("%w: unsupported transfer encoding", ErrMalformed)
		}
		delete(h, "Transfer-Encoding")
		if _, ok := h["Content-Length"]; ok {
			// Both: chunked wins (RFC 9112 §6.3), and the connection is
			// not reused: someone between us and the backend may disagree.
			delete(h, "Content-Length")
			keep = false
		}
	}
	cl := int64(-1)
	if vv := h["Content-Length"]; len(vv) > 0 {
		for i, v := range vv {
			n, ok := parseLength(v)
			if !ok || i > 0 && n != cl {
				return fmt.Errorf("%w: bad Content-Length", ErrMalformed)
			}
			cl = n
		}
		if len(vv) > 1 {
			h["Content-Length"] = vv[:1]
		}
	}
	if tr := h["Trailer"]; len(tr) > 0 && hasTE {
		resp.Trailer = make(http.Header, len(tr))
		for _, v := range tr {
			for i := 0; i < len(v); {
				j := i
				for j < len(v) && v[j] != ',' {
					j++
				}
				if k := trimOWS(v[i:j]); k != "" {
					resp.Trailer[http.CanonicalHeaderKey(k)] = nil
				}
				i = j + 1
			}
		}
	}
	delete(h, "Trailer")
	c.keep = keep
	code := resp.StatusCode
	switch {
	case code == http.StatusSwitchingProtocols:
		// Not asked for (upgrades are not sent through this client): the
		// connection is closed when the body is.
		b.done, c.keep = true, false
		resp.ContentLength = 0
		return nil
	case code < 200:
		b.done = true
		resp.Body, resp.ContentLength = http.NoBody, 0
		return nil
	case method == http.MethodHead || code == http.StatusNoContent || code == http.StatusNotModified:
		b.done, c.peekFirst = true, true
		resp.ContentLength = cl
		if code == http.StatusNoContent {
			resp.ContentLength = 0
		}
		return nil
	case hasTE:
		b.kind = bodyChunked
		resp.TransferEncoding = chunkedTE
	case cl >= 0:
		b.kind, b.n = bodyLength, cl
		resp.ContentLength = cl
		b.done = cl == 0
	default:
		b.kind = bodyClose
		c.keep = false
	}
	resp.Close = !c.keep
	return nil
}

var chunkedTE = []string{"chunked"}

func parseLength(v string) (int64, bool) {
	if v == "" || len(v) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		d := v[i]
		if d < '0' || d > '9' {
			return 0, false
		}
		n = n*10 + int64(d-'0')
	}
	return n, true
}

// hasToken reports whether a comma-separated list field holds tok (any case).
func hasToken(vv []string, tok string) bool {
	for _, v := range vv {
		for i := 0; i < len(v); {
			j := i
			for j < len(v) && v[j] != ',' {
				j++
			}
			if asciiEqualFold(trimOWS(v[i:j]), tok) {
				return true
			}
			i = j + 1
		}
	}
	return false
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// SetReadDeadline bounds the wait for the backend's next bytes.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.nc.SetReadDeadline(t) }
