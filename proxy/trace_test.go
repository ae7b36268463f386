package proxy_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/securegw/gateway/internal/topology"
)

// TRACE and TRACK are refused with 405 before the chain and the backend
// (an echoing backend would reflect credentials and cookies: cross-site
// tracing), unless the service sets dispatch.allow_trace.
func TestTraceRefused(t *testing.T) {
	e := newEnv(t, proxyConfig())
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("echo " + r.Method + " " + r.Header.Get("Cookie")))
	})
	allowed := svc("traced", b.URL)
	allowed.Dispatch = &topology.Dispatch{AllowTrace: true}
	c := e.deploy(topo("t", svc("plain", b.URL), allowed))
	if w := strings.Join(c.Warnings(), "\n"); !strings.Contains(w, "allow_trace") {
		t.Errorf("no deploy warning for allow_trace: %q", w)
	}
	for _, m := range []string{"TRACE", "TRACK", "trace", "Track", "tRaCe"} {
		t.Run(m, func(t *testing.T) {
			before := b.count()
			resp, body := e.do(m, "/gateway/t/plain/x", nil, "Cookie", "session=secret", "Authorization", "Basic YTpi")
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Fatalf("status %d, want 405", resp.StatusCode)
			}
			if allow := resp.Header.Get("Allow"); !strings.Contains(allow, "GET") || strings.Contains(allow, "TRACE") {
				t.Errorf("Allow: %q", allow)
			}
			if strings.Contains(body, "secret") || strings.Contains(body, "127.0.0.1") || strings.Contains(body, "YTpi") {
				t.Errorf("405 body reveals the request or a backend: %q", body)
			}
			if b.count() != before {
				t.Fatal("the backend was reached")
			}

			resp, body = e.do(m, "/gateway/t/traced/x", nil)
			if resp.StatusCode != http.StatusOK || body != "echo "+m+" " {
				t.Fatalf("allow_trace: %d %q, want the backend's echo", resp.StatusCode, body)
			}
		})
	}
	// Other methods are unaffected; an unknown route stays 404.
	if resp, _ := e.do(http.MethodOptions, "/gateway/t/plain/x", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("OPTIONS: %d", resp.StatusCode)
	}
	if resp, _ := e.do("TRACE", "/gateway/t/nope/x", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("TRACE on no route: %d, want 404", resp.StatusCode)
	}
}
