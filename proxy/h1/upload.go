package h1

import (
	"io"
	"net"

	"github.com/securegw/gateway/proxy/internal/splice"
)

// SourceError is a failure of the source of Conn.ReadFrom (for a request
// body: the client's connection), not of the backend.
type SourceError struct{ Err error }

func (e *SourceError) Error() string { return "reading the request body: " + e.Err.Error() }

func (e *SourceError) Unwrap() error { return e.Err }

// PlainTCP reports whether the connection is plain TCP (ReadFrom can
// splice into it).
func (c *Conn) PlainTCP() bool { return c.tcp != nil }

// ReadFrom sends what r yields, up to its end, after the bytes buffered
// (a request body). When the connection is plain TCP and r is a plain TCP
// connection (a *net.TCPConn, or a *splice.Side with its stall bound and
// its Taken, told of the bytes taken before they are sent) under an
// io.LimitedReader (the rest of a body of known length), the kernel moves
// the bytes (splice(2), package splice) and the limit goes down by what
// was sent; else they are copied. An error of
// r is a *SourceError. After any error the connection cannot serve
// another request: the caller closes it or discards it. ReadFrom leaves
// the connection's state alone, as it runs beside the reading of the
// answer (ReadResponse) on another goroutine.
func (c *Conn) ReadFrom(r io.Reader) (int64, error) {
	if err := c.bw.Flush(); err != nil {
		return 0, err
	}
	var n int64
	var err error
	if lr, ok := r.(*io.LimitedReader); ok && c.tcp != nil {
		var src splice.Side
		switch s := lr.R.(type) {
		case *net.TCPConn:
			src.Conn = s
		case *splice.Side:
			src = *s
		}
		if src.Conn != nil {
			var srcFailed bool
			n, srcFailed, err = splice.CopySides(splice.Side{Conn: c.tcp}, src, lr.N)
			lr.N -= n
			if srcFailed {
				err = &SourceError{err}
			}
		} else {
			n, err = c.copyFrom(r)
		}
	} else {
		n, err = c.copyFrom(r)
	}
	return n, err
}

// copyFrom copies r to the connection in large pieces.
func (c *Conn) copyFrom(r io.Reader) (int64, error) {
	buf := GetLargeBuffer()
	defer PutLargeBuffer(buf)
	var total int64
	for {
		n, rerr := r.Read(buf[:])
		if n > 0 {
			if _, err := c.nc.Write(buf[:n]); err != nil {
				return total, err
			}
			total += int64(n)
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, &SourceError{rerr}
		}
	}
}
