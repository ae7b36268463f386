//go:build linux

package tcpcc

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// congestionOf is the congestion control algorithm of a TCP connection.
func congestionOf(t *testing.T, c net.Conn) string {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var name string
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		name, gerr = unix.GetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION)
	}); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatal(gerr)
	}
	return name
}

// A connection a listener accepts has the listener's congestion control;
// without Control, the system's.
func TestControl(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_congestion_control")
	if err != nil {
		t.Skip("no /proc/sys/net/ipv4: not Linux")
	}
	system := strings.TrimSpace(string(b))
	// reno is built into every Linux kernel and allowed to every process.
	want := "reno"
	if system == "reno" {
		want = "cubic"
	}
	for _, tc := range []struct{ setting, want string }{{"", system}, {want, want}} {
		lc := net.ListenConfig{Control: Control(tc.setting)}
		ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
		if err != nil {
			if tc.want == "cubic" {
				t.Skipf("cubic not available here: %v", err)
			}
			t.Fatal(err)
		}
		accepted := make(chan net.Conn, 1)
		go func() {
			c, _ := ln.Accept()
			accepted <- c
		}()
		client, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		server := <-accepted
		if server == nil {
			t.Fatal("accept failed")
		}
		if got := congestionOf(t, server); got != tc.want {
			t.Errorf("tcp_congestion %q: accepted connection uses %q, want %q", tc.setting, got, tc.want)
		}
		client.Close()
		server.Close()
		ln.Close()
	}
}

// An algorithm this kernel lacks fails the listener with ErrUnavailable.
func TestControlUnknown(t *testing.T) {
	lc := net.ListenConfig{Control: Control("nosuchcc")}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err == nil {
		ln.Close()
		t.Fatal("listener opened with an unknown congestion control")
	}
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), `congestion control "nosuchcc"`) {
		t.Fatalf("got %v, want ErrUnavailable naming the algorithm", err)
	}
}
