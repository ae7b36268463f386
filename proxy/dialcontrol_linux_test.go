package proxy_test

import (
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/gorilla/websocket"
	"golang.org/x/sys/unix"

	"github.com/securegw/gateway/proxy"
)

// Config.DialControl runs on every backend socket before it connects (the
// daemon sets proxy.tcp_congestion there); a socket it refuses is never
// connected, and the client gets 502 without the backend's address.
func TestDialControl(t *testing.T) {
	b := newBackend(t, nil)
	var dialed atomic.Value
	var fail atomic.Bool
	e := newEnv(t, proxy.Config{DialControl: func(network, address string, c syscall.RawConn) error {
		if fail.Load() {
			return errors.New("refused by control")
		}
		var got string
		var err error
		if cerr := c.Control(func(fd uintptr) {
			if err = unix.SetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION, "reno"); err == nil {
				got, err = unix.GetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION)
			}
		}); cerr != nil {
			return cerr
		}
		dialed.Store(network + " " + address + " " + got)
		return err
	}})
	e.deploy(topo("t", svc("s", b.URL)))
	resp, body := e.get("/gateway/t/s/x")
	if resp.StatusCode != http.StatusOK || body != "ok" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	if got, want := dialed.Load(), "tcp4 "+b.Listener.Addr().String()+" reno"; got != want {
		t.Fatalf("control saw %v, want %q", got, want)
	}

	// A WebSocket's backend connection too.
	up := websocket.Upgrader{}
	wsb := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if c, err := up.Upgrade(w, r, nil); err == nil {
			c.Close()
		}
	})
	ws := svc("ws", "ws"+strings.TrimPrefix(wsb.URL, "http"))
	ws.WebSocket = true
	e.deploy(topo("t", svc("s", b.URL), ws))
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.fe.URL, "http")+"/gateway/t/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if got, want := dialed.Load(), "tcp4 "+wsb.Listener.Addr().String()+" reno"; got != want {
		t.Fatalf("control saw %v, want %q (the WebSocket backend)", got, want)
	}

	fail.Store(true)
	b2 := newBackend(t, nil)
	e.deploy(topo("t", svc("s", b.URL), svc("s2", b2.URL)))
	resp, body = e.get("/gateway/t/s2/x")
	if resp.StatusCode != http.StatusBadGateway || strings.Contains(body, b2.Listener.Addr().String()) {
		t.Fatalf("got %d %q, want 502 without the backend's address", resp.StatusCode, body)
	}
	if b2.count() != 0 {
		t.Fatal("the backend received a request over a refused socket")
	}
}
