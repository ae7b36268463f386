package splice

import (
	"net"

	"golang.org/x/sys/unix"
)

// Acked returns how many bytes of c's output its peer acknowledged
// (TCP_INFO's tcpi_bytes_acked): a reader that takes bytes, however
// slowly, makes it grow. ok is false when the system does not tell.
func Acked(c *net.TCPConn) (n uint64, ok bool) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, false
	}
	_ = rc.Control(func(fd uintptr) {
		if info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
			n, ok = info.Bytes_acked, true
		}
	})
	return n, ok
}
