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
	buf := buffers.Get().(*[256 << 10]byte)
	defer buffers.Put(buf)
	for written < n {
		m, rerr := src.Read(buf[:min(n-written, int64(len(buf)))])
		if m > 0 {
			if _, werr := dst.Write(buf[:m]); werr != nil {
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
