//go:build !linux

package splice

import "net"

// Acked returns how many bytes of c's output its peer acknowledged; ok is
// false where the system does not tell (here).
func Acked(c *net.TCPConn) (n uint64, ok bool) { return 0, false }

// Received returns how many bytes c received from its peer and how many
// of them wait to be read; ok is false where the system does not tell
// (here).
func Received(c *net.TCPConn) (n uint64, unread int, ok bool) { return 0, 0, false }

// Delivered reports whether c's peer acknowledged all of c's output; true
// where the system does not tell (here).
func Delivered(c *net.TCPConn) bool { return true }
