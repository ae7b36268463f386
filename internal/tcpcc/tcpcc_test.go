//go:build linux

package tcpcc

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
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

// Check answers as the socket would: a name the kernel has passes, one it
// lacks fails naming it, the cause and what the kernel offers.
func TestCheck(t *testing.T) {
	b, err := os.ReadFile(availablePath)
	if err != nil {
		t.Skip("no /proc/sys/net/ipv4: not Linux")
	}
	offers := strings.Join(strings.Fields(string(b)), ", ")
	for _, tc := range []struct {
		name  string
		err   error    // nil: accepted
		wants []string // in the error
	}{
		{"", nil, nil},
		{"reno", nil, nil}, // built into every kernel, allowed to every process
		{"nosuchcc", ErrUnavailable, []string{`congestion control "nosuchcc": this kernel has no such algorithm; it offers ` + offers + " (" + availablePath + ")"}},
	} {
		err := Check(tc.name)
		if tc.err == nil {
			if err != nil {
				t.Errorf("Check(%q) = %v, want nil", tc.name, err)
			}
			continue
		}
		if !errors.Is(err, tc.err) {
			t.Errorf("Check(%q) = %v, want %v", tc.name, err, tc.err)
			continue
		}
		for _, want := range tc.wants {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Check(%q) = %q, want it to contain %q", tc.name, err, want)
			}
		}
	}
}

// Each cause of a refusal is named with the kernel's list that applies.
// (EPERM, which a process without CAP_NET_ADMIN gets, cannot be provoked as
// root: its errno is given here.)
func TestExplain(t *testing.T) {
	lists := map[string]string{availablePath: "reno, bbr, cubic", allowedPath: "reno, cubic"}
	list := func(path string) string { return lists[path] }
	for _, tc := range []struct {
		serr error
		is   error
		want string
	}{
		{nil, nil, ""},
		{syscall.ENOENT, ErrUnavailable, `congestion control "vegas": this kernel has no such algorithm; it offers reno, bbr, cubic (` + availablePath + ")"},
		{syscall.EPERM, ErrNotAllowed, `congestion control "vegas": not allowed for this process; without CAP_NET_ADMIN it may use reno, cubic (net.ipv4.tcp_allowed_congestion_control): add it there or run with CAP_NET_ADMIN`},
		{syscall.EBUSY, syscall.EBUSY, `congestion control "vegas": device or resource busy`},
	} {
		err := explain("vegas", tc.serr, list)
		if tc.is == nil {
			if err != nil {
				t.Errorf("%v: got %v, want nil", tc.serr, err)
			}
			continue
		}
		if !errors.Is(err, tc.is) || err.Error() != tc.want {
			t.Errorf("%v: got %v, want %q wrapping %v", tc.serr, err, tc.want, tc.is)
		}
	}
}

// A list the kernel does not let us read is said to be unknown, not empty.
func TestReadList(t *testing.T) {
	if got := readList("/nonexistent/list"); !strings.HasPrefix(got, "an unknown list (") {
		t.Errorf("got %q", got)
	}
	p := t.TempDir() + "/list"
	for content, want := range map[string]string{"reno cubic\n": "reno, cubic", "\n": "none"} {
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := readList(p); got != want {
			t.Errorf("%q: got %q, want %q", content, got, want)
		}
	}
}
