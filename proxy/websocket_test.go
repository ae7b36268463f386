package proxy_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/securegw/gateway/internal/topology"
)

// WebSocket upgrades pass the same chain as any request, before a backend
// connection exists; only websocket services upgrade.
func TestWebSocketThroughChain(t *testing.T) {
	e := newEnv(t, proxyConfig())
	up := websocket.Upgrader{}
	b := newConnBackend(t, nil, func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			c.WriteMessage(mt, append([]byte(r.Header.Get("X-Forwarded-Context")+":"), msg...))
		}
	})
	ws := svc("ws", "ws"+strings.TrimPrefix(b.URL, "http"))
	ws.WebSocket = true
	plain := svc("plain", b.URL)
	e.deploy(&topology.Topology{Name: "t", Services: []topology.Service{ws, plain},
		Providers: []topology.Provider{{Role: "authentication", Name: "test-auth"}}})
	wsURL := "ws" + strings.TrimPrefix(e.fe.URL, "http") + "/gateway/t/"
	creds := http.Header{"X-Test-Token": {"let-me-in"}, "X-Test-User": {"alice"}}

	tests := []struct {
		name    string
		path    string
		header  http.Header
		status  int // of a refused handshake
		reached bool
	}{
		{"no credentials: 401 before any backend connection", "ws", nil, 401, false},
		{"wrong credentials", "ws", http.Header{"X-Test-Token": {"guess"}}, 401, false},
		{"not a websocket service", "plain", creds, 400, true}, // the backend sees a plain GET
		{"authenticated", "ws", creds, 101, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := b.opened.Load()
			c, resp, err := websocket.DefaultDialer.Dial(wsURL+tc.path, tc.header)
			if tc.status != 101 {
				if err == nil || resp == nil || resp.StatusCode != tc.status {
					t.Fatalf("handshake: %v %v, want %d", resp, err, tc.status)
				}
				if reached := b.opened.Load() > before; reached != tc.reached {
					t.Fatalf("backend connection opened: %v", reached)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for _, m := range []string{"hello", "world"} {
				if err := c.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
					t.Fatal(err)
				}
				_, got, err := c.ReadMessage()
				if err != nil || string(got) != "/gateway/t:"+m {
					t.Fatalf("echo %q %v", got, err)
				}
			}
		})
	}
}
