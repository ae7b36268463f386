package proxy_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/securegw/gateway/internal/testpki"
	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy"
	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/chain/revocation"
	"github.com/securegw/gateway/proxy/wsrelay"
)

// wsServer is a real WebSocket backend running serve on each connection;
// live counts the connections it holds, seen records each handshake.
type wsServer struct {
	*connBackend
	live atomic.Int64
	seen chan *http.Request
}

func newWSServer(t *testing.T, up websocket.Upgrader, serve func(c *websocket.Conn)) *wsServer {
	t.Helper()
	b := &wsServer{seen: make(chan *http.Request, 64)}
	b.connBackend = newConnBackend(t, nil, func(w http.ResponseWriter, r *http.Request) {
		select {
		case b.seen <- r.Clone(context.Background()):
		default:
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		b.live.Add(1)
		defer b.live.Add(-1)
		defer c.Close()
		serve(c)
	})
	return b
}

// echoServe echoes messages with their type until the connection ends.
func echoServe(c *websocket.Conn) {
	for {
		mt, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		if err := c.WriteMessage(mt, msg); err != nil {
			return
		}
	}
}

func wsURL(e *env, path string) string { return "ws" + strings.TrimPrefix(e.fe.URL, "http") + path }

// wsService is a websocket service at path on b with params.
func wsService(path, backendURL string, params map[string]string) topology.Service {
	s := svc(path, "ws"+strings.TrimPrefix(backendURL, "http"))
	s.WebSocket, s.Params = true, params
	return s
}

// closeCode reads from c until it ends and returns the close code and
// reason the gateway sent (fails if none came within d).
func closeCode(t *testing.T, c *websocket.Conn, d time.Duration) (int, string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(d))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Text
		}
		t.Fatalf("connection ended without a close frame: %v", err)
	}
}

// The relay sends close 1001 at shutdown and when a removed route's grace
// ends, 1011 when the backend drops, and passes the peers' own close codes
// and reasons both ways.
func TestWebSocketCloseCodes(t *testing.T) {
	t.Run("shutdown", func(t *testing.T) {
		e := newEnv(t, proxy.Config{})
		b := newWSServer(t, websocket.Upgrader{}, echoServe)
		e.deploy(topo("t", wsService("ws", b.URL, nil)))
		c := e.dialWS("/gateway/t/ws")
		echo(t, c, "hi")
		done := make(chan error, 1)
		go func() { done <- e.p.CloseUpgraded(context.Background()) }()
		if code, _ := closeCode(t, c, 5*time.Second); code != websocket.CloseGoingAway {
			t.Fatalf("close code %d, want 1001", code)
		}
		c.Close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		eventually(t, 5*time.Second, "backend side closed", func() bool { return b.live.Load() == 0 })
	})
	t.Run("route removed", func(t *testing.T) {
		e := newEnv(t, proxy.Config{UpgradeGrace: 50 * time.Millisecond})
		b := newWSServer(t, websocket.Upgrader{}, echoServe)
		e.deploy(topo("t", wsService("ws", b.URL, nil)))
		c := e.dialWS("/gateway/t/ws")
		echo(t, c, "hi")
		e.p.Remove("t")
		if code, _ := closeCode(t, c, 5*time.Second); code != websocket.CloseGoingAway {
			t.Fatalf("close code %d, want 1001", code)
		}
	})
	t.Run("backend drops", func(t *testing.T) {
		e := newEnv(t, proxy.Config{})
		b := newWSServer(t, websocket.Upgrader{}, func(c *websocket.Conn) {
			_, _, _ = c.ReadMessage()
			c.UnderlyingConn().Close() // no close frame
		})
		e.deploy(topo("t", wsService("ws", b.URL, nil)))
		c := e.dialWS("/gateway/t/ws")
		_ = c.WriteMessage(websocket.TextMessage, []byte("bye"))
		start := time.Now()
		if code, _ := closeCode(t, c, 5*time.Second); code != websocket.CloseInternalServerErr {
			t.Fatalf("close code %d, want 1011", code)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("close after %v", d)
		}
		eventually(t, 5*time.Second, "untracked", func() bool { return e.p.UpgradedConnections() == 0 })
	})
	t.Run("codes and reasons both ways", func(t *testing.T) {
		e := newEnv(t, proxy.Config{})
		got := make(chan string, 1)
		b := newWSServer(t, websocket.Upgrader{}, func(c *websocket.Conn) {
			c.SetCloseHandler(func(code int, text string) error {
				got <- fmt.Sprintf("%d %s", code, text)
				return c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "backend says bye"), time.Now().Add(time.Second))
			})
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
			}
		})
		e.deploy(topo("t", wsService("ws", b.URL, nil)))
		c := e.dialWS("/gateway/t/ws")
		if err := c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4000, "client says bye"), time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		select {
		case s := <-got:
			if s != "4000 client says bye" {
				t.Fatalf("backend got close %q", s)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the client's close did not reach the backend")
		}
		if code, text := closeCode(t, c, 5*time.Second); code != 4001 || text != "backend says bye" {
			t.Fatalf("client got close %d %q", code, text)
		}
		eventually(t, 5*time.Second, "untracked", func() bool { return e.p.UpgradedConnections() == 0 })
	})
	t.Run("client drops", func(t *testing.T) {
		e := newEnv(t, proxy.Config{})
		b := newWSServer(t, websocket.Upgrader{}, echoServe)
		e.deploy(topo("t", wsService("ws", b.URL, nil)))
		c := e.dialWS("/gateway/t/ws")
		echo(t, c, "hi")
		c.UnderlyingConn().Close()
		eventually(t, 5*time.Second, "backend side closed", func() bool { return b.live.Load() == 0 })
		eventually(t, 5*time.Second, "untracked", func() bool { return e.p.UpgradedConnections() == 0 })
	})
}

// Text, binary and fragmented messages, pings and pongs pass both ways;
// the subprotocol is negotiated end to end.
func TestWebSocketFrames(t *testing.T) {
	e := newEnv(t, proxy.Config{})
	pongs := make(chan string, 1)
	b := newWSServer(t, websocket.Upgrader{Subprotocols: []string{"chat.v2"}}, func(c *websocket.Conn) {
		c.SetPongHandler(func(s string) error { pongs <- s; return nil })
		_ = c.WriteControl(websocket.PingMessage, []byte("backend-ping"), time.Now().Add(time.Second))
		echoServe(c)
	})
	e.deploy(topo("t", wsService("ws", b.URL, nil)))
	d := websocket.Dialer{Subprotocols: []string{"chat.v1", "chat.v2"}}
	c, resp, err := d.Dial(wsURL(e, "/gateway/t/ws"), nil)
	if err != nil {
		t.Fatalf("dial: %v %v", err, resp)
	}
	defer c.Close()
	if c.Subprotocol() != "chat.v2" {
		t.Fatalf("subprotocol %q", c.Subprotocol())
	}
	clientPongs := make(chan string, 1)
	c.SetPongHandler(func(s string) error { clientPongs <- s; return nil })
	if err := c.WriteControl(websocket.PingMessage, []byte("client-ping"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	bin := make([]byte, 100_000)
	for i := range bin {
		bin[i] = byte(i)
	}
	if err := c.WriteMessage(websocket.BinaryMessage, bin); err != nil {
		t.Fatal(err)
	}
	mt, got, err := c.ReadMessage() // also runs the ping and pong handlers
	if err != nil || mt != websocket.BinaryMessage || string(got) != string(bin) {
		t.Fatalf("binary echo: type %d, %d bytes, %v", mt, len(got), err)
	}
	// A fragmented text message (three frames).
	w, err := c.NextWriter(websocket.TextMessage)
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{"frag", "ment", "ed ✓"} {
		_, _ = io.WriteString(w, part)
		if f, ok := w.(interface{ Flush() error }); ok {
			_ = f.Flush()
		}
	}
	w.Close()
	if mt, got, err := c.ReadMessage(); err != nil || mt != websocket.TextMessage || string(got) != "fragmented ✓" {
		t.Fatalf("fragmented echo: %d %q %v", mt, got, err)
	}
	select {
	case s := <-clientPongs:
		if s != "client-ping" {
			t.Fatalf("pong %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the backend's pong did not reach the client")
	}
	select {
	case s := <-pongs:
		if s != "backend-ping" {
			t.Fatalf("pong %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the client's pong did not reach the backend")
	}
}

// A backend that does not switch protocols has its answer passed on; the
// client connection stays HTTP (a request after it is served as HTTP).
// A backend that is down is a 502 before any upgrade.
func TestWebSocketBackendRefusesOrIsDown(t *testing.T) {
	e := newEnv(t, proxy.Config{})
	refusing := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Why", "no")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, "not for you")
	})
	down := newBackend(t, nil)
	downURL := down.URL
	down.Close()
	e.deploy(topo("t", wsService("refuse", refusing.URL, nil), wsService("down", downURL, nil)))

	conn, err := net.Dial("tcp", e.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	hs := "GET /gateway/t/refuse/x HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	// The refused upgrade, then a plain request on the same connection.
	if _, err := io.WriteString(conn, hs+"GET /gateway/t/refuse/y HTTP/1.1\r\nHost: gw\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	for i := range 2 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusForbidden || string(body) != "not for you" || resp.Header.Get("X-Why") != "no" {
			t.Fatalf("response %d: %d %q %v", i, resp.StatusCode, body, resp.Header)
		}
	}
	refusing.mu.Lock()
	var paths []string
	for _, r := range refusing.reqs {
		paths = append(paths, r.URL.Path+" "+r.Header.Get("Upgrade"))
	}
	refusing.mu.Unlock()
	if strings.Join(paths, ",") != "/x websocket,/y " {
		t.Fatalf("backend saw %q", paths)
	}

	_, resp, err := websocket.DefaultDialer.Dial(wsURL(e, "/gateway/t/down"), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("down backend: %v %v", resp, err)
	}
	body, _ := io.ReadAll(resp.Body)
	if strings.Contains(string(body), "127.0.0.1") {
		t.Fatalf("the 502 names the backend: %s", body)
	}
	if n := e.p.UpgradedConnections(); n != 0 {
		t.Fatalf("%d tracked after refusals", n)
	}
}

// Bad handshakes are refused before any backend connection.
func TestWebSocketBadHandshakes(t *testing.T) {
	e := newEnv(t, proxy.Config{})
	b := newWSServer(t, websocket.Upgrader{}, echoServe)
	e.deploy(topo("t", wsService("ws", b.URL, nil)))
	base := "Host: gw\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
	tests := []struct {
		name, raw string
		status    int
	}{
		{"bad key", "GET /gateway/t/ws HTTP/1.1\r\n" + base + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n\r\n", 400},
		{"no key", "GET /gateway/t/ws HTTP/1.1\r\n" + base + "Sec-WebSocket-Version: 13\r\n\r\n", 400},
		{"version 8", "GET /gateway/t/ws HTTP/1.1\r\n" + base + "Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", 426},
		{"POST", "POST /gateway/t/ws HTTP/1.1\r\n" + base + "Content-Length: 0\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := b.opened.Load()
			resp, _ := rawRoundTrip(t, e.addr(), tc.raw)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.status == 426 && resp.Header.Get("Sec-WebSocket-Version") != "13" {
				t.Fatalf("426 without Sec-WebSocket-Version: 13")
			}
			if b.opened.Load() != before {
				t.Fatal("a backend connection was opened")
			}
		})
	}
}

// Limits: message size (1009), connections per topology and per principal
// (503), idle timeout (1001); per-service params override the gateway's.
func TestWebSocketLimits(t *testing.T) {
	e := newEnv(t, proxy.Config{WebSocket: proxy.WebSocketLimits{MaxMessageBytes: 1 << 20, MaxConnectionsPerPrincipal: 2}})
	b := newWSServer(t, websocket.Upgrader{}, echoServe)
	e.deploy(&topology.Topology{Name: "t", Providers: []topology.Provider{{Role: "authentication", Name: "test-auth"}},
		Services: []topology.Service{
			wsService("small", b.URL, map[string]string{"websocket.max_message_bytes": "1000", "websocket.max_connections": "3"}),
			wsService("idle", b.URL, map[string]string{"websocket.idle_timeout": "300ms"}),
		}})
	as := func(user string) http.Header {
		return http.Header{"X-Test-Token": {"let-me-in"}, "X-Test-User": {user}}
	}
	dial := func(path string, h http.Header) (*websocket.Conn, int) {
		c, resp, err := websocket.DefaultDialer.Dial(wsURL(e, path), h)
		if err != nil {
			if resp == nil {
				t.Fatalf("dial %s: %v", path, err)
			}
			return nil, resp.StatusCode
		}
		t.Cleanup(func() { c.Close() })
		return c, 101
	}
	c, _ := dial("/gateway/t/small", as("alice"))
	echo(t, c, strings.Repeat("a", 1000))
	_ = c.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("a", 1001)))
	if code, _ := closeCode(t, c, 5*time.Second); code != websocket.CloseMessageTooBig {
		t.Fatalf("oversized: close %d, want 1009", code)
	}
	eventually(t, 5*time.Second, "untracked", func() bool { return e.p.UpgradedConnections() == 0 })

	a1, _ := dial("/gateway/t/small", as("alice"))
	dial("/gateway/t/small", as("alice"))
	if _, st := dial("/gateway/t/small", as("alice")); st != http.StatusServiceUnavailable {
		t.Fatalf("third connection of alice: %d, want 503", st)
	}
	dial("/gateway/t/small", as("bob"))
	if _, st := dial("/gateway/t/small", as("carol")); st != http.StatusServiceUnavailable {
		t.Fatalf("fourth connection to the topology: %d, want 503", st)
	}
	echo(t, a1, "existing connections go on")
	if resp, _ := e.get("/gateway/t/small/x"); resp.StatusCode == http.StatusServiceUnavailable {
		t.Fatal("plain HTTP refused at the WebSocket limit")
	}
	a1.Close()
	eventually(t, 5*time.Second, "a slot freed", func() bool { return e.p.UpgradedConnections() == 2 })
	if _, st := dial("/gateway/t/small", as("carol")); st != 101 {
		t.Fatalf("after a close: %d", st)
	}

	idle, _ := dial("/gateway/t/idle", as("dave"))
	start := time.Now()
	if code, _ := closeCode(t, idle, 5*time.Second); code != websocket.CloseGoingAway {
		t.Fatalf("idle: close %d, want 1001", code)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("idle connection closed after %v", d)
	}
}

// The credential used at the upgrade is watched: revoking it closes the
// socket with 1008 within a second; so does its expiry.
func TestWebSocketRevocation(t *testing.T) {
	var revoked revocation.Set
	e := newEnv(t, proxy.Config{Host: hostWith(&revoked)})
	b := newWSServer(t, websocket.Upgrader{}, echoServe)
	e.deploy(&topology.Topology{Name: "t", Providers: []topology.Provider{{Role: "authentication", Name: "test-auth"}},
		Services: []topology.Service{wsService("ws", b.URL, nil)}})
	h := func(cred string) http.Header {
		return http.Header{"X-Test-Token": {"let-me-in"}, "X-Test-User": {"alice"}, "X-Test-Credential": {cred}}
	}
	c1, _, err := websocket.DefaultDialer.Dial(wsURL(e, "/gateway/t/ws"), h("jti-1"))
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	c2, _, err := websocket.DefaultDialer.Dial(wsURL(e, "/gateway/t/ws"), h("jti-2"))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	echo(t, c1, "before")
	revoked.Revoke("jti-1", time.Time{})
	start := time.Now()
	if code, reason := closeCode(t, c1, 5*time.Second); code != websocket.ClosePolicyViolation || reason != "credential revoked" {
		t.Fatalf("revoked: close %d %q", code, reason)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("closed %v after the revocation", d)
	}
	echo(t, c2, "another credential's socket stays open")
	if _, resp, err := websocket.DefaultDialer.Dial(wsURL(e, "/gateway/t/ws"), h("jti-1")); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("upgrade with the revoked credential: %v %v", resp, err)
	}
}

func hostWith(rev *revocation.Set) chain.Host { return chain.Host{Revocations: rev} }

// At the descriptor ceiling (two per connection, a reserve for HTTP) new
// upgrades get 503 while open sockets and plain HTTP go on.
func TestWebSocketDescriptorCeiling(t *testing.T) {
	e := newEnv(t, proxy.Config{MaxOpenFiles: 200 + 2*2}) // room for two
	b := newWSServer(t, websocket.Upgrader{}, echoServe)
	plain := newBackend(t, nil)
	e.deploy(topo("t", wsService("ws", b.URL, nil), svc("plain", plain.URL)))
	if e.p.MaxOpenFiles() != 204 {
		t.Fatalf("MaxOpenFiles %d", e.p.MaxOpenFiles())
	}
	c1, c2 := e.dialWS("/gateway/t/ws"), e.dialWS("/gateway/t/ws")
	_, resp, err := websocket.DefaultDialer.Dial(wsURL(e, "/gateway/t/ws"), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("upgrade past the ceiling: %v %v", resp, err)
	}
	if n := b.opened.Load(); n != 2 {
		t.Fatalf("%d backend connections, want 2", n)
	}
	if resp, body := e.get("/gateway/t/plain/x"); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("plain HTTP at the ceiling: %d %q", resp.StatusCode, body)
	}
	echo(t, c1, "one")
	echo(t, c2, "two")
	if v := metricValue(t, e, "gateway_websocket_connections"); v != 2 {
		t.Fatalf("gateway_websocket_connections %v", v)
	}
	if v := metricValue(t, e, "gateway_websocket_connections_max"); v != 2 {
		t.Fatalf("gateway_websocket_connections_max %v", v)
	}
}

// Nothing is left behind: once a hundred connections, active or idle,
// ended (by either side), no relay goroutine and no pooled buffer remains,
// and an idle relayed connection holds no buffer.
func TestWebSocketNothingLeftBehind(t *testing.T) {
	e := newEnv(t, proxy.Config{})
	b := newWSServer(t, websocket.Upgrader{}, echoServe)
	e.deploy(topo("t", wsService("ws", b.URL, nil)))
	echo(t, e.dialWS("/gateway/t/ws"), "warm up") // the poller's goroutine starts once per process
	eventually(t, 5*time.Second, "warm-up closed", func() bool { return e.p.UpgradedConnections() <= 1 })
	baseline := goroutineBaseline(t)
	var conns []*websocket.Conn
	for i := range 100 {
		c, resp, err := websocket.DefaultDialer.Dial(wsURL(e, "/gateway/t/ws"), nil)
		if err != nil {
			t.Fatalf("dial %d: %v %v", i, err, resp)
		}
		conns = append(conns, c)
		if i%2 == 0 {
			echo(t, c, "active")
		}
	}
	eventually(t, 5*time.Second, "idle relays hold no buffer", func() bool { return wsrelay.BuffersInUse() == 0 })
	for i, c := range conns {
		if i%2 == 0 {
			c.Close() // the client drops
		} else {
			_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(time.Second))
		}
	}
	eventually(t, 10*time.Second, "untracked", func() bool { return e.p.UpgradedConnections() <= 1 })
	eventually(t, 10*time.Second, "backend sides closed", func() bool { return b.live.Load() <= 1 })
	for _, c := range conns {
		c.Close()
	}
	baseline()
	if n := wsrelay.BuffersInUse(); n != 0 {
		t.Fatalf("%d pooled buffers still held", n)
	}
}

// wss to a backend: verified with the service's truststore, with the
// service's client certificate (two-way TLS); a backend certificate the
// truststore does not vouch for is a 502 before the upgrade.
func TestWebSocketBackendTLS(t *testing.T) {
	serverCA, clientCA, otherCA := testpki.NewCA(t, "backend CA"), testpki.NewCA(t, "gateway client CA"), testpki.NewCA(t, "other")
	var clientCN atomic.Value
	up := websocket.Upgrader{}
	b := newConnBackend(t, &tls.Config{
		Certificates: []tls.Certificate{serverCA.Server(t, "127.0.0.1").TLS},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientCA.Pool(),
	}, func(w http.ResponseWriter, r *http.Request) {
		clientCN.Store(r.TLS.PeerCertificates[0].Subject.CommonName)
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		echoServe(c)
	})
	gw := clientCA.Client(t, "gateway-ws")
	e := newEnv(t, proxy.Config{
		Resolver:    secrets{"t/gw-cert": string(gw.CertPEM) + string(gw.KeyPEM)},
		Truststores: truststores{"backend-ca": serverCA.PEM, "other-ca": otherCA.PEM},
	})
	wss := func(path, store string) topology.Service {
		s := svc(path, "wss"+strings.TrimPrefix(b.URL, "https"))
		s.WebSocket = true
		s.Dispatch = &topology.Dispatch{Truststore: store, UseTwoWayTLS: true, ClientCertificate: "gw-cert"}
		return s
	}
	e.deploy(topo("t", wss("good", "backend-ca"), wss("untrusted", "other-ca")))
	c := e.dialWS("/gateway/t/good")
	echo(t, c, "over wss")
	if got, _ := clientCN.Load().(string); got != "gateway-ws" {
		t.Fatalf("backend saw client certificate %q", got)
	}
	_, resp, err := websocket.DefaultDialer.Dial(wsURL(e, "/gateway/t/untrusted"), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("untrusted backend: %v %v", resp, err)
	}
}
