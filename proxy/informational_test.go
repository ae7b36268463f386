package proxy_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy/frontend"
)

// The fields the gateway set on the answer before the backend answered
// (the chain's security headers, the Connection: close of a request
// framed by Transfer-Encoding) stay on the final answer when the backend
// sends an informational one (103) first, through both fronts.
func TestInformationalKeepsGatewayFields(t *testing.T) {
	for _, kind := range []string{frontend.KindLean, frontend.KindNetHTTP} {
		t.Run(kind, func(t *testing.T) { testInformationalKeepsGatewayFields(t, kind) })
	}
}

func testInformationalKeepsGatewayFields(t *testing.T, kind string) {
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/hint" {
			w.Header().Set("X-Hint", "kept")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Del("X-Hint")
		}
		_, _ = io.WriteString(w, "ok")
	})
	e := newEnv(t, proxyConfig())
	e.fe = newTestFront(t, e.p, kind)
	e.deploy(&topology.Topology{Name: "t", Services: []topology.Service{svc("app", b.URL)},
		Providers: append([]topology.Provider{prov("webappsec", "WebAppSec",
			"xframe.options.enabled", "true", "xcontent-type.options.enabled", "true")}, openProviders...)})
	const chunked = "Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"
	tests := []struct {
		name  string
		raw   string
		hints int
		close bool // the answer ends the connection (a request framed by Transfer-Encoding)
	}{
		{"GET", "GET /gateway/t/app/plain HTTP/1.1\r\nHost: gw\r\n\r\n", 0, false},
		{"GET after a 103", "GET /gateway/t/app/hint HTTP/1.1\r\nHost: gw\r\n\r\n", 1, false},
		{"chunked POST", "POST /gateway/t/app/plain HTTP/1.1\r\nHost: gw\r\n" + chunked, 0, true},
		{"chunked POST after a 103", "POST /gateway/t/app/hint HTTP/1.1\r\nHost: gw\r\n" + chunked, 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, br := dialWrite(t, e.addr(), tc.raw)
			hints := 0
			var resp *http.Response
			for {
				var err error
				if resp, err = http.ReadResponse(br, nil); err != nil {
					t.Fatalf("after %d hints: %v", hints, err)
				}
				if resp.StatusCode != http.StatusEarlyHints {
					break
				}
				if resp.Header.Get("X-Hint") != "kept" {
					t.Fatalf("the early hint lost the backend's field: %v", resp.Header)
				}
				hints++
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || string(body) != "ok" || hints != tc.hints {
				t.Fatalf("answer %d %q after %d hints, want 200 \"ok\" after %d", resp.StatusCode, body, hints, tc.hints)
			}
			for k, v := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff"} {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s %q, want %q", k, got, v)
				}
			}
			if resp.Close != tc.close {
				t.Errorf("the answer closes the connection: %v, want %v (header %v)", resp.Close, tc.close, resp.Header)
			}
		})
	}
}
