package knoxtoken

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The URLs the token service writes (target_url, homepage_url, the
// discovery document's endpoints) start at the configured public origin
// when there is one, else at the request's scheme and Host.
func TestGatewayBase(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "https://evil.example/gateway/sandbox/knoxtoken/api/v1/token", nil)
	r.TLS = &tls.ConnectionState{}
	for _, tc := range []struct{ public, want string }{
		{"", "https://evil.example/gateway"},
		{"https://gw.example.com", "https://gw.example.com/gateway"},
	} {
		s := &service{topology: "sandbox", public: tc.public}
		if got := s.gatewayBase(r); got != tc.want {
			t.Errorf("public %q: %q, want %q", tc.public, got, tc.want)
		}
	}
}
