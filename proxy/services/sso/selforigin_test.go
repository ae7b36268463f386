package sso

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
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

// The login page's form may lead to the pages it returns to: with a public
// origin configured, a login page reached at another name (the gateway's
// own address) still returns to the public origin after the form, which
// the page's form-action allows (a browser applies it to the redirect that
// follows the post).
func TestFormActionAllowsThePublicOrigin(t *testing.T) {
	for _, tc := range []struct{ public, want string }{
		{"", "form-action 'self';"},
		{"https://gw.example.com", "form-action 'self' https://gw.example.com;"},
	} {
		s := &service{public: tc.public}
		w := httptest.NewRecorder()
		s.securityHeaders(w, httptest.NewRequest(http.MethodGet, "http://10.0.0.5:8443/gateway/sso/knoxsso/login", nil))
		if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, tc.want) {
			t.Errorf("public %q: CSP %q, want %q", tc.public, csp, tc.want)
		}
	}
}

// The login cookie holds a token: it is Secure when the request came over
// TLS, and when the gateway's public origin is https (TLS ends in front of
// the gateway), so that a browser never sends it over plain HTTP.
func TestCookieSecureBehindTLS(t *testing.T) {
	for _, tc := range []struct {
		public string
		tls    bool
		want   bool
	}{
		{"", false, false},
		{"", true, true},
		{"http://gw.example.com", false, false},
		{"https://gw.example.com", false, true},
	} {
		s := &service{public: tc.public, cookie: "hadoop-jwt"}
		r := httptest.NewRequest(http.MethodPost, "http://10.0.0.5/gateway/sso/knoxsso/login", nil)
		if tc.tls {
			r.TLS = &tls.ConnectionState{}
		}
		if got := s.newCookie(r, "tok", 60).Secure; got != tc.want {
			t.Errorf("public %q, TLS %v: Secure %v, want %v", tc.public, tc.tls, got, tc.want)
		}
	}
}
