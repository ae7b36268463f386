package proxy_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy"
)

func TestMetrics(t *testing.T) {
	e := newEnv(t, proxyConfig())
	b := newBackend(t, nil)
	e.deploy(topo("t", svc("svc", b.URL), svc("down", deadURL(t))))
	for _, p := range []string{"/gateway/t/svc/", "/gateway/t/svc/", "/gateway/t/down/", "/gateway/nope/x", "/gateway/t/svc/%2e%2e/x"} {
		e.get(p)
	}
	want := []struct {
		name   string
		labels []string
		v      float64
	}{
		{"gateway_requests_total", []string{"service", "svc", "code", "2xx"}, 2},
		{"gateway_requests_total", []string{"service", "down", "code", "5xx"}, 1},
		{"gateway_request_duration_seconds", []string{"topology", "t", "service", "svc"}, 2},
		{"gateway_backend_errors_total", []string{"service", "down", "kind", "connect"}, 1},
		{"gateway_refused_paths_total", []string{"reason", "dot-dot segment"}, 1},
		{"gateway_unrouted_requests_total", []string{"code", "4xx"}, 2},
		{"gateway_backend_up", []string{"service", "svc"}, 1},
		{"gateway_routing_table_generation", nil, float64(e.p.Generation())},
		{"gateway_topologies", nil, 1},
		{"gateway_inflight_requests", nil, 0},
		{"gateway_backend_open_connections", []string{"origin", b.URL}, 1},
		{"gateway_backend_connections_total", []string{"origin", b.URL}, 1},
	}
	for _, w := range want {
		if got := metricValue(t, e, w.name, w.labels...); got != w.v {
			t.Errorf("%s%v = %v, want %v", w.name, w.labels, got, w.v)
		}
	}
	// Removing the topology removes its series.
	e.p.Remove("t")
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "gateway_requests_total" {
			t.Fatalf("series of a removed topology remain: %v", mf)
		}
	}
}

type accessLine struct {
	Msg       string `json:"msg"`
	RequestID string `json:"request_id"`
	Path      string `json:"path"`
	Topology  string `json:"topology"`
	Service   string `json:"service"`
	Principal string `json:"principal"`
	Status    int    `json:"status"`
	Bytes     int64  `json:"bytes"`
	Duration  *int64 `json:"duration"`
}

func accessLines(t *testing.T, logs string) []accessLine {
	t.Helper()
	var out []accessLine
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var l accessLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		if l.Msg == "access" {
			out = append(out, l)
		}
	}
	return out
}

// The access log has one JSON record per request with what happened, and
// never the query string or a resolved secret.
func TestAccessLog(t *testing.T) {
	e := newEnv(t, proxy.Config{Resolver: secrets{"t/key": "s3cret-key"}})
	b := newBackend(t, nil)
	top := &topology.Topology{Name: "t", Services: []topology.Service{svc("svc", b.URL)}, Providers: []topology.Provider{
		{Role: "authentication", Name: "test-auth"},
		{Role: "custom", Name: "header", Params: map[string]string{"name": "X-Api-Key", "value": "${alias:key}"}},
	}}
	e.deploy(top)
	e.get("/gateway/t/svc/a?token=Q-SECRET&user.name=x", "X-Test-Token", "let-me-in", "X-Test-User", "alice", "X-Request-Id", "req-1")
	e.get("/gateway/t/svc/b", "X-Request-Id", "req-2") // 401
	if got := b.last().Header.Get("X-Api-Key"); got != "s3cret-key" {
		t.Fatalf("backend header %q", got)
	}
	logs := e.logs.String()
	for _, secret := range []string{"Q-SECRET", "s3cret-key", "let-me-in", "token="} {
		if strings.Contains(logs, secret) {
			t.Fatalf("log holds %q:\n%s", secret, logs)
		}
	}
	lines := accessLines(t, logs)
	if len(lines) != 2 {
		t.Fatalf("%d access lines:\n%s", len(lines), logs)
	}
	want := []accessLine{
		{RequestID: "req-1", Path: "/gateway/t/svc/a", Topology: "t", Service: "svc", Principal: "alice", Status: 200, Bytes: 2},
		{RequestID: "req-2", Path: "/gateway/t/svc/b", Topology: "t", Service: "svc", Principal: "", Status: 401},
	}
	for i, w := range want {
		g := lines[i]
		if g.RequestID != w.RequestID || g.Path != w.Path || g.Topology != w.Topology || g.Service != w.Service ||
			g.Principal != w.Principal || g.Status != w.Status || (w.Bytes != 0 && g.Bytes != w.Bytes) || g.Duration == nil {
			t.Errorf("line %d: %+v, want %+v", i, g, w)
		}
	}
}

func TestRequestID(t *testing.T) {
	e := newEnv(t, proxyConfig())
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", "backend-made-this-up")
		w.Write([]byte("ok"))
	})
	e.deploy(topo("t", svc("svc", b.URL)))
	long := strings.Repeat("a", 129)
	tests := []struct {
		name, sent string
		kept       bool
	}{
		{"sane", "abc-123_x.y", true},
		{"max length", strings.Repeat("a", 128), true},
		{"too long", long, false},
		{"bad characters", "abc def", false},
		{"injection", "x\"}{", false},
		{"absent", "", false},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.sent != "" {
				hdr = []string{"X-Request-Id", tc.sent}
			}
			resp, _ := e.get("/gateway/t/svc/", hdr...)
			got := resp.Header.Values("X-Request-Id")
			if len(got) != 1 {
				t.Fatalf("response X-Request-Id %q: want exactly one", got)
			}
			if backendID := b.last().Header.Get("X-Request-Id"); backendID != got[0] {
				t.Fatalf("backend got %q, client got %q", backendID, got[0])
			}
			if tc.kept != (got[0] == tc.sent) || seen[got[0]] {
				t.Fatalf("id %q for %q (kept %v, seen before %v)", got[0], tc.sent, tc.kept, seen[got[0]])
			}
			seen[got[0]] = true
		})
	}
	// Errors made by the gateway carry one too.
	resp, _ := e.get("/gateway/none/x", "X-Request-Id", "err-1")
	if resp.StatusCode != 404 || resp.Header.Get("X-Request-Id") != "err-1" {
		t.Fatalf("404: %d %q", resp.StatusCode, resp.Header.Get("X-Request-Id"))
	}
}
