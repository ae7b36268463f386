package proxy_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"

	"github.com/securegw/gateway/internal/topology"
)

// The credential a provider consumed never reaches the backend (issue 9
// item 1), whatever its kind, unless the service forwards credentials.
func TestConsumedCredentialsStayAtTheGateway(t *testing.T) {
	e := newEnv(t, proxyConfig())
	hash, err := bcrypt.GenerateFromPassword([]byte("pw-alice"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	up := websocket.Upgrader{}
	seen := make(chan http.Header, 1)
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if websocket.IsWebSocketUpgrade(r) {
			seen <- r.Header.Clone()
			if c, err := up.Upgrade(w, r, nil); err == nil {
				c.Close()
			}
			return
		}
		w.Write([]byte("ok"))
	})
	plain, fwd := svc("plain", b.URL), svc("fwd", b.URL)
	fwd.Dispatch = &topology.Dispatch{ForwardCredentials: true}
	ws := svc("ws", "ws"+strings.TrimPrefix(b.URL, "http"))
	ws.WebSocket = true
	basic := e.deploy(&topology.Topology{Name: "basic", Services: []topology.Service{plain, fwd, ws},
		Providers: []topology.Provider{{Role: "authentication", Name: "basic", Params: map[string]string{"user.alice": string(hash)}}}})
	session := e.deploy(&topology.Topology{Name: "session", Services: []topology.Service{plain, fwd},
		Providers: []topology.Provider{{Role: "authentication", Name: "test-session"}}})
	e.deploy(&topology.Topology{Name: "both", Services: []topology.Service{plain, fwd},
		Providers: []topology.Provider{{Role: "authentication", Name: "test-auth"}, {Role: "authentication", Name: "test-session"}}})

	if w := basic.Warnings(); !slices.ContainsFunc(w, func(s string) bool {
		return strings.Contains(s, `service "fwd": dispatch.forward_credentials is on`)
	}) || len(w) != 1 {
		t.Fatalf("deploy warnings %q: want one about forward_credentials on fwd", w)
	}
	if w := session.Warnings(); len(w) != 1 {
		t.Fatalf("deploy warnings %q: want one", w)
	}

	basicAuth := "Basic " + "YWxpY2U6cHctYWxpY2U=" // alice:pw-alice
	tests := []struct {
		name       string
		path       string
		hdr        []string
		wantHeader map[string]string // on the backend; "" means absent
		wantQuery  string
	}{
		{"basic: Authorization removed, other headers kept", "/gateway/basic/plain/x",
			[]string{"Authorization", basicAuth, "X-Custom", "kept", "Cookie", "a=1"},
			map[string]string{"Authorization": "", "X-Custom": "kept", "Cookie": "a=1"}, ""},
		{"basic: forward_credentials sends it", "/gateway/basic/fwd/x",
			[]string{"Authorization", basicAuth},
			map[string]string{"Authorization": basicAuth}, ""},
		{"cookie: only the consumed cookie removed", "/gateway/session/plain/x?q=1",
			[]string{"Cookie", "a=1; test-session=ok; b=2", "Authorization", "Bearer for-the-backend"},
			map[string]string{"Cookie": "a=1; b=2", "Authorization": "Bearer for-the-backend"}, "q=1"},
		{"cookie: the Cookie header goes when nothing is left", "/gateway/session/plain/x",
			[]string{"Cookie", "test-session=ok"},
			map[string]string{"Cookie": ""}, ""},
		{"cookie: forwarded when asked", "/gateway/session/fwd/x",
			[]string{"Cookie", "a=1; test-session=ok"},
			map[string]string{"Cookie": "a=1; test-session=ok"}, ""},
		{"query: only the consumed parameter removed", "/gateway/session/plain/x?a=1&test_token=ok&b=%2F",
			[]string{"Cookie", "other=1; test-session=no"},
			map[string]string{"Cookie": "other=1"}, "a=1&b=%2F"},
		{"query: an encoded name is the same parameter", "/gateway/session/plain/x?test%5Ftoken=ok&a=1",
			nil, nil, "a=1"},
		{"query: forwarded when asked", "/gateway/session/fwd/x?test_token=ok",
			nil, nil, "test_token=ok"},
		{"another provider authenticated: the session's credentials are removed too", "/gateway/both/plain/x?test_token=zzz&a=1",
			[]string{"X-Test-Token", "let-me-in", "X-Test-User", "alice", "Cookie", "a=1; test-session=zzz"},
			map[string]string{"Cookie": "a=1"}, "a=1"},
		{"another provider authenticated, forward_credentials", "/gateway/both/fwd/x?test_token=zzz",
			[]string{"X-Test-Token", "let-me-in", "X-Test-User", "alice", "Cookie", "test-session=zzz"},
			map[string]string{"Cookie": "test-session=zzz"}, "test_token=zzz"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.get(tc.path, tc.hdr...)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d %s", resp.StatusCode, body)
			}
			got := b.last()
			for k, want := range tc.wantHeader {
				if v := strings.Join(got.Header.Values(k), ", "); v != want {
					t.Errorf("backend %s: %q, want %q", k, v, want)
				}
			}
			if got.URL.RawQuery != tc.wantQuery {
				t.Errorf("backend query %q, want %q", got.URL.RawQuery, tc.wantQuery)
			}
		})
	}

	t.Run("refused without credentials, nothing dispatched", func(t *testing.T) {
		n := b.count()
		if resp, _ := e.get("/gateway/basic/plain/x"); resp.StatusCode != 401 || b.count() != n {
			t.Fatalf("status %d, backend requests %d → %d", resp.StatusCode, n, b.count())
		}
	})

	t.Run("WebSocket upgrade: Authorization removed", func(t *testing.T) {
		wsURL := "ws" + strings.TrimPrefix(e.fe.URL, "http") + "/gateway/basic/ws/x"
		c, _, err := websocket.DefaultDialer.DialContext(context.Background(), wsURL,
			http.Header{"Authorization": {basicAuth}, "X-Custom": {"kept"}})
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		h := <-seen
		if h.Get("Authorization") != "" || h.Get("X-Custom") != "kept" {
			t.Fatalf("backend upgrade headers: Authorization %q, X-Custom %q", h.Get("Authorization"), h.Get("X-Custom"))
		}
	})
}

// The consumed credential stays removed when a request fails over to the
// next backend, after a connection error or a failover status: the retry is
// the stripped outbound request, never the client's.
func TestConsumedCredentialsStayAtTheGatewayOnFailover(t *testing.T) {
	e := newEnv(t, proxyConfig())
	hash, err := bcrypt.GenerateFromPassword([]byte("pw-alice"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	bad := newBackend(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	live := newBackend(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("live")) })
	ha := &topology.HA{FailoverStatuses: []int{503}, MaxFailures: 1000}
	dead, status := svc("dead", deadURL(t), live.URL), svc("status", bad.URL, live.URL)
	dead.HA, status.HA = ha, ha
	e.deploy(&topology.Topology{Name: "t", Services: []topology.Service{dead, status},
		Providers: []topology.Provider{{Role: "authentication", Name: "basic", Params: map[string]string{"user.alice": string(hash)}}}})
	for _, path := range []string{"/gateway/t/dead/x", "/gateway/t/status/x"} {
		t.Run(path, func(t *testing.T) {
			n := live.count()
			resp, body := e.get(path, "Authorization", "Basic YWxpY2U6cHctYWxpY2U=") // alice:pw-alice
			if resp.StatusCode != 200 || body != "live" || live.count() != n+1 {
				t.Fatalf("status %d %q, live backend requests %d → %d", resp.StatusCode, body, n, live.count())
			}
			if got := live.last().Header.Get("Authorization"); got != "" {
				t.Fatalf("the retried request carried Authorization %q", got)
			}
			if path == "/gateway/t/status/x" {
				if got := bad.last().Header.Get("Authorization"); got != "" {
					t.Fatalf("the first backend saw Authorization %q", got)
				}
			}
		})
	}
}
