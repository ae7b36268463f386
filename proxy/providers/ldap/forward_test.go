package ldap_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy"
)

// The user's LDAP password (the Authorization header the provider consumed)
// never reaches a backend, plain requests and WebSocket upgrades alike,
// unless the service sets dispatch.forward_credentials, which its deploy
// warns about (issue 9 item 1).
func TestPasswordNotForwarded(t *testing.T) {
	s := startLDAP(t)
	var mu sync.Mutex
	var seen []http.Header
	up := websocket.Upgrader{}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
		if websocket.IsWebSocketUpgrade(r) {
			if c, err := up.Upgrade(w, r, nil); err == nil {
				c.Close()
			}
			return
		}
		w.Write([]byte("ok"))
	}))
	t.Cleanup(backend.Close)
	lastSeen := func() http.Header {
		mu.Lock()
		defer mu.Unlock()
		return seen[len(seen)-1]
	}
	p, err := proxy.New(proxy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(p)
	t.Cleanup(func() { front.Close(); p.Close() })

	ws := topology.Service{Path: "ws", URLs: []string{"ws" + strings.TrimPrefix(backend.URL, "http")}, WebSocket: true}
	c, err := p.Compile(context.Background(), &topology.Topology{Name: "t",
		Providers: []topology.Provider{{Role: "authentication", Name: "ldap", Params: templateParams(s)},
			{Role: "identity-assertion", Name: "default"}},
		Services: []topology.Service{
			{Path: "plain", URLs: []string{backend.URL}},
			{Path: "fwd", URLs: []string{backend.URL}, Dispatch: &topology.Dispatch{ForwardCredentials: true}},
			ws,
		}})
	if err != nil {
		t.Fatal(err)
	}
	p.Apply(c)
	if w := c.Warnings(); len(w) != 1 || !strings.Contains(w[0], `service "fwd": dispatch.forward_credentials is on`) {
		t.Fatalf("warnings %q", w)
	}

	get := func(path string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, front.URL+"/gateway/t/"+path, nil)
		req.SetBasicAuth("alice", alice.Password)
		req.Header.Set("X-Custom", "kept")
		resp, err := front.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := get("plain/x"); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if h := lastSeen(); h.Get("Authorization") != "" || h.Get("X-Custom") != "kept" {
		t.Fatalf("backend saw Authorization %q, X-Custom %q", h.Get("Authorization"), h.Get("X-Custom"))
	}
	if resp := get("fwd/x"); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if h := lastSeen(); !strings.HasPrefix(h.Get("Authorization"), "Basic ") {
		t.Fatalf("forward_credentials: backend saw Authorization %q", h.Get("Authorization"))
	}

	hdr := http.Header{}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth("alice", alice.Password)
	hdr.Set("Authorization", r.Header.Get("Authorization"))
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(front.URL, "http")+"/gateway/t/ws/x", hdr)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if h := lastSeen(); !websocket.IsWebSocketUpgrade(&http.Request{Header: h}) || h.Get("Authorization") != "" {
		t.Fatalf("upgrade: backend saw Authorization %q (upgrade %v)", h.Get("Authorization"), websocket.IsWebSocketUpgrade(&http.Request{Header: h}))
	}
}
