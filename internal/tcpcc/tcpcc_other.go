//go:build !linux

package tcpcc

import (
	"fmt"
	"syscall"
)

// Control is a net.ListenConfig or net.Dialer Control for name: nil when
// name is empty (the system's default stays), else one that fails with
// ErrUnsupported, this system having no TCP_CONGESTION.
func Control(name string) func(network, address string, c syscall.RawConn) error {
	if name == "" {
		return nil
	}
	return func(_, _ string, _ syscall.RawConn) error {
		return fmt.Errorf("congestion control %q: %w", name, ErrUnsupported)
	}
}

// Check accepts every name here: a Control for one fails when it is used
// (gatewayd serve stops at its listener, with ErrUnsupported).
func Check(string) error { return nil }
