package daemon

import (
	"fmt"
	"syscall"

	"github.com/securegw/gateway/internal/tcpcc"
)

// congestionControl is the Control of the proxy listener and of backend
// sockets for proxy.tcp_congestion (nil when it is empty), its errors
// naming the setting.
func congestionControl(name string) func(network, address string, c syscall.RawConn) error {
	set := tcpcc.Control(name)
	if set == nil {
		return nil
	}
	return func(network, address string, c syscall.RawConn) error {
		if err := set(network, address, c); err != nil {
			return fmt.Errorf("proxy.tcp_congestion: %w", err)
		}
		return nil
	}
}
