//go:build !linux

package splice

import (
	"io"
	"net"
	"sync"
)

var buffers = sync.Pool{New: func() any { return new([256 << 10]byte) }}

// Copy copies n bytes from src to dst, fewer when src ends first (then
// err is nil). On failure, srcFailed tells whether src failed or dst did.
func Copy(dst, src *net.TCPConn, n int64) (written int64, srcFailed bool, err error) {
	return CopySides(Side{Conn: dst}, Side{Conn: src}, n)
}

// CopySides is Copy with the sides' stall bounds (Side.Idle), moved
// before each read and each write; src.Taken is told of the bytes of
// each read before they are written.
func CopySides(dst, src Side, n int64) (written int64, srcFailed bool, err error) {
	buf := buffers.Get().(*[256 << 10]byte)
	defer buffers.Put(buf)
	for written < n {
		if src.Idle > 0 {
			src.boundRead()
		}
		m, rerr := src.Conn.Read(buf[:min(n-written, int64(len(buf)))])
		if m > 0 {
			if src.Taken != nil {
				src.Taken(int64(m))
			}
			if dst.Idle > 0 {
				dst.boundWrite()
			}
			if _, werr := dst.Conn.Write(buf[:m]); werr != nil {
				return written, false, werr
			}
			written += int64(m)
		}
		if rerr == io.EOF {
			return written, false, nil
		}
		if rerr != nil {
			return written, true, rerr
		}
	}
	return written, false, nil
}
