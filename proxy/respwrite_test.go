package proxy_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestResponseRewriting(t *testing.T) {
	e := newEnv(t, proxyConfig())
	var hdr http.Header // what the backend answers with, set per case
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		for k, vs := range hdr {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		w.WriteHeader(http.StatusFound)
	})
	e.deploy(topo("t", svc("app", b.URL+"/app/v1")))
	bHost := strings.TrimPrefix(b.URL, "http://")
	bName, _, _ := strings.Cut(bHost, ":")
	gw := "http://gw.example/gateway/t/app" // the test client sends Host: gw.example over http

	tests := []struct {
		name, header, in, want string
	}{
		{"absolute Location", "Location", b.URL + "/app/v1/x?y=1#f", gw + "/x?y=1#f"},
		{"Location at base", "Location", b.URL + "/app/v1", gw},
		{"Location at base slash", "Location", b.URL + "/app/v1/", gw + "/"},
		{"ws scheme maps", "Location", "ws://" + bHost + "/app/v1/sock", gw + "/sock"},
		{"path Location", "Location", "/app/v1/login", "/gateway/t/app/login"},
		{"path outside base untouched", "Location", "/other/x", "/other/x"},
		{"relative untouched", "Location", "next", "next"},
		{"other host untouched", "Location", "http://elsewhere.example/app/v1/x", "http://elsewhere.example/app/v1/x"},
		{"other port untouched", "Location", "http://" + bName + ":1/app/v1/x", "http://" + bName + ":1/app/v1/x"},
		{"prefix but not segment", "Location", b.URL + "/app/v10", b.URL + "/app/v10"},
		{"Content-Location", "Content-Location", b.URL + "/app/v1/doc", gw + "/doc"},
		{"Refresh", "Refresh", "5; url=" + b.URL + "/app/v1/next", "5; url=" + gw + "/next"},
		{"Refresh other", "Refresh", "5; url=http://elsewhere.example/", "5; url=http://elsewhere.example/"},
		{"cookie path", "Set-Cookie", "sid=1; Path=/app/v1/x; HttpOnly", "sid=1; Path=/gateway/t/app/x; HttpOnly"},
		{"cookie path at base", "Set-Cookie", "sid=1; Path=/app/v1", "sid=1; Path=/gateway/t/app"},
		{"cookie domain of backend dropped", "Set-Cookie", "sid=1; Domain=" + bName + "; Path=/app/v1/; Secure", "sid=1; Path=/gateway/t/app; Secure"},
		{"cookie other domain kept", "Set-Cookie", "sid=1; Domain=example.org", "sid=1; Domain=example.org"},
		{"cookie path outside base scoped to the service", "Set-Cookie", "sid=1; Path=/", "sid=1; Path=/gateway/t/app"},
		{"cookie without attributes", "Set-Cookie", "sid=1", "sid=1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr = http.Header{tc.header: {tc.in}}
			resp, body := rawGet(t, e.addr(), "/gateway/t/app/")
			if resp == nil {
				t.Fatal(body)
			}
			if got := resp.Header.Get(tc.header); got != tc.want {
				t.Fatalf("%s: %q, want %q", tc.header, got, tc.want)
			}
		})
	}
}
