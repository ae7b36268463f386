// Package tcpcc sets the TCP congestion control algorithm of sockets
// (Linux TCP_CONGESTION): gatewayd's proxy.tcp_congestion, and the bench
// tools that run their sockets the same way.
package tcpcc

import (
	"errors"
	"fmt"
	"syscall"
)

// Errors of Control, by cause.
var (
	// ErrUnavailable: this kernel has no such algorithm.
	ErrUnavailable = errors.New("this kernel has no such algorithm (see /proc/sys/net/ipv4/tcp_available_congestion_control)")
	// ErrNotAllowed: the process may not use it.
	ErrNotAllowed = errors.New("not allowed for this process (list it in net.ipv4.tcp_allowed_congestion_control, or run with CAP_NET_ADMIN)")
)

// Control is a net.ListenConfig or net.Dialer Control that sets the
// socket's congestion control to name; a listener's accepted connections
// inherit it. nil when name is empty: the system's default
// (net.ipv4.tcp_congestion_control) stays.
func Control(name string) func(network, address string, c syscall.RawConn) error {
	if name == "" {
		return nil
	}
	return func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptString(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CONGESTION, name)
		}); err != nil {
			return err
		}
		switch {
		case errors.Is(serr, syscall.ENOENT):
			return fmt.Errorf("congestion control %q: %w", name, ErrUnavailable)
		case errors.Is(serr, syscall.EPERM):
			return fmt.Errorf("congestion control %q: %w", name, ErrNotAllowed)
		case serr != nil:
			return fmt.Errorf("congestion control %q: %w", name, serr)
		}
		return nil
	}
}
