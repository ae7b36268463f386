package proxy_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy"
)

// wsEcho is a real WebSocket server echoing every message; relays
// counts the connections it is serving.
type wsEcho struct {
	*connBackend
	relays atomic.Int64
}

func newEchoBackend(t *testing.T) *wsEcho {
	t.Helper()
	b := &wsEcho{}
	up := websocket.Upgrader{}
	b.connBackend = newConnBackend(t, nil, func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		b.relays.Add(1)
		defer b.relays.Add(-1)
		defer c.Close()
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(mt, msg); err != nil {
				return
			}
		}
	})
	return b
}

// wsTopology is topology name with the WebSocket service "ws" on backend
// and the plain service "plain" on plainURL, public, with a header
// provider whose value is the alias "key" (a secret the chain uses).
func wsTopology(name, backend, plainURL string) *topology.Topology {
	ws := svc("ws", "ws"+strings.TrimPrefix(backend, "http"))
	ws.WebSocket = true
	return &topology.Topology{Name: name, Services: []topology.Service{ws, svc("plain", plainURL)},
		Providers: append([]topology.Provider{{Role: "custom", Name: "header", Params: map[string]string{"name": "X-Key", "value": "${alias:key}"}}}, openProviders...)}
}

func (e *env) dialWS(path string) *websocket.Conn {
	e.t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.fe.URL, "http")+path, nil)
	if err != nil {
		e.t.Fatalf("dial %s: %v (%v)", path, err, resp)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// echo checks that the connection still relays both ways.
func echo(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatalf("write %q: %v", msg, err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, got, err := c.ReadMessage()
	if err != nil || string(got) != msg {
		t.Fatalf("echo of %q: %q %v", msg, got, err)
	}
}

// closedWithin asserts that the gateway closes c within d: a read ends
// with a connection error before the deadline.
func closedWithin(t *testing.T, c *websocket.Conn, d time.Duration) {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(d))
	_, msg, err := c.ReadMessage()
	var ne net.Error
	switch {
	case err == nil:
		t.Fatalf("still relaying after %v (read %q)", time.Since(start), msg)
	case errors.As(err, &ne) && ne.Timeout():
		t.Fatalf("still open after %v", d)
	}
}

// An upgraded connection survives 100 deploys of other topologies and 100
// redeploys of its own, unchanged, topology; each redeploy releases the
// generation it replaced (chain, transports) while the socket stays open.
func TestUpgradedSurvivesDeploys(t *testing.T) {
	e := newEnv(t, proxy.Config{Resolver: secrets{"t/key": "v1"}})
	echoB, plain := newEchoBackend(t), newBackend(t, nil)
	first := e.deploy(wsTopology("t", echoB.URL, plain.URL))
	var released atomic.Int64
	runtime.AddCleanup(first, func(*atomic.Int64) { released.Add(1) }, &released)
	first = nil
	c := e.dialWS("/gateway/t/ws")
	echo(t, c, "hello")

	for i := range 100 {
		e.deploy(topo(fmt.Sprintf("other%d", i%7), svc("s", plain.URL)))
		if i%3 == 0 {
			e.p.Remove(fmt.Sprintf("other%d", (i+1)%7))
		}
		if i%10 == 9 {
			echo(t, c, fmt.Sprintf("after %d deploys of others", i+1))
		}
	}
	for i := range 100 {
		e.deploy(wsTopology("t", echoB.URL, plain.URL))
		if i%10 == 9 {
			echo(t, c, fmt.Sprintf("after %d redeploys", i+1))
		}
	}
	if n := e.p.UpgradedConnections(); n != 1 {
		t.Fatalf("%d upgraded connections tracked, want 1", n)
	}
	// The first generation is gone: nothing (not the relay) keeps it.
	eventually(t, 10*time.Second, "the first generation collected", func() bool {
		runtime.GC()
		return released.Load() == 1
	})
	echo(t, c, "still here")
	if opened := echoB.opened.Load(); opened != 1 {
		t.Fatalf("%d connections to the echo backend, want the one relayed", opened)
	}
}

// Replacing a topology releases the generation it replaced, its transports
// included, while an upgraded connection it accepted stays open.
func TestUpgradedOldGenerationReleased(t *testing.T) {
	e := newEnv(t, proxy.Config{Resolver: secrets{"t/key": "v1"}})
	echoB, b1, b2 := newEchoBackend(t), newConnBackend(t, nil, nil), newBackend(t, nil)
	e.deploy(wsTopology("t", echoB.URL, b1.URL))
	c := e.dialWS("/gateway/t/ws")
	if code := e.getDone("/gateway/t/plain/x"); code != 200 {
		t.Fatalf("plain: %d", code)
	}
	if b1.opened.Load() != 1 || b1.closed.Load() != 0 {
		t.Fatalf("b1 connections: %d opened, %d closed", b1.opened.Load(), b1.closed.Load())
	}
	// The plain service moves to b2; the WebSocket service is unchanged.
	e.deploy(wsTopology("t", echoB.URL, b2.URL))
	eventually(t, 10*time.Second, "the old generation's transport to b1 closed", func() bool { return b1.closed.Load() == 1 })
	echo(t, c, "after the release")
	if _, body := e.get("/gateway/t/plain/x"); body != "ok" || b2.count() != 1 {
		t.Fatalf("plain after the redeploy: %q, b2 saw %d", body, b2.count())
	}
}

// A connection whose route is removed, or whose service changes what
// serves it, is closed within the grace period; a redeploy that keeps the
// service as it was, even after a removal within the grace, keeps it.
func TestUpgradedClosedWhenRouteChanges(t *testing.T) {
	const grace = 300 * time.Millisecond
	other := newEchoBackend(t)
	tests := []struct {
		name   string
		change func(e *env, echoURL, plainURL string)
		closed bool
	}{
		{"route removed", func(e *env, _, _ string) { e.p.Remove("t") }, true},
		{"backend URL changed", func(e *env, _, plainURL string) { e.deploy(wsTopology("t", other.URL, plainURL)) }, true},
		{"service removed", func(e *env, _, plainURL string) { e.deploy(topo("t", svc("plain", plainURL))) }, true},
		{"dispatch changed", func(e *env, echoURL, plainURL string) {
			top := wsTopology("t", echoURL, plainURL)
			top.Services[0].Dispatch = &topology.Dispatch{ResponseHeaderTimeout: topology.Duration(time.Minute)}
			e.deploy(top)
		}, true},
		{"provider param changed", func(e *env, echoURL, plainURL string) {
			top := wsTopology("t", echoURL, plainURL)
			top.Providers[0].Params["name"] = "X-Other-Key"
			e.deploy(top)
		}, true},
		{"secret changed", func(e *env, echoURL, plainURL string) {
			e.secrets["t/key"] = "v2"
			e.deploy(wsTopology("t", echoURL, plainURL))
		}, true},
		{"whole table loaded without it", func(e *env, _, plainURL string) {
			c, err := e.p.Compile(context.Background(), topo("u", svc("s", plainURL)))
			if err != nil {
				e.t.Fatal(err)
			}
			e.p.Load([]*proxy.Compiled{c})
		}, true},
		{"removed in a batch update", func(e *env, _, plainURL string) {
			c, err := e.p.Compile(context.Background(), topo("u", svc("s", plainURL)))
			if err != nil {
				e.t.Fatal(err)
			}
			e.p.Update([]*proxy.Compiled{c}, []string{"t"})
		}, true},
		{"redeployed unchanged in a batch update", func(e *env, echoURL, plainURL string) {
			c, err := e.p.Compile(context.Background(), wsTopology("t", echoURL, plainURL))
			if err != nil {
				e.t.Fatal(err)
			}
			e.p.Update([]*proxy.Compiled{c}, nil)
		}, false},
		{"other service changed", func(e *env, echoURL, _ string) { e.deploy(wsTopology("t", echoURL, other.URL)) }, false},
		{"removed and restored unchanged", func(e *env, echoURL, plainURL string) {
			// Compiled before the removal: the restore is well within the
			// grace however slow compiling is on a busy machine.
			c, err := e.p.Compile(context.Background(), wsTopology("t", echoURL, plainURL))
			if err != nil {
				e.t.Fatal(err)
			}
			e.p.Remove("t")
			e.p.Apply(c)
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sec := secrets{"t/key": "v1"}
			e := newEnv(t, proxy.Config{Resolver: sec, UpgradeGrace: grace})
			e.secrets = sec
			echoB, plain := newEchoBackend(t), newBackend(t, nil)
			e.deploy(wsTopology("t", echoB.URL, plain.URL))
			c := e.dialWS("/gateway/t/ws")
			echo(t, c, "before")
			tc.change(e, echoB.URL, plain.URL)
			if !tc.closed {
				// Past the grace, it still relays.
				deadline := time.Now().Add(2 * grace)
				for time.Now().Before(deadline) {
					echo(t, c, "kept")
				}
				if n := e.p.UpgradedConnections(); n != 1 {
					t.Fatalf("%d tracked, want 1", n)
				}
				return
			}
			closedWithin(t, c, grace+5*time.Second)
			eventually(t, 5*time.Second, "untracked", func() bool { return e.p.UpgradedConnections() == 0 })
			eventually(t, 5*time.Second, "the backend side closed", func() bool { return echoB.relays.Load() == 0 })
		})
	}
}

// The grace is a grace: a connection outlives its removed route until the
// grace ends, or until shutdown closes every upgraded connection.
func TestUpgradedClosedAtShutdown(t *testing.T) {
	e := newEnv(t, proxy.Config{Resolver: secrets{"t/key": "v1"}, UpgradeGrace: time.Hour})
	echoB, plain := newEchoBackend(t), newBackend(t, nil)
	e.deploy(wsTopology("t", echoB.URL, plain.URL))
	removed, kept := e.dialWS("/gateway/t/ws"), e.dialWS("/gateway/t/ws")
	echo(t, removed, "a")
	e.p.Remove("t")
	echo(t, removed, "in the grace")
	e.deploy(wsTopology("t", echoB.URL, plain.URL))
	echo(t, kept, "b")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.p.CloseUpgraded(ctx); err != nil {
		t.Fatal(err)
	}
	// Returned once the relays ended: both sockets are closed already.
	for _, c := range []*websocket.Conn{removed, kept} {
		closedWithin(t, c, time.Second)
	}
	if n := e.p.UpgradedConnections(); n != 0 {
		t.Fatalf("%d still tracked", n)
	}
	eventually(t, 5*time.Second, "the backend side closed", func() bool { return echoB.relays.Load() == 0 })
	// No new upgrade after shutdown began; plain requests are the server's.
	if c, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.fe.URL, "http")+"/gateway/t/ws", nil); err == nil {
		c.Close()
		t.Fatal("upgraded after CloseUpgraded")
	} else if resp == nil || resp.StatusCode < 500 {
		t.Fatalf("refused upgrade: %v %v", resp, err)
	}
}

func TestUpgradeGraceNegative(t *testing.T) {
	if _, err := proxy.New(proxy.Config{UpgradeGrace: -time.Second}); err == nil || !strings.Contains(err.Error(), "UpgradeGrace") {
		t.Fatalf("negative grace: %v", err)
	}
}

// Bytes a client sends right behind its handshake (read by the server with
// the request) reach the backend first, before the relay's.
func TestUpgradedEarlyClientBytes(t *testing.T) {
	e := newEnv(t, proxy.Config{Resolver: secrets{"t/key": "v1"}})
	echoB, plain := newEchoBackend(t), newBackend(t, nil)
	e.deploy(wsTopology("t", echoB.URL, plain.URL))
	conn, err := net.Dial("tcp", e.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	payload := []byte("early")
	mask := [4]byte{1, 2, 3, 4}
	frame := []byte{0x81, 0x80 | byte(len(payload)), mask[0], mask[1], mask[2], mask[3]} // FIN, text, masked
	for i, c := range payload {
		frame = append(frame, c^mask[i%4])
	}
	req := "GET /gateway/t/ws HTTP/1.1\r\nHost: gw.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	if _, err := conn.Write(append([]byte(req), frame...)); err != nil { // one write: one segment
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	got := make([]byte, 2+len(payload))
	if _, err := io.ReadFull(br, got); err != nil {
		t.Fatalf("echo of the early frame: %v", err)
	}
	if got[0] != 0x81 || int(got[1]) != len(payload) || string(got[2:]) != "early" {
		t.Fatalf("echoed frame % x", got)
	}
}
