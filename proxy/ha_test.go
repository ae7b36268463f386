package proxy_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy"
)

// deadURL is an http URL on a loopback port nobody listens on.
func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func echoBackend(t *testing.T, name string) *backend {
	return newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, name+":"+string(b))
	})
}

func statusBackend(t *testing.T, code int) *backend {
	return newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(code)
		io.WriteString(w, "status")
	})
}

func haSvc(ha *topology.HA, urls ...string) topology.Service {
	s := svc("svc", urls...)
	s.HA = ha
	return s
}

func backendStatus(p *proxy.Proxy, url string) proxy.BackendStatus {
	for _, s := range p.BackendStatus() {
		if s.URL == url {
			return s
		}
	}
	return proxy.BackendStatus{}
}

// Connection failures fail over for any method: nothing was sent.
func TestFailoverOnConnectionError(t *testing.T) {
	e := newEnv(t, proxyConfig())
	live := echoBackend(t, "live")
	e.deploy(topo("t", haSvc(&topology.HA{MaxFailures: 100}, deadURL(t), live.URL)))
	tests := []struct {
		method string
		body   io.Reader
		want   string
	}{
		{"GET", nil, "live:"},
		{"POST", strings.NewReader("payload"), "live:payload"},
		{"PUT", io.MultiReader(strings.NewReader("chunked payload")), "live:chunked payload"},
	}
	for _, tc := range tests {
		t.Run(tc.method, func(t *testing.T) {
			resp, body := e.do(tc.method, "/gateway/t/svc/x", tc.body)
			if resp.StatusCode != 200 || body != tc.want {
				t.Fatalf("%d %q, want %q\n%s", resp.StatusCode, body, tc.want, e.logs)
			}
		})
	}
}

// Configured statuses fail over for idempotent requests without a body only.
func TestFailoverOnStatus(t *testing.T) {
	e := newEnv(t, proxyConfig())
	bad := statusBackend(t, http.StatusServiceUnavailable)
	live := echoBackend(t, "live")
	ha := &topology.HA{FailoverStatuses: []int{503}, MaxFailures: 1000}
	e.deploy(topo("t", haSvc(ha, bad.URL, live.URL)))
	e.deploy(topo("all-bad", haSvc(ha, bad.URL, bad.URL+"/again")))
	tests := []struct {
		name, method, path string
		body               io.Reader
		status             int
		liveHit            bool
	}{
		{"GET fails over", "GET", "/gateway/t/svc/", nil, 200, true},
		{"DELETE fails over", "DELETE", "/gateway/t/svc/", nil, 200, true},
		{"POST does not", "POST", "/gateway/t/svc/", strings.NewReader("x"), 503, false},
		{"PUT with body does not", "PUT", "/gateway/t/svc/", strings.NewReader("x"), 503, false},
		{"last answer returned", "GET", "/gateway/all-bad/svc/", nil, 503, false},
	}
	// Two URLs on one host, told apart by their base paths.
	sameHost := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/bad/") {
			w.WriteHeader(503)
			return
		}
		io.WriteString(w, "good:"+r.URL.Path)
	})
	e.deploy(topo("same-host", haSvc(ha, sameHost.URL+"/bad", sameHost.URL+"/good")))
	if resp, body := e.get("/gateway/same-host/svc/x/y"); resp.StatusCode != 200 || body != "good:/good/x/y" {
		t.Fatalf("same host failover: %d %q", resp.StatusCode, body)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := live.count()
			resp, body := e.do(tc.method, tc.path, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("%d %q, want %d", resp.StatusCode, body, tc.status)
			}
			if hit := live.count() > before; hit != tc.liveHit {
				t.Fatalf("live backend hit: %v, want %v", hit, tc.liveHit)
			}
		})
	}
}

// After MaxFailures consecutive failures a URL cools off: it is skipped,
// visible in BackendStatus and the metrics, and a redeploy remembers it.
func TestPassiveHealth(t *testing.T) {
	e := newEnv(t, proxyConfig())
	bad := statusBackend(t, http.StatusBadGateway)
	live := echoBackend(t, "live")
	top := topo("t", haSvc(&topology.HA{FailoverStatuses: []int{502}, MaxFailures: 2, Cooloff: topology.Duration(time.Hour)}, bad.URL, live.URL))
	e.deploy(top)
	for i := 0; i < 5; i++ {
		if resp, body := e.get("/gateway/t/svc/"); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
	if n := bad.count(); n != 2 {
		t.Fatalf("bad backend tried %d times, want 2 (then cooling off)", n)
	}
	st := backendStatus(e.p, bad.URL)
	if st.Healthy || st.ConsecutiveFailures != 2 || time.Until(st.CooloffUntil) < 50*time.Minute {
		t.Fatalf("status %+v", st)
	}
	if st := backendStatus(e.p, live.URL); !st.Healthy || st.ConsecutiveFailures != 0 {
		t.Fatalf("live status %+v", st)
	}
	if v := metricValue(t, e, "gateway_backend_up", "url", bad.URL); v != 0 {
		t.Fatalf("gateway_backend_up = %v", v)
	}
	e.deploy(top) // the same URL keeps its health across a redeploy
	e.get("/gateway/t/svc/")
	if n := bad.count(); n != 2 || backendStatus(e.p, bad.URL).Healthy {
		t.Fatalf("after redeploy: tried %d times, status %+v", n, backendStatus(e.p, bad.URL))
	}
}

// Active health checks: probes run every interval and a failing probe takes
// the URL out; requests go to the next URL while it is out and back to it
// once a probe succeeds. A probe's timeout is at most its interval, so with
// a short interval a slow probe on a busy machine fails too (taking even the
// secondary out): the short interval proves only the periodic probing and
// that it detects a failure; what routing does with the probes' answers is
// proved with a long interval, where a redeploy's immediate probe decides.
func TestActiveHealthCheck(t *testing.T) {
	checkGoroutines := goroutineBaseline(t)
	e := newEnv(t, proxyConfig())
	var down atomic.Bool
	var probes atomic.Int64
	primary := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/base/healthz" {
			probes.Add(1)
			if down.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			return
		}
		io.WriteString(w, "primary")
	})
	secondary := echoBackend(t, "secondary")
	primaryURL := primary.URL + "/base"
	deploy := func(interval time.Duration) {
		ha := &topology.HA{HealthCheckPath: "/healthz", HealthCheckInterval: topology.Duration(interval)}
		e.deploy(topo("t", haSvc(ha, primaryURL, secondary.URL)))
	}
	checkers := func(n int) {
		t.Helper()
		eventually(t, 5*time.Second, fmt.Sprintf("%d health checkers", n), func() bool { return goroutinesIn("(*upstream).healthLoop") == n })
	}

	// Every 20ms: the probes repeat, and a failing one takes the primary out.
	deploy(20 * time.Millisecond)
	eventually(t, 5*time.Second, "repeated probes", func() bool { return probes.Load() >= 3 })
	down.Store(true)
	eventually(t, 5*time.Second, "primary marked down", func() bool { return !backendStatus(e.p, primaryURL).Healthy })
	e.p.Remove("t")
	checkers(0)

	// Every hour (probe timeout 30s): each deploy starts a checker that
	// probes at once, and only its answer changes where requests go.
	down.Store(false)
	before := probes.Load()
	deploy(time.Hour)
	eventually(t, 5*time.Second, "first probe", func() bool { return probes.Load() > before })
	if _, body := e.get("/gateway/t/svc/"); body != "primary" {
		t.Fatalf("served by %q", body)
	}
	down.Store(true)
	deploy(time.Hour)
	eventually(t, 5*time.Second, "primary marked down", func() bool { return !backendStatus(e.p, primaryURL).Healthy })
	for range 3 {
		if _, body := e.get("/gateway/t/svc/"); body != "secondary:" {
			t.Fatalf("served by %q while primary is down", body)
		}
	}
	down.Store(false)
	deploy(time.Hour)
	eventually(t, 5*time.Second, "primary back", func() bool { return backendStatus(e.p, primaryURL).Healthy })
	if _, body := e.get("/gateway/t/svc/"); body != "primary" {
		t.Fatalf("served by %q after the primary came back", body)
	}

	// Redeploys replace the checker: one runs, not one per deploy; Remove stops it.
	for i := 0; i < 5; i++ {
		deploy(time.Hour)
	}
	checkers(1)
	e.p.Remove("t")
	checkers(0)
	e.fe.Close()
	e.p.Close()
	primary.Close()
	secondary.Close()
	checkGoroutines()
}
