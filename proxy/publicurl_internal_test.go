package proxy

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
)

// With a public URL, the origin of the links and the X-Forwarded-* told
// the backend were computed once, in New: the request path allocates
// nothing for them, whoever the peer is and whatever Host it sent.
func TestPublicURLAllocatesNothing(t *testing.T) {
	p, err := New(Config{PublicURL: "https://gw.example.com:8443"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	in := httptest.NewRequest(http.MethodGet, "https://evil.example/gateway/t/s/x", nil)
	in.TLS = &tls.ConnectionState{}
	in.Header.Set("X-Forwarded-Host", "proxy.example")
	out := in.Clone(in.Context())
	var v [5]string
	var origin string
	for _, trusted := range []bool{false, true} {
		n := testing.AllocsPerRun(100, func() {
			p.setForwarded(out, in, trusted, "/gateway/t", &v)
			origin = p.linkOrigin(out)
		})
		if n != 0 {
			t.Errorf("trusted %v: %v allocations per request, want 0", trusted, n)
		}
		if origin != "https://gw.example.com:8443" || out.Header.Get("X-Forwarded-Host") != "gw.example.com:8443" ||
			out.Header.Get("X-Forwarded-Port") != "8443" || out.Header.Get("X-Forwarded-Proto") != "https" {
			t.Errorf("trusted %v: origin %q, forwarded %v", trusted, origin, out.Header)
		}
	}
}
