package h1

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
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
// connection under an io.LimitedReader (the rest of a body of known
// length), the kernel moves the bytes with splice(2); else they are
// copied. An error of r is a *SourceError; any error makes the connection
// unusable for another request.
func (c *Conn) ReadFrom(r io.Reader) (int64, error) {
	if err := c.bw.Flush(); err != nil {
		c.keep = false
		return 0, err
	}
	var n int64
	var err error
	if src, ok := spliceSource(r); ok && c.tcp != nil {
		n, err = c.tcp.ReadFrom(r)
		if err != nil && (errors.Is(err, os.ErrDeadlineExceeded) || ended(src)) {
			// Only the source has a read deadline; a source that ended
			// (or was reset) failed the splice, whatever the backend did.
			err = &SourceError{err}
		}
	} else {
		n, err = c.copyFrom(r)
	}
	if err != nil {
		c.keep = false
	}
	return n, err
}

// spliceSource returns the TCP connection of an io.LimitedReader over
// one: the source the kernel splices from.
func spliceSource(r io.Reader) (*net.TCPConn, bool) {
	lr, ok := r.(*io.LimitedReader)
	if !ok {
		return nil, false
	}
	tc, ok := lr.R.(*net.TCPConn)
	return tc, ok
}

// ended reports whether tc's peer closed or reset it (or tc is closed): a
// non-blocking peek finds its end instead of bytes or nothing yet.
func ended(tc *net.TCPConn) bool {
	rc, err := tc.SyscallConn()
	if err != nil {
		return true
	}
	gone := true
	if rc.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		gone = n == 0 && err == nil || err != nil && !errors.Is(err, syscall.EAGAIN)
	}) != nil {
		return true
	}
	return gone
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
