package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A sealed target's dial checks the address the name resolved to, before
// the socket connects: a name that resolves to the cloud metadata service
// (or a numeric spelling the system resolver reads as one) is refused
// there; other addresses connect, and the gateway's own DialControl
// (proxy.tcp_congestion) still runs after the check.
func TestSealedControlChecksDialledAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	errNext := errors.New("next control ran")
	for _, tt := range []struct {
		name, addr string
		next       bool
		want       string // "" connects
	}{
		{"metadata IPv4", "169.254.169.254:80", false, "link-local"},
		{"link-local IPv6", "[fe80::1%lo]:80", false, "link-local"},
		{"EC2 metadata IPv6", "[fd00:ec2::254]:80", false, "cloud metadata"},
		{"unspecified", "0.0.0.0:80", false, "unspecified"},
		{"IPv4-mapped metadata", "[::ffff:169.254.169.254]:80", false, "link-local"},
		{"loopback datanode", ln.Addr().String(), false, ""},
		{"loopback datanode, DialControl after the check", ln.Addr().String(), true, errNext.Error()},
		{"metadata, DialControl never reached", "169.254.169.254:80", true, "link-local"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var next func(network, address string, c syscall.RawConn) error
			if tt.next {
				next = func(string, string, syscall.RawConn) error { return errNext }
			}
			d := net.Dialer{Timeout: 2 * time.Second, Control: sealedControl(next)}
			c, err := d.Dial("tcp", tt.addr)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("dial %s: %v", tt.addr, err)
				}
				c.Close()
				return
			}
			if err == nil {
				c.Close()
				t.Fatalf("dial %s connected, want %q", tt.addr, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("dial %s: %v, want %q", tt.addr, err, tt.want)
			}
		})
	}
}

// The transport of sealed targets (anyHost) dials through that check: a
// datanode name that resolves to the metadata service is refused before
// any packet leaves, whatever resolver the process uses.
func TestSealedTargetsDialThroughTheCheck(t *testing.T) {
	tp := newTransportPool(&Proxy{})
	e := tp.acquire(transportKey{scheme: "http", host: anyHost, timeouts: Timeouts{Dial: 2 * time.Second}}, backendTLS{})
	defer e.close()
	pool, err := e.poolFor("169.254.169.254:80")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := pool.Get(ctx)
	if err == nil {
		c.Close()
		t.Fatal("a sealed target's dial to 169.254.169.254 connected")
	}
	if !strings.Contains(err.Error(), "link-local") {
		t.Fatalf("dial: %v, want the sealed target's refusal", err)
	}
}

// The proxy's timeouts are a passed deadline (package deadline tells
// those) and a context's deadline, however wrapped; a canceled context
// is not one.
func TestIsTimeout(t *testing.T) {
	for _, err := range []error{context.DeadlineExceeded, fmt.Errorf("dial: %w", context.DeadlineExceeded), fmt.Errorf("read: %w", os.ErrDeadlineExceeded)} {
		if !isTimeout(err) {
			t.Errorf("%v is not a timeout", err)
		}
	}
	for _, err := range []error{nil, io.EOF, context.Canceled, errors.New("timeout")} {
		if isTimeout(err) {
			t.Errorf("%v is a timeout", err)
		}
	}
}
