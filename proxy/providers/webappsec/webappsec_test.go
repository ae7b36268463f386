package webappsec_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy/chain"
	_ "github.com/securegw/gateway/proxy/providers/webappsec"
)

func build(kv ...string) (*chain.Chain, error) {
	pr := topology.Provider{Role: "webappsec", Name: "WebAppSec", Params: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		pr.Params[kv[i]] = kv[i+1]
	}
	return chain.Build(context.Background(), "t", []topology.Provider{pr}, nil)
}

type check struct {
	method  string
	headers []string // name, value, …
	status  int      // 0: passes on
	want    map[string]string
	absent  []string
}

func TestWebAppSec(t *testing.T) {
	tests := []struct {
		name   string
		params []string
		checks []check
	}{
		{"CSRF with Knox's defaults", []string{"csrf.enabled", "true"}, []check{
			{method: "POST", status: 400},
			{method: "PUT", status: 400},
			{method: "POST", headers: []string{"X-XSRF-Header", "valid"}},
			{method: "DELETE", headers: []string{"x-xsrf-header", ""}}, // presence is what counts
			{method: "GET"}, {method: "HEAD"}, {method: "OPTIONS"},
		}},
		{"CSRF, custom header and ignored methods", []string{"csrf.enabled", "true", "csrf.customHeader", "X-Requested-By", "csrf.methodsToIgnore", "head, options"}, []check{
			{method: "GET", status: 400},
			{method: "GET", headers: []string{"X-Requested-By", "app"}},
			{method: "POST", headers: []string{"X-XSRF-Header", "v"}, status: 400},
			{method: "HEAD"},
		}},
		{"security headers", []string{"xframe.options.enabled", "true", "xcontent-type.options.enabled", "true",
			"strict.transport.enabled", "true", "strict.transport", "max-age=600; includeSubDomains", "xss.protection.enabled", "true"}, []check{
			{method: "GET", want: map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
				"Strict-Transport-Security": "max-age=600; includeSubDomains", "X-Xss-Protection": "1; mode=block"}},
		}},
		{"xframe SAMEORIGIN", []string{"xframe.options.enabled", "true", "xframe.options.value", "SAMEORIGIN"}, []check{
			{method: "GET", want: map[string]string{"X-Frame-Options": "SAMEORIGIN"}, absent: []string{"Strict-Transport-Security"}},
		}},
		{"CORS, listed origins with credentials", []string{"cors.enabled", "true", "cors.allowOrigin", "https://app.example https://admin.example:8443",
			"cors.allowCredentials", "true", "cors.allowHeaders", "Content-Type, X-XSRF-Header", "cors.maxAge", "600", "cors.exposedHeaders", "X-Request-Id"}, []check{
			{method: "OPTIONS", headers: []string{"Origin", "https://app.example", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type"},
				status: 204, want: map[string]string{"Access-Control-Allow-Origin": "https://app.example", "Access-Control-Allow-Credentials": "true",
					"Access-Control-Allow-Methods": "GET, POST, HEAD, OPTIONS", "Access-Control-Allow-Headers": "content-type, x-xsrf-header", "Access-Control-Max-Age": "600"}},
			{method: "OPTIONS", headers: []string{"Origin", "https://evil.example", "Access-Control-Request-Method", "GET"},
				status: 403, absent: []string{"Access-Control-Allow-Origin"}},
			{method: "OPTIONS", headers: []string{"Origin", "https://app.example:444", "Access-Control-Request-Method", "GET"}, status: 403},
			{method: "OPTIONS", headers: []string{"Origin", "http://app.example", "Access-Control-Request-Method", "GET"}, status: 403},
			{method: "OPTIONS", headers: []string{"Origin", "https://sub.app.example", "Access-Control-Request-Method", "GET"}, status: 403},
			{method: "OPTIONS", headers: []string{"Origin", "https://app.example", "Access-Control-Request-Method", "DELETE"}, status: 405},
			{method: "OPTIONS", headers: []string{"Origin", "https://app.example", "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "X-Evil"}, status: 403},
			{method: "GET", headers: []string{"Origin", "https://admin.example:8443"},
				want: map[string]string{"Access-Control-Allow-Origin": "https://admin.example:8443", "Vary": "Origin", "Access-Control-Expose-Headers": "X-Request-Id"}},
			{method: "POST", headers: []string{"Origin", "https://evil.example"}, status: 403, absent: []string{"Access-Control-Allow-Origin"}},
			{method: "POST", headers: []string{"Origin", "null"}, status: 403},
			{method: "POST", headers: []string{"Origin", "http://gw.example"}}, // same origin: not CORS
			{method: "GET", absent: []string{"Access-Control-Allow-Origin"}},   // no Origin: not CORS
			{method: "OPTIONS"}, // a plain OPTIONS is no preflight
		}},
		{"CORS, any origin (Knox's default), no credentials", []string{"cors.enabled", "true"}, []check{
			{method: "OPTIONS", headers: []string{"Origin", "https://x.example", "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "X-Custom"},
				status: 204, want: map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Headers": "X-Custom"}, absent: []string{"Access-Control-Allow-Credentials", "Access-Control-Max-Age"}},
			{method: "GET", headers: []string{"Origin", "https://x.example"}, want: map[string]string{"Access-Control-Allow-Origin": "*"}},
		}},
		{"CORS subdomains, Knox names", []string{"cors.enabled", "true", "cors.allowOrigin", "https://example.com", "cors.allowSubdomains", "true",
			"cors.supportedMethods", "GET", "cors.supportsCredentials", "true"}, []check{
			{method: "GET", headers: []string{"Origin", "https://a.b.example.com"}, want: map[string]string{"Access-Control-Allow-Origin": "https://a.b.example.com", "Access-Control-Allow-Credentials": "true"}},
			{method: "GET", headers: []string{"Origin", "https://badexample.com"}, status: 403},
			{method: "OPTIONS", headers: []string{"Origin", "https://example.com", "Access-Control-Request-Method", "POST"}, status: 405},
		}},
		{"CORS strict: generic requests refused", []string{"cors.enabled", "true", "cors.allowGenericHttpRequests", "false"}, []check{
			{method: "GET", status: 403},
			{method: "GET", headers: []string{"Origin", "https://x.example"}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := build(tc.params...)
			if err != nil {
				t.Fatal(err)
			}
			for _, ck := range tc.checks {
				r := httptest.NewRequest(ck.method, "http://gw.example/gateway/t/echo", nil)
				for i := 0; i+1 < len(ck.headers); i += 2 {
					r.Header.Set(ck.headers[i], ck.headers[i+1])
				}
				w := httptest.NewRecorder()
				got := c.ServeInbound(w, r)
				switch {
				case ck.status == 0 && got == nil:
					t.Errorf("%s %v refused: %d %s", ck.method, ck.headers, w.Code, w.Body)
				case ck.status != 0 && (got != nil || w.Code != ck.status):
					t.Errorf("%s %v: passed=%v code %d, want %d", ck.method, ck.headers, got != nil, w.Code, ck.status)
				}
				for k, v := range ck.want {
					if g := w.Header().Values(k); len(g) != 1 || g[0] != v {
						t.Errorf("%s %v: %s = %q, want %q", ck.method, ck.headers, k, g, v)
					}
				}
				for _, k := range ck.absent {
					if _, ok := w.Header()[k]; ok {
						t.Errorf("%s %v: %s present", ck.method, ck.headers, k)
					}
				}
			}
		})
	}
}

// The backend's copies of the headers the gateway sets are dropped, others kept.
func TestModifyResponse(t *testing.T) {
	c, err := build("xframe.options.enabled", "true", "cors.enabled", "true", "cors.allowOrigin", "https://app.example")
	if err != nil {
		t.Fatal(err)
	}
	resp := &http.Response{Header: http.Header{"X-Frame-Options": {"ALLOWALL"}, "Access-Control-Allow-Origin": {"*"},
		"Access-Control-Allow-Credentials": {"true"}, "X-Content-Type-Options": {"nosniff"}, "Content-Type": {"text/plain"}}}
	if err := c.ModifyResponse(resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Header) != 2 || resp.Header.Get("Content-Type") == "" || resp.Header.Get("X-Content-Type-Options") == "" {
		t.Fatalf("headers %v", resp.Header)
	}
}

func TestNothingEnabled(t *testing.T) {
	c, err := build("csrf.enabled", "false", "cors.enabled", "false")
	if err != nil || len(c.Links()) != 0 {
		t.Fatalf("%v %v", c.Links(), err)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		params []string
		want   string
	}{
		{[]string{"csrf.enabled", "yes"}, `param "csrf.enabled": must be true or false`},
		{[]string{"csrf.enabled", "true", "csrf.customHeader", "X Bad"}, `param "csrf.customHeader"`},
		{[]string{"csrf.enabled", "true", "csrf.methodsToIgnore", "GET,PO ST"}, `param "csrf.methodsToIgnore"`},
		{[]string{"cors.enabled", "true", "cors.allowOrigin", "app.example"}, `param "cors.allowOrigin": "app.example" is not an origin`},
		{[]string{"cors.enabled", "true", "cors.allowOrigin", "https://app.example/path"}, `param "cors.allowOrigin"`},
		{[]string{"cors.enabled", "true", "cors.allowOrigin", "https://*.example"}, `param "cors.allowOrigin"`},
		{[]string{"cors.enabled", "true", "cors.allowOrigin", ""}, `param "cors.allowOrigin": no origin`},
		{[]string{"cors.enabled", "true", "cors.allowCredentials", "true"}, `param "cors.allowCredentials": credentials cannot be allowed for any origin`},
		{[]string{"cors.enabled", "true", "cors.supportsCredentials", "true", "cors.allowOrigin", "*"}, `param "cors.supportsCredentials"`},
		{[]string{"cors.enabled", "true", "cors.allowMethods", "GET", "cors.supportedMethods", "POST"}, `param "cors.supportedMethods": is the same setting as "cors.allowMethods": give one of them`},
		{[]string{"cors.enabled", "true", "cors.maxAge", "soon"}, `param "cors.maxAge"`},
		{[]string{"cors.enabled", "true", "cors.allowHeaders", "X-A, X B"}, `param "cors.allowHeaders"`},
		{[]string{"xframe.options.enabled", "true", "xframe.options.value", "ALLOWALL"}, `param "xframe.options.value": "ALLOWALL" is not a valid X-Frame-Options value`},
		{[]string{"strict.transport.enabled", "true", "strict.transport", "forever"}, `param "strict.transport"`},
		{[]string{"xcontent-type.options", "sniff"}, `param "xcontent-type.options"`},
		{[]string{"rate.limiting.enabled", "true"}, `param "rate.limiting.enabled": rate limiting is not supported`},
		{[]string{"cors.tagRequests", "true"}, `param "cors.tagRequests": is not a parameter`},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			_, err := build(tc.params...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

func TestHeadersDoNotAllocate(t *testing.T) {
	c, err := build("xframe.options.enabled", "true", "xcontent-type.options.enabled", "true", "strict.transport.enabled", "true", "csrf.enabled", "true")
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "http://gw.example/gateway/t/echo", nil)
	w := &headerWriter{h: http.Header{}}
	if n := testing.AllocsPerRun(100, func() {
		clear(w.h)
		if c.ServeInbound(w, r) == nil {
			t.Fatal("refused")
		}
	}); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

type headerWriter struct{ h http.Header }

func (w *headerWriter) Header() http.Header         { return w.h }
func (w *headerWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *headerWriter) WriteHeader(int)             {}

// With the gateway's public origin configured, a request is same-origin
// when its Origin is that origin, not when it matches the Host the client
// sent: a cross-origin request with a forged Host gets CORS's answer.
func TestCORSSameOriginIsThePublicOrigin(t *testing.T) {
	params := map[string]string{"cors.enabled": "true", "cors.allowOrigin": "https://app.example"}
	for _, tc := range []struct {
		public, origin string
		status         int // 0: passes on
	}{
		{"", "http://evil.example", 0}, // today: the Host's own origin
		{"https://gw.example.com", "http://evil.example", http.StatusForbidden},
		{"https://gw.example.com", "https://gw.example.com", 0},
		{"https://gw.example.com", "https://GW.example.com", 0},
	} {
		c, err := chain.BuildWith(context.Background(), "t", []topology.Provider{{Role: "webappsec", Name: "WebAppSec", Params: params}},
			chain.Options{Host: chain.Host{PublicOrigin: tc.public}})
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodOptions, "http://evil.example/gateway/t/s", nil)
		r.Header.Set("Origin", tc.origin)
		r.Header.Set("Access-Control-Request-Method", "GET")
		w := httptest.NewRecorder()
		passed := c.ServeInbound(w, r) != nil
		if tc.status == 0 && !passed || tc.status != 0 && (passed || w.Code != tc.status) {
			t.Errorf("public %q, Origin %s: passed %v, status %d; want status %d (0: passes)", tc.public, tc.origin, passed, w.Code, tc.status)
		}
	}
}
