package sso

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Without allowed origins, the login page returns only to its own origin:
// the configured public origin when there is one, never the origin of a
// Host the client chose.
func TestSelfOriginIsThePublicOrigin(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "http://evil.example/gateway/sso/knoxsso/login", nil)
	tests := []struct {
		public, target string
		want           string // "" when refused
	}{
		{"", "http://evil.example/x", "http://evil.example/x"}, // today: the Host's origin
		{"", "/gateway/t/app", "http://evil.example/gateway/t/app"},
		{"https://gw.example.com", "http://evil.example/x", ""},
		{"https://gw.example.com", "https://gw.example.com/gateway/t/app", "https://gw.example.com/gateway/t/app"},
		{"https://gw.example.com", "/gateway/t/app", "https://gw.example.com/gateway/t/app"},
	}
	for _, tc := range tests {
		s := &service{public: tc.public}
		got, err := s.redirects.check(tc.target, s.selfOrigin(r))
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("public %q, target %s: %q, %v; want %q", tc.public, tc.target, got, err, tc.want)
		}
	}
}
