package h1

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"

	"golang.org/x/net/http/httpguts"
)

const (
	bodyLength  = iota // Content-Length: n bytes
	bodyChunked        // chunked, then trailers
	bodyClose          // until the backend closes the connection
)

// maxTrailerBytes bounds the trailer section of a chunked body.
const maxTrailerBytes = 64 << 10

// body is a response body read from its connection. Close releases the
// connection (to the pool when the body was read to the end).
type body struct {
	c       *Conn
	kind    int
	n       int64 // bytes left: of the body (length) or of the chunk (chunked)
	inChunk bool  // chunked: inside a chunk's data
	done    bool  // the body was read to its end (trailers included)
	err     error // sticky read error
	closed  bool
	trailer *http.Header // the response's Trailer, filled at the end
}

// ErrBodyClosed is a read after Close.
var ErrBodyClosed = errors.New("h1: read on a closed body")

func (b *body) Read(p []byte) (int, error) {
	switch {
	case b.closed:
		return 0, ErrBodyClosed
	case b.done:
		return 0, io.EOF
	case b.err != nil:
		return 0, b.err
	case len(p) == 0:
		return 0, nil
	}
	var n int
	var err error
	switch b.kind {
	case bodyLength:
		if int64(len(p)) > b.n {
			p = p[:b.n]
		}
		n, err = b.c.br.Read(p)
		b.n -= int64(n)
		if b.n == 0 {
			b.done, err = true, io.EOF
		} else if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
	case bodyChunked:
		n, err = b.readChunked(p)
	default:
		n, err = b.c.br.Read(p)
		if err == io.EOF {
			b.done = true
		}
	}
	if err != nil && err != io.EOF {
		b.err = err
		b.c.keep = false
	}
	return n, err
}

// readChunked reads chunk data into p: from the current chunk, then from
// the chunks after it as long as they are already buffered, so that a
// body of small chunks moves in large reads; it never waits for the
// backend once it has bytes for the caller.
func (b *body) readChunked(p []byte) (int, error) {
	n := 0
	for {
		m, err := b.readChunk(p[n:])
		n += m
		if err != nil || b.done || n == len(p) || b.inChunk || !b.nextChunkBuffered() {
			return n, err
		}
	}
}

// nextChunkBuffered reports whether the next chunk's size line and some of
// its data are buffered, and it is not the last chunk (whose trailers may
// not be here yet).
func (b *body) nextChunkBuffered() bool {
	br := b.c.br
	k := br.Buffered()
	if k < 3 {
		return false
	}
	buf, _ := br.Peek(k)
	var size int64
	for i, c := range buf {
		switch {
		case c >= '0' && c <= '9':
			size = size<<4 | int64(c-'0')
		case c >= 'a' && c <= 'f':
			size = size<<4 | int64(c-'a'+10)
		case c >= 'A' && c <= 'F':
			size = size<<4 | int64(c-'A'+10)
		default:
			// Some data must follow the line, or reading it would wait.
			for j := i; j < len(buf); j++ {
				if buf[j] == '\n' {
					return size > 0 && j+1 < len(buf)
				}
			}
			return false
		}
		if i >= 15 {
			return false // readChunkSize reports it
		}
	}
	return false
}

// readChunk reads data of the current chunk (after its size line, read
// first when needed).
func (b *body) readChunk(p []byte) (int, error) {
	br := b.c.br
	if !b.inChunk {
		size, err := readChunkSize(br)
		if err != nil {
			return 0, err
		}
		if size == 0 {
			if err := b.readTrailer(); err != nil {
				return 0, err
			}
			b.done = true
			return 0, io.EOF
		}
		b.n, b.inChunk = size, true
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := br.Read(p)
	b.n -= int64(n)
	if err == io.EOF {
		return n, io.ErrUnexpectedEOF
	}
	if err != nil {
		return n, err
	}
	if b.n == 0 {
		b.inChunk = false
		if err := readCRLF(br); err != nil {
			return n, err
		}
		// The end of the body is often already here: report it with the
		// last bytes, so that a caller does not wait for another read.
		if br.Buffered() >= 5 {
			if peek, _ := br.Peek(5); string(peek) == "0\r\n\r\n" {
				br.Discard(5)
				b.done = true
				return n, io.EOF
			}
		}
	}
	return n, nil
}

func readCRLF(br *bufio.Reader) error {
	c, err := br.ReadByte()
	if err == nil && c == '\r' {
		c, err = br.ReadByte()
	}
	if err != nil {
		return eofIsUnexpected(err)
	}
	if c != '\n' {
		return fmt.Errorf("%w: bad chunk end", ErrMalformed)
	}
	return nil
}

func eofIsUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readChunkSize reads "HEX[;ext]CRLF".
func readChunkSize(br *bufio.Reader) (int64, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if err == bufio.ErrBufferFull {
			return 0, fmt.Errorf("%w: chunk size line too long", ErrMalformed)
		}
		return 0, eofIsUnexpected(err)
	}
	var n int64
	digits := 0
	for _, c := range line {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			if digits == 0 || c != ';' && c != '\r' && c != '\n' && c != ' ' && c != '\t' {
				return 0, fmt.Errorf("%w: bad chunk size", ErrMalformed)
			}
			return n, nil
		}
		if digits++; digits > 15 {
			return 0, fmt.Errorf("%w: chunk too large", ErrMalformed)
		}
		n = n<<4 | int64(d)
	}
	return 0, fmt.Errorf("%w: bad chunk size", ErrMalformed)
}

// readTrailer reads the trailer fields after the last chunk, up to the
// empty line, into the response's Trailer.
func (b *body) readTrailer() error {
	total := 0
	for {
		line, err := b.c.br.ReadSlice('\n')
		if err != nil {
			if err == bufio.ErrBufferFull {
				return fmt.Errorf("%w: trailer line too long", ErrMalformed)
			}
			return eofIsUnexpected(err)
		}
		if total += len(line); total > maxTrailerBytes {
			return fmt.Errorf("%w: trailers too long", ErrMalformed)
		}
		s := trimCRLF(line)
		if len(s) == 0 {
			return nil
		}
		i := 0
		for i < len(s) && s[i] != ':' {
			i++
		}
		if i == 0 || i == len(s) {
			return fmt.Errorf("%w: bad trailer line", ErrMalformed)
		}
		k, v := string(s[:i]), trimOWS(string(s[i+1:]))
		if !httpguts.ValidHeaderFieldName(k) || !httpguts.ValidHeaderFieldValue(v) {
			return fmt.Errorf("%w: bad trailer field", ErrMalformed)
		}
		if *b.trailer == nil {
			*b.trailer = http.Header{}
		}
		b.trailer.Add(k, v)
	}
}

func trimCRLF(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

// Buffered is the number of body bytes (or framing) already read from the
// connection: a Read will not block while it is positive.
func (b *body) Buffered() int { return b.c.br.Buffered() }

// Done reports whether the body was read to its end.
func (b *body) Done() bool { return b.done }

// SpliceMin is the smallest rest of a body worth a splice(2) pipe.
const SpliceMin = 64 << 10

// WriteTo copies the body to w. The bytes of a Content-Length body on a
// plain TCP connection that are not buffered yet go through
// w.(io.ReaderFrom) with the TCP connection as the source: when w is a
// plain TCP connection (net/http's response writer forwards to it) the
// kernel moves them with splice(2).
func (b *body) WriteTo(w io.Writer) (int64, error) {
	if b.kind != bodyLength || b.c.tcp == nil || b.done || b.err != nil || b.closed {
		return b.copyTo(w)
	}
	rf, ok := w.(io.ReaderFrom)
	if !ok || b.n-int64(b.c.br.Buffered()) < SpliceMin {
		return b.copyTo(w)
	}
	var total int64
	if k := b.c.br.Buffered(); k > 0 {
		p, _ := b.c.br.Peek(k)
		n, err := w.Write(p)
		b.c.br.Discard(n)
		b.n -= int64(n)
		total += int64(n)
		if err != nil {
			b.c.keep = false
			return total, err
		}
	}
	lr := io.LimitedReader{R: b.c.tcp, N: b.n}
	n, err := rf.ReadFrom(&lr)
	total += n
	b.n -= n
	if b.n == 0 {
		b.done = true
		return total, nil
	}
	b.c.keep = false
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	b.err = err
	return total, err
}

func (b *body) copyTo(w io.Writer) (int64, error) {
	buf := getBuffer()
	defer putBuffer(buf)
	return io.CopyBuffer(writerOnly{w}, readerOnly{b}, buf[:])
}

type writerOnly struct{ io.Writer }
type readerOnly struct{ io.Reader }

// Close releases the connection: back to its pool when the body was read
// to the end, else closed.
func (b *body) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	b.c.Release()
	return nil
}
