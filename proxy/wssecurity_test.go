package proxy_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy"
)

// The backend handshake is built like any proxied request: the rest of
// the path and the query reach the service URL, cookies pass but the one
// the gateway consumed, client identity and hop-by-hop headers do not, the
// asserted principal does, and no extension is offered.
func TestWebSocketHandshakeToBackend(t *testing.T) {
	e := newEnv(t, proxy.Config{})
	b := newWSServer(t, websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}, echoServe)
	ws := wsService("ws", b.URL+"/base", nil)
	e.deploy(&topology.Topology{Name: "t", Services: []topology.Service{ws}, Providers: []topology.Provider{
		{Role: "authentication", Name: "test-session"},
		{Role: "identity-assertion", Name: "default", Params: map[string]string{"header": "X-Forwarded-User"}},
	}})
	h := http.Header{
		"Cookie":           {"test-session=ok; theme=dark"},
		"X-Forwarded-User": {"mallory"},
		"X-App":            {"kept"},
	}
	d := websocket.Dialer{EnableCompression: true} // offers permessage-deflate
	c, resp, err := d.Dial(wsURL(e, "/gateway/t/ws/123foo456bar/channels?x=1&y=%2F"), h)
	if err != nil {
		t.Fatalf("dial: %v %v", err, resp)
	}
	defer c.Close()
	echo(t, c, "through")
	if resp.Header.Get("X-Request-Id") == "" || resp.Header.Get("Sec-Websocket-Extensions") != "" {
		t.Fatalf("101 headers: %v", resp.Header)
	}
	r := <-b.seen
	checks := []struct{ what, got, want string }{
		{"path", r.URL.Path, "/base/123foo456bar/channels"},
		{"query", r.URL.RawQuery, "x=1&y=%2F"},
		{"cookie", r.Header.Get("Cookie"), "theme=dark"},
		{"asserted principal", r.Header.Get("X-Forwarded-User"), "carol"},
		{"end-to-end header", r.Header.Get("X-App"), "kept"},
		{"extensions", r.Header.Get("Sec-Websocket-Extensions"), ""},
		{"forwarded context", r.Header.Get("X-Forwarded-Context"), "/gateway/t"},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("backend %s: %q, want %q", ck.what, ck.got, ck.want)
		}
	}
	// Same origin at the gateway: the backend sees its own origin; another
	// origin passes as sent.
	for origin, want := range map[string]string{"http://" + e.addr(): b.URL, "https://elsewhere.example": "https://elsewhere.example"} {
		c, resp, err := websocket.DefaultDialer.Dial(wsURL(e, "/gateway/t/ws"), http.Header{"Cookie": {"test-session=ok"}, "Origin": {origin}})
		if err != nil {
			t.Fatalf("dial with Origin %s: %v %v", origin, err, resp)
		}
		c.Close()
		if got := (<-b.seen).Header.Get("Origin"); got != want {
			t.Errorf("Origin %s reached the backend as %q, want %q", origin, got, want)
		}
	}
	// A header the client names in Connection is hop-by-hop: not forwarded.
	dialRaw(t, e, "/gateway/t/ws", "Cookie: test-session=ok", "Connection: X-Hop", "X-Hop: secret-hop")
	if r := <-b.seen; r.Header.Get("X-Hop") != "" || r.Header.Get("Cookie") != "" {
		t.Fatalf("backend got X-Hop %q, Cookie %q", r.Header.Get("X-Hop"), r.Header.Get("Cookie"))
	}
}

// A WebSocket handshake's query reaches the backend as any proxied
// request's: the client's doAs/user.name are removed, also behind ';'
// (Hadoop's pseudo authentication and Python's older parse_qs read ';' as
// a separator, and the first user.name wins), and the gateway asserts the
// principal.
func TestWebSocketImpersonationQuery(t *testing.T) {
	e := newEnv(t, proxy.Config{})
	b := newWSServer(t, websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}, echoServe)
	e.deploy(&topology.Topology{Name: "t", Services: []topology.Service{wsService("ws", b.URL, nil)}, Providers: []topology.Provider{
		{Role: "authentication", Name: "test-session"},
		{Role: "identity-assertion", Name: "default", Params: map[string]string{"query_param": "user.name"}},
	}})
	for _, q := range []string{"x=1;user.name=mallory", "user.name=mallory;x=1&y=2", "x=1&User%2EName=mallory;doAs=mallory", "doAs=mallory"} {
		c, resp, err := websocket.DefaultDialer.Dial(wsURL(e, "/gateway/t/ws?"+q), http.Header{"Cookie": {"test-session=ok"}})
		if err != nil {
			t.Fatalf("dial ?%s: %v %v", q, err, resp)
		}
		c.Close()
		got := (<-b.seen).URL.RawQuery
		if p := impersonationParams(got); len(p) != 1 || p[0] != "user.name=carol" {
			t.Errorf("?%s reached the backend as ?%s: impersonation params %q, want only the gateway's user.name=carol", q, got, p)
		}
	}
}

// With the topology's CORS origins set, a cross-origin upgrade from
// elsewhere is refused before any backend connection (cross-site
// WebSocket hijacking); an allowed origin upgrades.
func TestWebSocketOrigin(t *testing.T) {
	e := newEnv(t, proxy.Config{})
	b := newWSServer(t, websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}, echoServe)
	e.deploy(&topology.Topology{Name: "t", Services: []topology.Service{wsService("ws", b.URL, nil)},
		Providers: append([]topology.Provider{{Role: "webappsec", Name: "WebAppSec",
			Params: map[string]string{"cors.enabled": "true", "cors.allowOrigin": "https://app.example"}}}, openProviders...)})
	_, resp, err := websocket.DefaultDialer.Dial(wsURL(e, "/gateway/t/ws"), http.Header{"Origin": {"https://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin upgrade: %v %v", resp, err)
	}
	if n := b.opened.Load(); n != 0 {
		t.Fatalf("%d backend connections for a refused upgrade", n)
	}
	c, resp, err := websocket.DefaultDialer.Dial(wsURL(e, "/gateway/t/ws"), http.Header{"Origin": {"https://app.example"}})
	if err != nil {
		t.Fatalf("allowed origin: %v %v", err, resp)
	}
	defer c.Close()
	echo(t, c, "same origin")
}

// Rewrite rules: ordered per direction, literal and regex, with the
// gateway URL, the service URL and the principal; binary messages pass
// untouched unless a rule names binary.
func TestWebSocketRewriteRules(t *testing.T) {
	e := newEnv(t, proxy.Config{})
	b := newWSServer(t, websocket.Upgrader{}, func(c *websocket.Conn) {
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if mt == websocket.TextMessage {
				msg = append([]byte("backend got ["+string(msg)+"] see "), "http://backend.internal:8080/app/x"...)
			}
			if err := c.WriteMessage(mt, msg); err != nil {
				return
			}
		}
	})
	params := map[string]string{
		"websocket.rewrite.outbound.2": "regex:backend got \\[(\\w+)\\] => {principal} sent $1 to {service_url}",
		"websocket.rewrite.outbound.1": "literal:http://backend.internal:8080/app => {gateway_url}",
		"websocket.rewrite.inbound.1":  "regex:^/gateway/t/ws/(\\w+)$ => $1",
		"websocket.rewrite.inbound.2":  "binary literal:SECRET => ******",
	}
	e.deploy(&topology.Topology{Name: "t", Providers: []topology.Provider{{Role: "authentication", Name: "test-auth"}},
		Services: []topology.Service{wsService("ws", b.URL, params)}})
	c, resp, err := websocket.DefaultDialer.Dial(wsURL(e, "/gateway/t/ws"), http.Header{"X-Test-Token": {"let-me-in"}, "X-Test-User": {"alice"}})
	if err != nil {
		t.Fatalf("dial: %v %v", err, resp)
	}
	defer c.Close()
	_ = c.WriteMessage(websocket.TextMessage, []byte("/gateway/t/ws/hello"))
	_, got, err := c.ReadMessage()
	want := "alice sent hello to ws" + strings.TrimPrefix(b.URL, "http") + " see http://" + e.addr() + "/gateway/t/ws/x"
	if err != nil || string(got) != want {
		t.Fatalf("rewritten text:\n got %q %v\nwant %q", got, err, want)
	}
	_ = c.WriteMessage(websocket.BinaryMessage, []byte("a SECRET http://backend.internal:8080/app"))
	if _, got, err := c.ReadMessage(); err != nil || string(got) != "a ****** http://backend.internal:8080/app" {
		t.Fatalf("binary: %q %v (only the binary rule applies)", got, err)
	}
}

// Bad rules and settings refuse the deploy with the param named.
func TestWebSocketParamsRefused(t *testing.T) {
	e := newEnv(t, proxy.Config{})
	tests := []struct {
		params  map[string]string
		ws      bool
		wantErr string
	}{
		{map[string]string{"websocket.rewrite.inbound.1": "regex:a(b => x"}, true, `websocket.rewrite.inbound.1: bad regular expression`},
		{map[string]string{"websocket.rewrite.outbound.3": "literal:a -> b"}, true, `websocket.rewrite.outbound.3: want`},
		{map[string]string{"websocket.rewrite.outbound.1": "literal:a => {user}"}, true, `unknown placeholder {user}`},
		{map[string]string{"websocket.rewrite.outbound.1": "glob:a => b"}, true, `must start with "literal:" or "regex:"`},
		{map[string]string{"websocket.rewrite.outbound.1": "regex:x* => b"}, true, `matches the empty string`},
		{map[string]string{"websocket.rewrite.outbound.first": "literal:a => b"}, true, `is numbered`},
		{map[string]string{"websocket.max_message_bytes": "-1"}, true, `websocket.max_message_bytes`},
		{map[string]string{"websocket.idle_timeout": "soon"}, true, `websocket.idle_timeout`},
		{map[string]string{"websocket.max_conections": "5"}, true, `unknown WebSocket setting`},
		{map[string]string{"websocket.permessage_deflate": "maybe"}, true, `websocket.permessage_deflate`},
		{map[string]string{"websocket.idle_timeout": "1m"}, false, `does not set websocket: true`},
	}
	for _, tc := range tests {
		s := svc("s", "http://127.0.0.1:1")
		s.WebSocket, s.Params = tc.ws, tc.params
		_, err := e.p.Compile(context.Background(), topo("t", s))
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), `service "s"`) {
			t.Errorf("%v: %v, want an error with %q", tc.params, err, tc.wantErr)
		}
	}
	if e.p.Topologies() != 0 {
		t.Fatal("a refused topology is live")
	}
}

// rawWS is a client speaking frames by hand, for what gorilla refuses to send.
type rawWS struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
}

func dialRaw(t *testing.T, e *env, path string, headers ...string) *rawWS {
	t.Helper()
	conn, err := net.Dial("tcp", e.addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	hs := "GET " + path + " HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	for _, h := range headers {
		hs += h + "\r\n"
	}
	if _, err := io.WriteString(conn, hs+"\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	if resp.Header.Get("Sec-Websocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("accept key %q", resp.Header.Get("Sec-Websocket-Accept"))
	}
	return &rawWS{t: t, conn: conn, br: br}
}

// frame builds a frame: b0 is FIN/RSV/opcode; masked with a fixed key.
func frame(b0 byte, payload []byte, masked bool) []byte {
	f := []byte{b0}
	m := byte(0)
	if masked {
		m = 0x80
	}
	switch {
	case len(payload) <= 125:
		f = append(f, m|byte(len(payload)))
	default:
		f = append(f, m|126)
		f = binary.BigEndian.AppendUint16(f, uint16(len(payload)))
	}
	if !masked {
		return append(f, payload...)
	}
	key := [4]byte{9, 8, 7, 6}
	f = append(f, key[:]...)
	for i, c := range payload {
		f = append(f, c^key[i%4])
	}
	return f
}

// closeFrame reads frames until a close frame and returns its code.
func (r *rawWS) closeFrame() int {
	r.t.Helper()
	for {
		var h [2]byte
		if _, err := io.ReadFull(r.br, h[:]); err != nil {
			r.t.Fatalf("no close frame: %v", err)
		}
		n := int(h[1] & 0x7F)
		switch n {
		case 126:
			var l [2]byte
			io.ReadFull(r.br, l[:])
			n = int(binary.BigEndian.Uint16(l[:]))
		case 127:
			var l [8]byte
			io.ReadFull(r.br, l[:])
			n = int(binary.BigEndian.Uint64(l[:]))
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(r.br, p); err != nil {
			r.t.Fatalf("frame payload: %v", err)
		}
		if h[0]&0x0F == 0x8 {
			if len(p) < 2 {
				return 1005
			}
			return int(binary.BigEndian.Uint16(p))
		}
	}
}

// Frames the protocol forbids close the connection with 1002 (1007 for
// text that is not UTF-8), and the backend side is closed too.
func TestWebSocketBadFrames(t *testing.T) {
	e := newEnv(t, proxy.Config{})
	b := newWSServer(t, websocket.Upgrader{}, echoServe)
	e.deploy(topo("t", wsService("ws", b.URL, nil)))
	long := make([]byte, 14)
	long[0], long[1] = 0x82, 0x80|127
	binary.BigEndian.PutUint64(long[2:], 1<<63|5)
	tests := []struct {
		name  string
		bytes []byte
		code  int
	}{
		{"unmasked client frame", frame(0x81, []byte("hi"), false), 1002},
		{"reserved bit", frame(0x81|0x40, []byte("hi"), true), 1002},
		{"unknown opcode", frame(0x83, []byte("hi"), true), 1002},
		{"64-bit length with the top bit", long, 1002},
		{"fragmented ping", frame(0x09, []byte("p"), true), 1002},
		{"oversized ping", frame(0x89, make([]byte, 126), true), 1002},
		{"continuation without a message", frame(0x80, []byte("x"), true), 1002},
		{"new message inside a fragmented one", append(frame(0x01, []byte("a"), true), frame(0x81, []byte("b"), true)...), 1002},
		{"bad UTF-8", frame(0x81, []byte{'a', 0xff, 'b'}, true), 1007},
		{"UTF-8 cut across fragments, never completed", append(frame(0x01, []byte{'a', 0xE2, 0x82}, true), frame(0x80, []byte{'b'}, true)...), 1007},
		{"surrogate", frame(0x81, []byte{0xED, 0xA0, 0x80}, true), 1007},
		{"close code 1005 on the wire", frame(0x88, []byte{0x03, 0xED}, true), 1002},
		{"close reason not UTF-8", frame(0x88, []byte{0x03, 0xE8, 0xff}, true), 1007},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, e, "/gateway/t/ws")
			eventually(t, 5*time.Second, "backend connected", func() bool { return b.live.Load() == 1 })
			if _, err := r.conn.Write(tc.bytes); err != nil {
				t.Fatal(err)
			}
			if code := r.closeFrame(); code != tc.code {
				t.Fatalf("close %d, want %d", code, tc.code)
			}
			eventually(t, 5*time.Second, "backend side closed", func() bool { return b.live.Load() == 0 })
			eventually(t, 5*time.Second, "untracked", func() bool { return e.p.UpgradedConnections() == 0 })
		})
	}
	// UTF-8 cut across fragments and completed is fine.
	r := dialRaw(t, e, "/gateway/t/ws")
	_, _ = r.conn.Write(append(frame(0x01, []byte{'a', 0xE2, 0x82}, true), frame(0x80, []byte{0xAC, 'b'}, true)...))
	var h [2]byte
	if _, err := io.ReadFull(r.br, h[:]); err != nil || h[0] != 0x81 {
		t.Fatalf("echo of a split rune: % x %v", h, err)
	}
	got := make([]byte, h[1])
	io.ReadFull(r.br, got)
	if string(got) != "a€b" {
		t.Fatalf("echo %q", got)
	}
}

// An upgrade the chain refuses, with a request pipelined behind it: both
// are answered as HTTP; nothing reaches the backend.
func TestWebSocketRefusedUpgradeThenRequest(t *testing.T) {
	e := newEnv(t, proxy.Config{})
	b := newWSServer(t, websocket.Upgrader{}, echoServe)
	e.deploy(&topology.Topology{Name: "t", Providers: []topology.Provider{{Role: "authentication", Name: "test-auth"}},
		Services: []topology.Service{wsService("ws", b.URL, nil)}})
	conn, err := net.Dial("tcp", e.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	hs := "GET /gateway/t/ws HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	smuggled := "GET /gateway/t/ws/admin HTTP/1.1\r\nHost: gw\r\n\r\n"
	io.WriteString(conn, hs+string(frame(0x81, []byte("hi"), true))+smuggled)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("refused upgrade: %v %v", resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	// What follows is read as HTTP (a frame is not a request: 400 and close),
	// never relayed.
	if resp, err := http.ReadResponse(br, nil); err == nil && resp.StatusCode < 400 {
		t.Fatalf("bytes after a refused upgrade answered %d", resp.StatusCode)
	}
	if n := b.opened.Load(); n != 0 {
		t.Fatalf("%d backend connections", n)
	}
}

// Expiry of the credential used at the upgrade closes the socket with 1008.
func TestWebSocketCredentialExpiry(t *testing.T) {
	e := newEnv(t, proxy.Config{})
	b := newWSServer(t, websocket.Upgrader{}, echoServe)
	e.deploy(&topology.Topology{Name: "t", Providers: []topology.Provider{{Role: "authentication", Name: "test-auth"}},
		Services: []topology.Service{wsService("ws", b.URL, nil)}})
	c, resp, err := websocket.DefaultDialer.Dial(wsURL(e, "/gateway/t/ws"), http.Header{"X-Test-Token": {"let-me-in"},
		"X-Test-User": {"alice"}, "X-Test-Expires-In": {"400ms"}})
	if err != nil {
		t.Fatalf("dial: %v %v", err, resp)
	}
	defer c.Close()
	echo(t, c, "before expiry")
	if code, reason := closeCode(t, c, 5*time.Second); code != websocket.ClosePolicyViolation || reason != "credential expired" {
		t.Fatalf("close %d %q", code, reason)
	}
}

// A client that stops reading while the backend keeps sending does not
// grow the gateway's memory: the relay's writes block (no queue), and past
// the write timeout the client is dropped and the backend closed.
func TestWebSocketSlowReader(t *testing.T) {
	e := newEnv(t, proxy.Config{})
	sent := make(chan int, 1)
	b := newWSServer(t, websocket.Upgrader{}, func(c *websocket.Conn) {
		msg := make([]byte, 64<<10)
		n := 0
		for ; n < 4096; n++ { // up to 256 MiB
			_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if c.WriteMessage(websocket.BinaryMessage, msg) != nil {
				break
			}
		}
		sent <- n
	})
	e.deploy(topo("t", wsService("ws", b.URL, map[string]string{"websocket.write_timeout": "500ms"})))
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := e.dialWS("/gateway/t/ws") // never reads
	var n int
	select {
	case n = <-sent:
	case <-time.After(20 * time.Second):
		t.Fatal("the backend's writes were never stopped")
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if n >= 4096 {
		t.Fatalf("the backend wrote all %d messages to a client that does not read", n)
	}
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 16<<20 {
		t.Fatalf("heap grew %d MiB while %d messages of 64 KiB were held up", grew>>20, n)
	}
	eventually(t, 5*time.Second, "untracked", func() bool { return e.p.UpgradedConnections() == 0 })
	c.Close()
}
