package tcpcc

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// The kernel's lists: the algorithms it has (loaded), and those a process
// without CAP_NET_ADMIN may set.
const (
	availablePath = "/proc/sys/net/ipv4/tcp_available_congestion_control"
	allowedPath   = "/proc/sys/net/ipv4/tcp_allowed_congestion_control"
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
		return explain(name, serr, readList)
	}
}

// Check says whether Control(name) would succeed in this process: it sets
// name on a TCP socket that is never connected, as the listener and the
// backend dialer do. The kernel's own answer counts what its two lists
// alone would get wrong: an algorithm built as a module that is not loaded
// yet is missing from tcp_available_congestion_control, but setting it
// (with CAP_NET_ADMIN) loads it; and a process without CAP_NET_ADMIN may
// set only those in tcp_allowed_congestion_control. nil for "".
func Check(name string) error {
	if name == "" {
		return nil
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if errors.Is(err, syscall.EAFNOSUPPORT) {
		fd, err = syscall.Socket(syscall.AF_INET6, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	}
	if err != nil {
		return fmt.Errorf("congestion control %q: opening a socket to try it: %w", name, err)
	}
	defer syscall.Close(fd)
	return explain(name, syscall.SetsockoptString(fd, syscall.IPPROTO_TCP, syscall.TCP_CONGESTION, name), readList)
}

// explain turns setsockopt's answer for name into an error naming the
// algorithm, the cause and what the kernel offers (read by list).
func explain(name string, serr error, list func(path string) string) error {
	switch {
	case serr == nil:
		return nil
	case errors.Is(serr, syscall.ENOENT):
		return fmt.Errorf("congestion control %q: %w; it offers %s (%s)", name, ErrUnavailable, list(availablePath), availablePath)
	case errors.Is(serr, syscall.EPERM):
		return fmt.Errorf("congestion control %q: %w; without CAP_NET_ADMIN it may use %s (net.ipv4.tcp_allowed_congestion_control): "+
			"add it there or run with CAP_NET_ADMIN", name, ErrNotAllowed, list(allowedPath))
	default:
		return fmt.Errorf("congestion control %q: %w", name, serr)
	}
}

// readList is one of the kernel's lists of algorithms, comma separated.
func readList(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "an unknown list (" + err.Error() + ")"
	}
	names := strings.Fields(string(b))
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
