package proxy_test

import (
	"net/http"
	"testing"

	"github.com/securegw/gateway/internal/topology"
)

// RoundTrip sends to the backend Rewrite picked, even when the backend
// request's path also lies under another URL of the same host: its
// failure is counted on that backend and the failover goes to the other
// with the same rest path.
func TestRoundTripUsesRewritesPick(t *testing.T) {
	e := newEnv(t, proxyConfig())
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	s := svc("s", b.URL+"/a", b.URL+"/a/b")
	s.HA = &topology.HA{FailoverStatuses: []int{503}, MaxFailures: 5}
	e.deploy(topo("t", s))
	if resp, _ := e.get("/gateway/t/s/b/x"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d", resp.StatusCode)
	}
	b.mu.Lock()
	var paths []string
	for _, r := range b.reqs {
		paths = append(paths, r.URL.Path)
	}
	b.mu.Unlock()
	// The primary (/a) got /a + /b/x; the failover (/a/b) the same rest.
	if len(paths) != 2 || paths[0] != "/a/b/x" || paths[1] != "/a/b/b/x" {
		t.Fatalf("backend paths %q, want the primary then the failover with rest /b/x", paths)
	}
	for _, st := range e.p.BackendStatus() {
		if st.ConsecutiveFailures != 1 {
			t.Errorf("%s: %d failures, want 1 each", st.URL, st.ConsecutiveFailures)
		}
	}
}
