package tcpcc

import (
	"errors"
	"fmt"
	"syscall"
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
