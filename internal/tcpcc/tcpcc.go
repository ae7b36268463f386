// Package tcpcc sets the TCP congestion control algorithm of sockets
// (Linux TCP_CONGESTION): gatewayd's proxy.tcp_congestion, and the bench
// tools that run their sockets the same way. Elsewhere than on Linux, a
// Control for a name fails with ErrUnsupported.
package tcpcc

import "errors"

// Errors of Control, by cause.
var (
	// ErrUnavailable: this kernel has no such algorithm.
	ErrUnavailable = errors.New("this kernel has no such algorithm (see /proc/sys/net/ipv4/tcp_available_congestion_control)")
	// ErrNotAllowed: the process may not use it.
	ErrNotAllowed = errors.New("not allowed for this process (list it in net.ipv4.tcp_allowed_congestion_control, or run with CAP_NET_ADMIN)")
	// ErrUnsupported: the system is not Linux.
	ErrUnsupported = errors.New("setting it is supported on Linux only")
)
