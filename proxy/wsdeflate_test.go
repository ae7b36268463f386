package proxy_test

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/securegw/gateway/proxy"
	"github.com/securegw/gateway/proxy/wsrelay"
)

// deflated is p compressed as permessage-deflate sends it (RFC 7692 §7.2.1).
func deflated(t *testing.T, p []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	fw, _ := flate.NewWriter(&b, flate.BestCompression)
	if _, err := fw.Write(p); err != nil {
		t.Fatal(err)
	}
	if err := fw.Flush(); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// readFrame reads one frame (unmasked, as from the gateway): its first
// byte and payload.
func (r *rawWS) readFrame() (byte, []byte) {
	r.t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(r.br, h[:]); err != nil {
		r.t.Fatalf("reading a frame: %v", err)
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
	return h[0], p
}

func (r *rawWS) send(b ...[]byte) {
	r.t.Helper()
	if _, err := r.conn.Write(bytes.Join(b, nil)); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// permessage-deflate (RFC 7692) is off unless a service turns it on; then
// it is negotiated with each side on its own. Compressed messages pass
// compressed when both sides took it and no rule reads them, else the
// gateway inflates them (bounded: 1009 past the message limit, however
// small the compressed form; 1007 for data that does not inflate).
func TestWebSocketPermessageDeflate(t *testing.T) {
	e := newEnv(t, proxy.Config{})
	zb := newWSServer(t, websocket.Upgrader{EnableCompression: true}, echoServe)
	plain := newWSServer(t, websocket.Upgrader{}, echoServe)
	var got atomic.Int64 // messages the counting backend received
	counting := newWSServer(t, websocket.Upgrader{EnableCompression: true}, func(c *websocket.Conn) {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
			got.Add(1)
		}
	})
	on := func(kv ...string) map[string]string {
		m := map[string]string{"websocket.permessage_deflate": "true"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	e.deploy(topo("t",
		wsService("both", zb.URL, on()),
		wsService("client-only", plain.URL, on()),
		wsService("rule", zb.URL, on("websocket.rewrite.inbound.1", "literal:secret => public")),
		wsService("off", zb.URL, nil),
		wsService("small", counting.URL, on("websocket.max_message_bytes", "65536")),
	))
	lastOffer := func(b *wsServer) string {
		t.Helper()
		var r string
		for {
			select {
			case req := <-b.seen:
				r = req.Header.Get("Sec-Websocket-Extensions")
			default:
				return r
			}
		}
	}
	big := strings.Repeat("compressible text ", 4000) // 72 KB
	d := websocket.Dialer{EnableCompression: true}

	for _, tc := range []struct {
		path            string
		backend         *wsServer
		clientExt, sent string // the client's extension, the message as the backend echoes it
		offered         bool
	}{
		{"both", zb, "permessage-deflate; server_no_context_takeover; client_no_context_takeover", "a secret " + big, true},
		{"client-only", plain, "permessage-deflate; server_no_context_takeover; client_no_context_takeover", "a secret " + big, true},
		{"rule", zb, "permessage-deflate; server_no_context_takeover; client_no_context_takeover", "a public " + big, true},
		{"off", zb, "", "a secret " + big, false},
	} {
		t.Run(tc.path, func(t *testing.T) {
			lastOffer(tc.backend)
			c, resp, err := d.Dial(wsURL(e, "/gateway/t/"+tc.path), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if got := resp.Header.Get("Sec-Websocket-Extensions"); got != tc.clientExt {
				t.Fatalf("extension with the client %q, want %q", got, tc.clientExt)
			}
			offer := lastOffer(tc.backend)
			if (offer == wsrelay.DeflateOffer) != tc.offered || (!tc.offered && offer != "") {
				t.Fatalf("offered the backend %q", offer)
			}
			for _, mt := range []int{websocket.TextMessage, websocket.BinaryMessage} {
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if err := c.WriteMessage(mt, []byte("a secret "+big)); err != nil {
					t.Fatal(err)
				}
				gt, msg, err := c.ReadMessage()
				want := tc.sent
				if mt == websocket.BinaryMessage {
					want = "a secret " + big // rules read text only
				}
				if err != nil || gt != mt || string(msg) != want {
					t.Fatalf("echo of a %d message: %d, %d bytes, %v", mt, gt, len(msg), err)
				}
			}
		})
	}

	// On the wire: the backend's compressed echo reaches a compressing
	// client as it was sent (the gateway never compresses: RSV1 here is
	// the backend's); towards a backend without the extension the gateway
	// inflates, and the echo comes back plain.
	for _, tc := range []struct {
		path string
		rsv1 bool
	}{{"both", true}, {"client-only", false}} {
		raw := dialRaw(t, e, "/gateway/t/"+tc.path, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")
		msg := []byte("hello, " + big)
		raw.send(frame(0xC1, deflated(t, msg), true)) // FIN, RSV1, text
		b0, p := raw.readFrame()
		if (b0&0x40 != 0) != tc.rsv1 || b0&0x0F != 0x1 {
			t.Fatalf("%s: echo frame %#x, want RSV1 %v", tc.path, b0, tc.rsv1)
		}
		if b0&0x40 != 0 {
			fr := flate.NewReader(io.MultiReader(bytes.NewReader(p), strings.NewReader("\x00\x00\xff\xff\x01\x00\x00\xff\xff")))
			p, _ = io.ReadAll(fr)
		}
		if !bytes.Equal(p, msg) {
			t.Fatalf("%s: echo of %d bytes, want %d", tc.path, len(p), len(msg))
		}
	}

	// Bad compressed input: a bomb (20 MB of zeros in ~20 KB, under the
	// 64 KiB message limit compressed) is refused 1009 without inflating
	// it all and without reaching the backend; data that does not inflate
	// is 1007; RSV1 where it may not be is 1002.
	bomb := func() []byte {
		var b bytes.Buffer
		fw, _ := flate.NewWriter(&b, flate.BestCompression)
		zeros := make([]byte, 1<<20)
		for range 20 {
			fw.Write(zeros)
		}
		fw.Flush()
		return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
	}()
	if len(bomb) >= 65536 {
		t.Fatalf("the bomb is %d bytes compressed", len(bomb))
	}
	for _, tc := range []struct {
		name   string
		frames [][]byte
		want   int
	}{
		{"bomb", [][]byte{frame(0xC2, bomb, true)}, 1009},
		{"bomb in fragments", [][]byte{frame(0x42, bomb[:len(bomb)/2], true), frame(0x80, bomb[len(bomb)/2:], true)}, 1009},
		{"not deflate data", [][]byte{frame(0xC1, []byte{0xff, 0xff, 0xff, 0xff, 0x00}, true)}, 1007},
		{"compressed text not UTF-8", [][]byte{frame(0xC1, deflated(t, []byte{0xff, 0xfe}), true)}, 1007},
		{"RSV1 on a continuation", [][]byte{frame(0x41, deflated(t, []byte("a")), true), frame(0xC0, []byte("b"), true)}, 1002},
		{"RSV1 on a ping", [][]byte{frame(0xC9, []byte("p"), true)}, 1002},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := got.Load()
			raw := dialRaw(t, e, "/gateway/t/small", "Sec-WebSocket-Extensions: permessage-deflate")
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			raw.send(tc.frames...)
			if code := raw.closeFrame(); code != tc.want {
				t.Fatalf("close %d, want %d", code, tc.want)
			}
			runtime.ReadMemStats(&m1)
			if a := m1.TotalAlloc - m0.TotalAlloc; a > 16<<20 {
				t.Fatalf("%d MiB allocated while refusing it", a>>20)
			}
			if n := got.Load() - before; n != 0 {
				t.Fatalf("%d messages reached the backend", n)
			}
		})
	}
	// A backend answering with an extension the gateway cannot take (its
	// context kept, one not offered) is a 502, not a socket.
	liar := newConnBackend(t, nil, func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\nSec-WebSocket-Extensions: %s\r\n\r\n",
			wsrelay.AcceptKey(r.Header.Get("Sec-WebSocket-Key")), r.URL.Query().Get("ext"))
		brw.Flush()
	})
	e.deploy(topo("liar", wsService("on", liar.URL, on()), wsService("off", liar.URL, nil)))
	for _, tc := range []struct{ path, ext string }{
		{"on", "permessage-deflate"},
		{"on", "permessage-deflate; server_no_context_takeover; client_max_window_bits=9"},
		{"on", "x-webkit-deflate-frame"},
		{"off", "permessage-deflate; server_no_context_takeover"},
	} {
		_, resp, err := d.Dial(wsURL(e, "/gateway/liar/"+tc.path+"?ext="+url.QueryEscape(tc.ext)), nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("%s, backend answering %q: %v %v", tc.path, tc.ext, resp, err)
		}
	}

	// Without the setting, RSV1 is refused as before (no extension).
	raw := dialRaw(t, e, "/gateway/t/off", "Sec-WebSocket-Extensions: permessage-deflate")
	raw.send(frame(0xC1, deflated(t, []byte("hello")), true))
	if code := raw.closeFrame(); code != 1002 {
		t.Fatalf("RSV1 without the extension: close %d, want 1002", code)
	}
}
