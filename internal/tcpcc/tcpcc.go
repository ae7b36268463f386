// Package tcpcc sets the TCP congestion control algorithm of sockets
// (Linux TCP_CONGESTION): gatewayd's proxy.tcp_congestion, and the bench
// tools that run their sockets the same way. Check asks the kernel
// beforehand whether this process may use an algorithm. Elsewhere than on
// Linux, a Control for a name fails with ErrUnsupported and Check accepts
// every name.
package tcpcc

import "errors"

// Errors of Control and Check, by cause. The errors returned wrap them and
// add what the kernel offers.
var (
	// ErrUnavailable: this kernel has no such algorithm.
	ErrUnavailable = errors.New("this kernel has no such algorithm")
	// ErrNotAllowed: the process may not use it.
	ErrNotAllowed = errors.New("not allowed for this process")
	// ErrUnsupported: the system is not Linux.
	ErrUnsupported = errors.New("setting it is supported on Linux only")
)
