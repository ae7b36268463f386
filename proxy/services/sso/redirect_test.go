package sso

import (
	"regexp"
	"testing"
)

// Open-redirect attempts on the login page (CVE-2021-42357, KNOX-3416):
// every trick is refused; allowed origins and paths are kept.
func TestRedirectTargets(t *testing.T) {
	self := "https://gw.example:8443"
	rd := &redirects{origins: []string{"https://gw.example:8443", "https://app.example"}}
	knox := &redirects{pattern: regexp.MustCompile(`^(?:` + `^https?:\/\/(localhost|127\.0\.0\.1):[0-9].*$` + `)$`)}
	tests := []struct {
		name, target string
		rd           *redirects
		want         string // "" when refused
	}{
		{"same origin", "https://gw.example:8443/gateway/app/x?y=1", rd, "https://gw.example:8443/gateway/app/x?y=1"},
		{"another allowed origin", "https://app.example/home", rd, "https://app.example/home"},
		{"allowed origin, default port spelled", "https://app.example:443/home", rd, "https://app.example:443/home"},
		{"host case", "https://APP.example/home", rd, "https://APP.example/home"},
		{"path only", "/gateway/app/", rd, "https://gw.example:8443/gateway/app/"},
		{"another origin", "https://evil.example/", rd, ""},
		{"userinfo", "https://app.example@evil.example/", rd, ""},
		{"userinfo of the allowed host", "https://evil.example@app.example/", rd, ""},
		{"backslash", `https://app.example\@evil.example/`, rd, ""},
		{"backslash in path", `https://app.example/\evil.example`, rd, ""},
		{"encoded backslash in path", "https://app.example/%5cevil.example", rd, ""},
		{"scheme relative", "//evil.example/", rd, ""},
		{"slash backslash", `/\evil.example/`, rd, ""},
		{"encoded slash", "/%2fevil.example/", rd, ""},
		{"encoded backslash", "/%5Cevil.example/", rd, ""},
		{"javascript", "javascript:alert(1)", rd, ""},
		{"data", "data:text/html,hi", rd, ""},
		{"no slashes", "https:evil.example", rd, ""},
		{"one slash", "https:/evil.example", rd, ""},
		{"tab in host", "https://app.exa\tmple/", rd, ""},
		{"newline", "https://app.example/\nLocation: https://evil.example", rd, ""},
		{"percent-encoded host", "https://app%2eexample/", rd, ""},
		{"Unicode look-alike host", "https://аpp.example/", rd, ""},
		{"other scheme", "ftp://app.example/", rd, ""},
		{"http for an https origin", "http://app.example/", rd, ""},
		{"empty", "", rd, ""},
		{"default: only the page's own origin", "https://gw.example:8443/x", &redirects{}, "https://gw.example:8443/x"},
		{"default refuses others", "https://app.example/", &redirects{}, ""},
		{"Knox regex, allowed", "https://localhost:8443/gateway/x", knox, "https://localhost:8443/gateway/x"},
		{"Knox regex, userinfo trick", "https://localhost:8443@evil.example/", knox, ""},
		{"Knox regex, backslash trick", `https://localhost:8443\@evil.example/`, knox, ""},
		{"Knox regex, suffix trick", "https://localhost.evil.example:8443/", knox, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.rd.check(tc.target, self)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("check(%q) = %q, want refused", tc.target, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("check(%q) = %q, %v; want %q", tc.target, got, err, tc.want)
			}
		})
	}
}

func TestParseOrigin(t *testing.T) {
	for in, want := range map[string]string{"https://A.example": "https://a.example", "https://a.example:443/": "https://a.example", "http://h:8080": "http://h:8080"} {
		if got, err := parseOrigin(in); err != nil || got != want {
			t.Errorf("parseOrigin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"a.example", "https://a.example/path", "https://u@a.example", "ftp://a.example", "https://a.example?x"} {
		if _, err := parseOrigin(bad); err == nil {
			t.Errorf("parseOrigin(%q) accepted", bad)
		}
	}
}
