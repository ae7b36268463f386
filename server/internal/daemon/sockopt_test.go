package daemon

import (
	"context"
	"net"
	"strings"
	"testing"
)

// An algorithm this kernel lacks fails the proxy listener with the setting,
// the algorithm and where to look, not a bare errno.
func TestListenerCongestionControlUnknown(t *testing.T) {
	lc := net.ListenConfig{Control: congestionControl("nosuchcc")}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err == nil {
		ln.Close()
		t.Fatal("listener opened with an unknown congestion control")
	}
	for _, want := range []string{"proxy.tcp_congestion: ", `congestion control "nosuchcc"`, "tcp_available_congestion_control"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}
