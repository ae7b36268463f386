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

// Received returns how many bytes c received from its peer (TCP_INFO's
// tcpi_bytes_received) and how many of them wait to be read (SIOCINQ):
// a peer still sending makes the first grow, a reader taking them makes
// the second shrink, whoever reads them. ok is false when the system does
// not tell.
func Received(c *net.TCPConn) (n uint64, unread int, ok bool) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, 0, false
	}
	_ = rc.Control(func(fd uintptr) {
		info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		if err != nil {
			return
		}
		q, err := unix.IoctlGetInt(int(fd), unix.SIOCINQ)
		if err != nil {
			return
		}
		n, unread, ok = info.Bytes_received, q, true
	})
	return n, unread, ok
}

// Delivered reports whether c's peer acknowledged all of c's output (the
// send queue is empty: SIOCOUTQ is 0); true where the system does not
// tell.
func Delivered(c *net.TCPConn) bool {
	rc, err := c.SyscallConn()
	if err != nil {
		return true
	}
	n := 0
	_ = rc.Control(func(fd uintptr) {
		if q, err := unix.IoctlGetInt(int(fd), unix.TIOCOUTQ); err == nil {
			n = q
		}
	})
	return n == 0
}
