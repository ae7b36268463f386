package daemon

import (
	"errors"
	"fmt"
	"syscall"
)

// congestionControl is a listener's Control that sets the TCP congestion
// control algorithm of the listening socket to name (TCP_CONGESTION);
// the connections it accepts inherit it. nil when name is empty: the
// system's default (net.ipv4.tcp_congestion_control) stays.
func congestionControl(name string) func(network, address string, c syscall.RawConn) error {
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
			return fmt.Errorf("proxy.tcp_congestion %q: this kernel has no such algorithm (see /proc/sys/net/ipv4/tcp_available_congestion_control)", name)
		case errors.Is(serr, syscall.EPERM):
			return fmt.Errorf("proxy.tcp_congestion %q: not allowed for this process (list it in net.ipv4.tcp_allowed_congestion_control, or run with CAP_NET_ADMIN)", name)
		case serr != nil:
			return fmt.Errorf("proxy.tcp_congestion %q: %w", name, serr)
		}
		return nil
	}
}
