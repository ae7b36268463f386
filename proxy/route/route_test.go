package route_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/securegw/gateway/proxy/route"
)

func TestSourceAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	tests := []struct {
		name, remote string
		xff          []string
		peer, client string // "" for invalid
		via          bool
	}{
		{"untrusted peer, no header", "203.0.113.5:4000", nil, "203.0.113.5", "203.0.113.5", false},
		{"untrusted peer spoofs X-Forwarded-For", "203.0.113.5:4000", []string{"10.1.2.3"}, "203.0.113.5", "203.0.113.5", false},
		{"trusted peer, no header", "10.0.0.2:4000", nil, "10.0.0.2", "10.0.0.2", true},
		{"trusted peer forwards the client", "10.0.0.2:4000", []string{"198.51.100.7"}, "10.0.0.2", "198.51.100.7", true},
		{"two trusted hops", "10.0.0.2:4000", []string{"198.51.100.7, 10.0.0.9"}, "10.0.0.2", "198.51.100.7", true},
		{"client-written entry left of the real one is ignored", "10.0.0.2:4000", []string{"10.1.2.3, 198.51.100.7"}, "10.0.0.2", "198.51.100.7", true},
		{"several header lines, right-most last", "10.0.0.2:4000", []string{"10.1.2.3", "198.51.100.7", "10.0.0.9"}, "10.0.0.2", "198.51.100.7", true},
		{"every hop trusted: the left-most", "10.0.0.2:4000", []string{"10.0.0.7 ,10.0.0.8"}, "10.0.0.2", "10.0.0.7", true},
		{"empty entries skipped", "10.0.0.2:4000", []string{",, 198.51.100.7 ,", ""}, "10.0.0.2", "198.51.100.7", true},
		{"unparsable where the walk stops: invalid", "10.0.0.2:4000", []string{"198.51.100.7, unknown"}, "10.0.0.2", "", true},
		{"unparsable left of the client: ignored", "10.0.0.2:4000", []string{"garbage, 198.51.100.7"}, "10.0.0.2", "198.51.100.7", true},
		{"entry with a port", "10.0.0.2:4000", []string{"198.51.100.7:5555"}, "10.0.0.2", "198.51.100.7", true},
		{"IPv6 entries", "[fd00::1]:4000", []string{"[2001:db8::5]:80, fd00::2"}, "fd00::1", "2001:db8::5", true},
		{"IPv4-mapped peer is unmapped", "[::ffff:10.0.0.2]:4000", []string{"198.51.100.7"}, "10.0.0.2", "198.51.100.7", true},
		{"IPv4-mapped entry is unmapped", "10.0.0.2:4000", []string{"::ffff:198.51.100.7"}, "10.0.0.2", "198.51.100.7", true},
		{"zone refused", "10.0.0.2:4000", []string{"fe80::1%eth0"}, "10.0.0.2", "", true},
		{"remote address without port", "pipe", []string{"10.1.2.3"}, "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			peer, client, via := route.SourceAddr(tc.remote, tc.xff, isTrusted)
			if str(peer) != tc.peer || str(client) != tc.client || via != tc.via {
				t.Fatalf("peer %q client %q via %v; want %q %q %v", str(peer), str(client), via, tc.peer, tc.client, tc.via)
			}
		})
	}
}

func str(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func TestSourceAddrDoesNotAllocate(t *testing.T) {
	xff := []string{"10.1.2.3, 198.51.100.7, 10.0.0.9"}
	trusted := func(a netip.Addr) bool { return a.Is4() && a.As4()[0] == 10 }
	if n := testing.AllocsPerRun(100, func() { route.SourceAddr("10.0.0.2:4000", xff, trusted) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

func TestContext(t *testing.T) {
	if _, ok := route.FromContext(context.Background()); ok {
		t.Fatal("route info in an empty context")
	}
	if _, ok := route.FromContext(route.NewContext(context.Background(), nil)); ok {
		t.Fatal("nil info counts")
	}
	in := &route.Info{Topology: "t", Service: "echo"}
	got, ok := route.FromContext(route.NewContext(context.Background(), in))
	if !ok || got != in {
		t.Fatalf("%v %v", got, ok)
	}
}
