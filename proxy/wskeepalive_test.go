package proxy_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/securegw/gateway/proxy"
)

// Keepalive: the peers' own pings keep a quiet connection open past the
// idle timeout; the gateway's pings (websocket.ping_interval) keep a
// backend that drops quiet connections from dropping it, their pongs are
// not relayed; a peer that does not answer them is closed with 1001.
func TestWebSocketKeepalive(t *testing.T) {
	const (
		idle  = 1500 * time.Millisecond // the gateway's idle timeout (pings every fifth of it: a loaded machine's stalls stay well inside)
		quiet = time.Second             // the strict backend drops a connection silent this long
		ping  = 200 * time.Millisecond  // the gateway's keepalive interval
	)
	e := newEnv(t, proxy.Config{})
	echoB := newWSServer(t, websocket.Upgrader{}, echoServe)
	var relayedPings atomic.Int64 // pings the echo backend got from the client, through the gateway
	pingEcho := newWSServer(t, websocket.Upgrader{}, func(c *websocket.Conn) {
		c.SetPingHandler(func(p string) error {
			relayedPings.Add(1)
			return c.WriteControl(websocket.PongMessage, []byte(p), time.Now().Add(time.Second))
		})
		echoServe(c)
	})
	var strictPings atomic.Int64 // pings the strict backend got
	strict := newWSServer(t, websocket.Upgrader{}, func(c *websocket.Conn) {
		_ = c.SetReadDeadline(time.Now().Add(quiet))
		c.SetPingHandler(func(p string) error {
			strictPings.Add(1)
			_ = c.SetReadDeadline(time.Now().Add(quiet))
			return c.WriteControl(websocket.PongMessage, []byte(p), time.Now().Add(time.Second))
		})
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return // silent too long: dropped without a close frame
			}
			_ = c.SetReadDeadline(time.Now().Add(quiet))
			if err := c.WriteMessage(mt, msg); err != nil {
				return
			}
		}
	})
	e.deploy(topo("t",
		wsService("idle", pingEcho.URL, map[string]string{"websocket.idle_timeout": idle.String()}),
		wsService("kept", strict.URL, map[string]string{"websocket.ping_interval": ping.String()}),
		wsService("unkept", strict.URL, nil),
		wsService("pinged", echoB.URL, map[string]string{"websocket.ping_interval": ping.String()}),
	))
	dial := func(path string) *websocket.Conn {
		c, _, err := websocket.DefaultDialer.Dial(wsURL(e, path), nil)
		if err != nil {
			t.Fatalf("dial %s: %v", path, err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// reader reads c in the background (answering pings, as clients do):
	// messages to msgs, pongs counted, the close code to closed.
	type reader struct {
		msgs         chan string
		closed       chan int
		pings, pongs atomic.Int64
	}
	read := func(c *websocket.Conn) *reader {
		r := &reader{msgs: make(chan string, 16), closed: make(chan int, 1)}
		c.SetPingHandler(func(p string) error {
			r.pings.Add(1)
			return c.WriteControl(websocket.PongMessage, []byte(p), time.Now().Add(time.Second))
		})
		c.SetPongHandler(func(string) error { r.pongs.Add(1); return nil })
		go func() {
			for {
				_, msg, err := c.ReadMessage()
				if err != nil {
					code := -1
					if ce, ok := err.(*websocket.CloseError); ok {
						code = ce.Code
					}
					r.closed <- code
					return
				}
				r.msgs <- string(msg)
			}
		}()
		return r
	}
	echoed := func(c *websocket.Conn, r *reader, msg string) {
		t.Helper()
		if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatalf("write %q: %v", msg, err)
		}
		select {
		case got := <-r.msgs:
			if got != msg {
				t.Fatalf("echo of %q: %q", msg, got)
			}
		case code := <-r.closed:
			t.Fatalf("closed (%d) instead of echoing %q", code, msg)
		case <-time.After(5 * time.Second):
			t.Fatalf("no echo of %q", msg)
		}
	}
	closedWith := func(r *reader, want int, within time.Duration) {
		t.Helper()
		select {
		case code := <-r.closed:
			if code != want {
				t.Fatalf("closed with %d, want %d", code, want)
			}
		case <-time.After(within):
			t.Fatalf("not closed within %v", within)
		}
	}

	t.Run("relayed pings outlast the idle timeout", func(t *testing.T) {
		c := dial("/gateway/t/idle")
		r := read(c)
		start := time.Now()
		tick := time.NewTicker(idle / 5)
		defer tick.Stop()
		for time.Since(start) < 3*idle {
			<-tick.C // the client's own keepalive pace
			if err := c.WriteControl(websocket.PingMessage, []byte("app"), time.Now().Add(time.Second)); err != nil {
				t.Fatalf("ping: %v", err)
			}
		}
		echoed(c, r, "still open after three idle timeouts of pings only")
		if n := relayedPings.Load(); n < 10 {
			t.Fatalf("backend got %d of the client's pings", n)
		}
		eventually(t, 5*time.Second, "the backend's pongs relayed", func() bool { return r.pongs.Load() >= 10 })
		closedWith(r, websocket.CloseGoingAway, 5*time.Second) // pings stopped: idle
	})

	t.Run("without gateway pings the strict backend drops a quiet connection", func(t *testing.T) {
		c := dial("/gateway/t/unkept")
		r := read(c)
		echoed(c, r, "hello")
		closedWith(r, websocket.CloseInternalServerErr, 5*quiet) // "backend went away"
	})

	t.Run("gateway pings keep it", func(t *testing.T) {
		before := strictPings.Load()
		c := dial("/gateway/t/kept")
		r := read(c)
		echoed(c, r, "hello")
		start := time.Now()
		eventually(t, 10*time.Second, "three quiet periods of the backend", func() bool {
			return time.Since(start) > 3*quiet && strictPings.Load()-before >= 5
		})
		echoed(c, r, "still open")
		if r.pings.Load() == 0 {
			t.Fatal("the quiet client was not pinged")
		}
		if n := r.pongs.Load(); n != 0 {
			t.Fatalf("%d pongs of the gateway's pings relayed to the client", n)
		}
		if strict.live.Load() == 0 {
			t.Fatal("the backend connection is gone")
		}
	})

	t.Run("a silent peer is closed", func(t *testing.T) {
		live := echoB.live.Load()
		raw := dialRaw(t, e, "/gateway/t/pinged") // never answers pings
		eventually(t, 5*time.Second, "backend connected", func() bool { return echoB.live.Load() == live+1 })
		start := time.Now()
		if code := raw.closeFrame(); code != websocket.CloseGoingAway {
			t.Fatalf("silent client: close %d, want 1001", code)
		}
		if d := time.Since(start); d < ping {
			t.Fatalf("closed after %v: before a ping could go unanswered", d)
		}
		eventually(t, 5*time.Second, "backend side closed", func() bool { return echoB.live.Load() == live })
	})
}
