package rewrite

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Errors ending a rewritten stream.
var (
	ErrTooLarge = errors.New("rewrite: decoded body larger than the limit")
	ErrBomb     = errors.New("rewrite: compressed body expands past the limit (zip bomb)")
	// ErrEncoding is returned by NewReader for a Content-Encoding it
	// cannot decode; the caller passes such a body on unchanged.
	ErrEncoding = errors.New("rewrite: unsupported content encoding")
)

// primeBytes is how much decoded output Prime reads ahead of a compressed
// body to judge its expansion.
const primeBytes = 1 << 20

// Reader streams a rewritten body, decoded: its Read returns the rewritten
// bytes, and Close closes the backend's body.
type Reader struct {
	body    io.ReadCloser
	counted *countingReader // the compressed bytes read, nil when not compressed
	dec     io.Reader       // the decoded body, limited
	limit   limitReader
	kind    Kind
	rw      rewriter
	html    *htmlRewriter
	sc      scanner
	out     []byte // rewritten, not yet returned
	off     int
	err     error
	inBuf   []byte
	primed  []byte // decoded bytes Prime read ahead
}

// NewReader wraps body, of kind k and Content-Encoding encoding ("",
// "identity", "gzip", "x-gzip" or "deflate").
func NewReader(body io.ReadCloser, k Kind, encoding string, o *Options) (*Reader, error) {
	if o == nil || o.Map == nil {
		return nil, errors.New("rewrite: Options.Map is required")
	}
	r := &Reader{body: body, kind: k, rw: rewriter{o: o}}
	maxBytes := o.MaxBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	var dec io.Reader
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "", "identity":
		dec = body
	case "gzip", "x-gzip":
		r.counted = &countingReader{r: body}
		zr, err := gzip.NewReader(bufio.NewReaderSize(r.counted, 4096))
		if err != nil {
			return nil, fmt.Errorf("rewrite: reading gzip body: %w", err)
		}
		dec = zr
	case "deflate":
		r.counted = &countingReader{r: body}
		dec = newDeflateReader(bufio.NewReaderSize(r.counted, 4096))
	default:
		return nil, fmt.Errorf("%w: %q", ErrEncoding, encoding)
	}
	r.limit = limitReader{r: dec, n: maxBytes}
	r.dec = &r.limit
	if k != KindHTML {
		r.sc = scanner{kind: k, rw: &r.rw}
	}
	return r, nil
}

// Prime reads ahead up to a megabyte of a compressed body, failing with
// ErrBomb when it expands more than MaxRatio times (or ErrTooLarge): a
// caller that has not sent its response headers yet can still answer
// with an error. For a body that is not compressed it does nothing.
func (r *Reader) Prime() error {
	if r.counted == nil {
		return nil
	}
	buf := make([]byte, 0, 64<<10)
	for len(buf) < primeBytes {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.dec.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > MaxRatio*max(r.counted.n, 1) && len(buf) >= 64<<10 {
			return ErrBomb
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	r.primed = buf
	r.dec = io.MultiReader(&primedReader{r}, &r.limit)
	return nil
}

type primedReader struct{ r *Reader }

func (p *primedReader) Read(b []byte) (int, error) {
	if len(p.r.primed) == 0 {
		return 0, io.EOF
	}
	n := copy(b, p.r.primed)
	p.r.primed = p.r.primed[n:]
	return n, nil
}

// Read returns rewritten bytes.
func (r *Reader) Read(p []byte) (int, error) {
	for r.off == len(r.out) {
		if r.err != nil {
			return 0, r.err
		}
		r.out, r.off = r.out[:0], 0
		r.fill()
	}
	n := copy(p, r.out[r.off:])
	r.off += n
	return n, nil
}

// fill produces the next piece of output, or sets err.
func (r *Reader) fill() {
	if r.kind == KindHTML {
		if r.html == nil {
			maxToken := r.rw.o.MaxToken
			if maxToken <= 0 {
				maxToken = DefaultMaxToken
			}
			r.html = newHTMLRewriter(&r.rw, r.dec, maxToken)
		}
		// Several tokens per call: fewer, larger reads.
		for len(r.out) < 16<<10 && r.err == nil {
			r.out, r.err = r.html.next(r.out)
		}
		if errors.Is(r.err, io.EOF) {
			r.err = r.endErr(io.EOF)
		}
		return
	}
	if r.inBuf == nil {
		r.inBuf = make([]byte, 32<<10)
	}
	n, err := r.dec.Read(r.inBuf)
	r.out = r.sc.feed(r.out, r.inBuf[:n])
	if err != nil {
		if err == io.EOF {
			r.out = r.sc.end(r.out)
		}
		r.err = r.endErr(err)
	}
}

// endErr reports a limit that cut the body short rather than its end.
func (r *Reader) endErr(err error) error {
	if r.limit.over {
		return ErrTooLarge
	}
	return err
}

// Close closes the backend's body.
func (r *Reader) Close() error { return r.body.Close() }

// limitReader fails with ErrTooLarge past n bytes.
type limitReader struct {
	r    io.Reader
	n    int64
	over bool
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		// One more byte tells a body of exactly the limit from a longer one.
		var one [1]byte
		if n, _ := l.r.Read(one[:]); n > 0 {
			l.over = true
			return 0, ErrTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// newDeflateReader reads HTTP's "deflate": zlib-wrapped (RFC 1950) as the
// specification says, or raw DEFLATE as some servers send it.
func newDeflateReader(br *bufio.Reader) io.Reader {
	if h, err := br.Peek(2); err == nil && h[0]&0x0f == 8 && (uint16(h[0])<<8|uint16(h[1]))%31 == 0 {
		if zr, err := zlib.NewReader(br); err == nil {
			return zr
		}
	}
	return flate.NewReader(br)
}
