package proxy_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy"
	"github.com/securegw/gateway/proxy/frontend"
	"github.com/securegw/gateway/proxy/identity"
)

func prov(role, name string, kv ...string) topology.Provider {
	p := topology.Provider{Role: role, Name: name, Params: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		p.Params[kv[i]] = kv[i+1]
	}
	return p
}

// as authenticates a request as user through the test-auth provider.
func as(user string, more ...string) []string {
	return append([]string{"X-Test-Token", "let-me-in", "X-Test-User", user}, more...)
}

// impersonationParams lists the doAs/user.name parameters of a query, as
// "key=value", whatever their spelling, its parameters separated by '&' or
// ';' as Hadoop's pseudo authentication and Netty's decoder read them.
func impersonationParams(rawQuery string) []string {
	var out []string
	for _, part := range strings.FieldsFunc(rawQuery, func(r rune) bool { return r == '&' || r == ';' }) {
		k, v, _ := strings.Cut(part, "=")
		if identity.IsImpersonationParam(k) {
			if d, err := url.QueryUnescape(v); err == nil {
				v = d
			}
			out = append(out, k+"="+v)
		}
	}
	return out
}

// bodyBackend records the requests it gets with their bodies.
type bodyBackend struct {
	*backend
	mu     sync.Mutex
	bodies []string
}

func newBodyBackend(t *testing.T) *bodyBackend {
	bb := &bodyBackend{}
	bb.backend = newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bb.mu.Lock()
		bb.bodies = append(bb.bodies, string(b))
		bb.mu.Unlock()
	})
	return bb
}

// The CVE-2017-5646 family: a client's doAs never makes the backend act as
// someone else, unless a proxy-user rule lets that caller do so from where
// the request comes from. The gateway asserts the user itself (query_param,
// header) after removing the client's copies.
func TestImpersonationThroughTheProxy(t *testing.T) {
	be := newBodyBackend(t)
	assertion := func(hosts string) topology.Provider {
		return prov("identity-assertion", "default", "query_param", "doAs", "header", "X-Forwarded-User",
			"hadoop.proxyuser.svc.users", "bob", "hadoop.proxyuser.svc.hosts", hosts)
	}
	deploy := func(e *env) {
		for name, hosts := range map[string]string{"local": "127.0.0.0/8", "remote": "10.0.0.0/8"} {
			e.deploy(&topology.Topology{Name: name, Services: []topology.Service{svc("echo", be.URL)},
				Providers: []topology.Provider{prov("authentication", "test-auth"), assertion(hosts)}})
		}
	}
	untrusted := newEnv(t, proxyConfig())
	deploy(untrusted)
	trusted := newEnv(t, trustingConfig(true))
	deploy(trusted)

	tests := []struct {
		name        string
		e           *env
		method, url string
		body        string
		hdr         []string
		status      int
		asserted    string // the one doAs the backend gets, and X-Forwarded-User
	}{
		{"no rule: the caller's doAs is dropped", untrusted, "GET", "/gateway/local/echo/f?op=OPEN&doAs=bob", "", as("alice"), 200, "alice"},
		{"case variants DOAS and User.Name", untrusted, "GET", "/gateway/local/echo/f?DOAS=bob&User.Name=bob&op=OPEN", "", as("alice"), 200, "alice"},
		{"encoded name", untrusted, "GET", "/gateway/local/echo/f?do%41s=bob", "", as("alice"), 200, "alice"},
		// ';' separates parameters for Hadoop's pseudo authentication (the
		// first user.name wins) and for Netty's decoder (datanodes).
		{"';'-separated user.name", untrusted, "GET", "/gateway/local/echo/f?op=OPEN;user.name=bob", "", as("alice"), 200, "alice"},
		{"';'-separated encoded User%2EName", untrusted, "GET", "/gateway/local/echo/f?x=1;User%2EName=bob&op=OPEN", "", as("alice"), 200, "alice"},
		{"';'-separated doAs", untrusted, "GET", "/gateway/local/echo/f?op=OPEN;doAs=bob", "", as("alice"), 200, "alice"},
		// A name that does not percent-decode is dropped: IIS and old
		// servlet containers read %uXXXX, which makes this user.name.
		{"undecodable %u-escaped user.name", untrusted, "GET", "/gateway/local/echo/f?user%u002ename=bob&op=OPEN", "", as("alice"), 200, "alice"},
		{"proxy user, ';'-separated doAs: dropped, not honoured", untrusted, "GET", "/gateway/local/echo/f?op=OPEN;doAs=bob", "", as("svc"), 200, "svc"},
		{"wrong caller", untrusted, "GET", "/gateway/local/echo/f?doAs=bob", "", as("carol"), 200, "carol"},
		{"allowed proxy user", untrusted, "GET", "/gateway/local/echo/f?doAs=bob", "", as("svc"), 200, "bob"},
		{"allowed proxy user, lower-case doas", untrusted, "GET", "/gateway/local/echo/f?doas=bob", "", as("svc"), 200, "bob"},
		{"proxy user, target not allowed", untrusted, "GET", "/gateway/local/echo/f?doAs=root", "", as("svc"), 403, ""},
		{"proxy user from the wrong address", untrusted, "GET", "/gateway/remote/echo/f?doAs=bob", "", as("svc"), 403, ""},
		{"spoofed X-Forwarded-For does not change the address", untrusted, "GET", "/gateway/remote/echo/f?doAs=bob", "",
			as("svc", "X-Forwarded-For", "10.1.2.3"), 403, ""},
		{"behind a trusted proxy the forwarded address counts", trusted, "GET", "/gateway/remote/echo/f?doAs=bob", "",
			as("svc", "X-Forwarded-For", "10.1.2.3"), 200, "bob"},
		{"left-most X-Forwarded-For entry is the client's own word", trusted, "GET", "/gateway/remote/echo/f?doAs=bob", "",
			as("svc", "X-Forwarded-For", "10.1.2.3, 198.51.100.9"), 403, ""},
		// The gateway never reads bodies: a doAs in a form body reaches the
		// backend as data, and the gateway's doAs comes first in the query,
		// which is what servlet backends read first.
		{"doAs in a POST form body is not read", untrusted, "POST", "/gateway/local/echo/f", "doAs=bob&x=1",
			as("alice", "Content-Type", "application/x-www-form-urlencoded"), 200, "alice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := be.count()
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			resp, _ := tc.e.do(tc.method, tc.url, body, tc.hdr...)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.status != 200 {
				if be.count() != n {
					t.Fatal("a refused request reached the backend")
				}
				return
			}
			got := be.last()
			if strings.Contains(got.URL.RawQuery, "%u") {
				t.Fatalf("backend query %q keeps a %%u-escaped name", got.URL.RawQuery)
			}
			if p := impersonationParams(got.URL.RawQuery); !slices.Equal(p, []string{"doAs=" + tc.asserted}) {
				t.Fatalf("backend query %q: impersonation params %q, want only the gateway's doAs=%s", got.URL.RawQuery, p, tc.asserted)
			}
			if u := got.Header.Values("X-Forwarded-User"); !slices.Equal(u, []string{tc.asserted}) {
				t.Fatalf("X-Forwarded-User %q, want %q", u, tc.asserted)
			}
			if tc.body != "" {
				be.mu.Lock()
				b := be.bodies[len(be.bodies)-1]
				be.mu.Unlock()
				if b != tc.body {
					t.Fatalf("body %q, want it unchanged", b)
				}
			}
		})
	}
	if !strings.Contains(untrusted.logs.String(), `"msg":"identity assertion: impersonation refused"`) ||
		!strings.Contains(untrusted.logs.String(), `"caller":"alice","requested":"bob"`) {
		t.Fatalf("refusals not logged:\n%s", untrusted.logs)
	}
}

// Without identity assertion, doAs and user.name are removed all the same.
func TestImpersonationParamsRemovedWithoutAssertion(t *testing.T) {
	be := newBackend(t, nil)
	e := newEnv(t, proxyConfig())
	e.deploy(&topology.Topology{Name: "t", Services: []topology.Service{svc("echo", be.URL)},
		Providers: []topology.Provider{prov("authentication", "test-auth")}})
	resp, _ := e.get("/gateway/t/echo/?op=OPEN&doAs=hdfs&USER.NAME=hdfs&doasx=1", as("alice")...)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if q := be.last().URL.RawQuery; q != "op=OPEN&doasx=1" {
		t.Fatalf("backend query %q", q)
	}
	if !strings.Contains(e.logs.String(), "client doAs/user.name query parameter removed") {
		t.Fatalf("removal not logged:\n%s", e.logs)
	}
}

// An IP ACL sees the TCP peer unless the peer is a trusted proxy: a client
// cannot pass it with a forged X-Forwarded-For (or Forwarded, X-Real-IP).
func TestSpoofedForwardedForAndIPACL(t *testing.T) {
	be := newBackend(t, nil)
	top := &topology.Topology{Name: "t", Services: []topology.Service{svc("echo", be.URL)},
		Providers: []topology.Provider{prov("authentication", "test-auth"), prov("authorization", "acls", "echo.acl", "*;*;10.1.2.3,2001:db8::/32")}}
	untrusted := newEnv(t, proxyConfig())
	untrusted.deploy(top)
	trusted := newEnv(t, proxy.Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	trusted.deploy(top)
	tests := []struct {
		name   string
		e      *env
		hdr    []string
		status int
	}{
		{"untrusted peer, no header", untrusted, nil, 403},
		{"untrusted peer, forged X-Forwarded-For", untrusted, []string{"X-Forwarded-For", "10.1.2.3"}, 403},
		{"untrusted peer, forged Forwarded", untrusted, []string{"Forwarded", "for=10.1.2.3"}, 403},
		{"untrusted peer, forged X-Real-IP", untrusted, []string{"X-Real-Ip", "10.1.2.3"}, 403},
		{"untrusted peer, forged underscore spelling", untrusted, []string{"X_Forwarded_For", "10.1.2.3"}, 403},
		{"trusted peer forwards an allowed client", trusted, []string{"X-Forwarded-For", "10.1.2.3"}, 200},
		{"trusted peer forwards an allowed IPv6 client", trusted, []string{"X-Forwarded-For", "2001:db8::9"}, 200},
		{"trusted peer forwards another client", trusted, []string{"X-Forwarded-For", "10.1.2.4"}, 403},
		{"client's own entry left of the forwarded one", trusted, []string{"X-Forwarded-For", "10.1.2.3, 198.51.100.9"}, 403},
		{"trusted peer without the header: the peer", trusted, nil, 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := be.count()
			resp, body := tc.e.get("/gateway/t/echo/x", as("alice", tc.hdr...)...)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, body, tc.status)
			}
			if tc.status == 403 {
				if be.count() != n {
					t.Fatal("denied request reached the backend")
				}
				if body != `{"error":"access denied: user alice is not allowed to use service echo"}`+"\n" {
					t.Fatalf("body %q", body)
				}
			}
		})
	}
}

// Identity headers a client sends, in any spelling, never reach the
// backend, from untrusted and trusted peers alike: only what the gateway
// asserts does.
func TestClientIdentityHeadersNeverReachTheBackend(t *testing.T) {
	be := newBackend(t, nil)
	top := &topology.Topology{Name: "t", Services: []topology.Service{svc("echo", be.URL)},
		Providers: []topology.Provider{prov("authentication", "test-auth"),
			prov("identity-assertion", "default", "header", "X-Auth-User", "groups_header", "X-Auth-Groups", "group.principal.mapping", "alice=staff")}}
	forged := []string{
		"X-Forwarded-User", "X_Forwarded_User", "X.Forwarded.User", "x-forwarded-user",
		"SM_USER", "Sm-User", "sm.user", "Remote-User", "Remote_User", "X-Remote-User", "X-Authenticated-User",
		"X-Forwarded-Groups", "X_Forwarded_Groups",
		"X-Auth-User", "X_AUTH_USER", "x.auth.user", "X-Auth-Groups", "X_Auth_Groups",
		"X-Test-User-", // not an identity header: must pass (proves the check can see forwarded headers)
	}
	for _, cfg := range []proxy.Config{trustingConfig(false), trustingConfig(true)} {
		e := newEnv(t, cfg)
		e.deploy(top)
		var hdr []string
		for _, h := range forged {
			hdr = append(hdr, h, "mallory")
		}
		resp, body := rawGet(t, e.addr(), "/gateway/t/echo/x", append(hdr, "X-Test-Token", "let-me-in", "X-Test-User", "alice")...)
		if resp == nil || resp.StatusCode != 200 {
			t.Fatalf("trusted=%v: %v %s", cfg.TrustedProxies != nil, resp, body)
		}
		got := be.last().Header
		for k, v := range got {
			switch n := strings.NewReplacer("_", "-", ".", "-").Replace(strings.ToLower(k)); {
			case n == "x-auth-user":
				if k != "X-Auth-User" || !slices.Equal(v, []string{"alice"}) {
					t.Errorf("%s: %q, want only the gateway's alice", k, v)
				}
			case n == "x-auth-groups":
				if k != "X-Auth-Groups" || !slices.Equal(v, []string{"staff"}) {
					t.Errorf("%s: %q, want only the gateway's staff", k, v)
				}
			case slices.Contains(v, "mallory") && k != "X-Test-User-":
				t.Errorf("forged %s: %q reached the backend", k, v)
			}
		}
		if got.Get("X-Test-User-") != "mallory" {
			t.Fatalf("an ordinary header was removed: %v", got)
		}
	}
}

// A request's trailer section is fields too: identity and forwarding
// headers, those the chain reads, cookies and fields that belong in the
// head never reach the backend as trailers (a backend that merges trailers
// into its headers, as Tomcat does for those it allows, would take them
// as the gateway's), declared or not; an ordinary declared trailer does,
// with its value. Through both HTTP/1 front servers.
func TestClientTrailersNeverCarryIdentity(t *testing.T) {
	for _, kind := range []string{frontend.KindLean, frontend.KindNetHTTP} {
		t.Run(kind, func(t *testing.T) {
			seen := make(chan http.Header, 1)
			be := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				if string(body) != "abc" {
					t.Errorf("backend body %q", body)
				}
				seen <- r.Trailer.Clone()
			})
			e := newEnv(t, proxyConfig())
			e.fe = newTestFront(t, e.p, kind)
			e.deploy(&topology.Topology{Name: "t", Services: []topology.Service{svc("echo", be.URL)},
				Providers: []topology.Provider{prov("authentication", "test-auth"), prov("authentication", "test-session"),
					prov("identity-assertion", "default", "header", "X-Auth-User")}})
			forged := []string{"X-Forwarded-User", "X_Forwarded_User", "Sm-User", "SM_USER", "Remote-User", "X-Remote-User",
				"X-Forwarded-Groups", "X-Auth-User", "X-Test-User", "X-Test-Session-Key", "X-Forwarded-For", "X-Forwarded-Host",
				"Forwarded", "Cookie", "Authorization", "Host", "Content-Type", "Keep-Alive", "Upgrade", "X-Request-Id"}
			var tr strings.Builder
			for _, k := range forged {
				tr.WriteString(k + ": mallory\r\n")
			}
			raw := "POST /gateway/t/echo/x HTTP/1.1\r\nHost: gw\r\nConnection: close\r\nX-Test-Token: let-me-in\r\nX-Test-User: alice\r\n" +
				"Transfer-Encoding: chunked\r\nTrailer: X-Checksum, " + strings.Join(forged[:len(forged)-4], ", ") + "\r\n\r\n" +
				"3\r\nabc\r\n0\r\nX-Checksum: 900150983cd24fb0\r\n" + tr.String() + "X-Undeclared-User: mallory\r\n\r\n"
			resp, body := rawRoundTrip(t, e.addr(), raw)
			if resp == nil || resp.StatusCode != 200 {
				t.Fatalf("%v %s", resp, body)
			}
			got := <-seen
			if len(got) != 1 || got.Get("X-Checksum") != "900150983cd24fb0" {
				t.Fatalf("backend trailers %v, want only X-Checksum", got)
			}
		})
	}
	t.Run("HTTP/2", func(t *testing.T) {
		seen := make(chan http.Header, 1)
		be := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
			io.ReadAll(r.Body)
			seen <- r.Trailer.Clone()
		})
		e := newEnv(t, proxyConfig())
		e.deploy(&topology.Topology{Name: "t", Services: []topology.Service{svc("echo", be.URL)},
			Providers: []topology.Provider{prov("authentication", "test-auth"), prov("identity-assertion", "default", "header", "X-Auth-User")}})
		fe := httptest.NewUnstartedServer(e.p)
		fe.EnableHTTP2 = true
		fe.StartTLS()
		defer fe.Close()
		trailer := http.Header{"X-Checksum": nil, "X-Forwarded-User": nil, "Sm-User": nil, "X-Auth-User": nil,
			"X-Test-User": nil, "X-Forwarded-For": nil, "Cookie": nil}
		body := &trailerBody{r: strings.NewReader("abc"), trailer: trailer}
		req, err := http.NewRequest("POST", fe.URL+"/gateway/t/echo/x", body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Test-Token", "let-me-in")
		req.Header.Set("X-Test-User", "alice")
		req.Trailer = trailer
		resp, err := fe.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
			t.Fatalf("%d over %s", resp.StatusCode, resp.Proto)
		}
		if got := <-seen; len(got) != 1 || got.Get("X-Checksum") != "900150983cd24fb0" {
			t.Fatalf("backend trailers %v, want only X-Checksum", got)
		}
	})
}

// trailerBody is a request body that fills its request's trailers at its
// end, as an HTTP client reads them.
type trailerBody struct {
	r       io.Reader
	trailer http.Header
}

func (b *trailerBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		for k := range b.trailer {
			b.trailer.Set(k, "mallory")
		}
		b.trailer.Set("X-Checksum", "900150983cd24fb0")
	}
	return n, err
}

// CSRF and CORS through the proxy: refused requests never reach the
// backend; preflights are answered before authentication.
func TestWebAppSecThroughTheProxy(t *testing.T) {
	be := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*") // a backend's own CORS answer is replaced
		w.Header().Set("X-Frame-Options", "ALLOWALL")
	})
	e := newEnv(t, proxyConfig())
	e.deploy(&topology.Topology{Name: "t", Services: []topology.Service{svc("echo", be.URL)},
		Providers: []topology.Provider{prov("authentication", "test-auth"),
			prov("webappsec", "WebAppSec", "csrf.enabled", "true", "cors.enabled", "true", "cors.allowOrigin", "https://app.example",
				"cors.allowCredentials", "true", "xframe.options.enabled", "true")}})
	tests := []struct {
		name, method string
		hdr          []string
		status       int
		backend      bool
		want         map[string]string
	}{
		{"POST without the CSRF header", "POST", as("alice"), 400, false, map[string]string{"X-Frame-Options": "DENY"}},
		{"POST with it", "POST", as("alice", "X-XSRF-Header", "1"), 200, true, map[string]string{"X-Frame-Options": "DENY"}},
		{"GET needs none", "GET", as("alice"), 200, true, nil},
		{"preflight from a disallowed origin", "OPTIONS", []string{"Origin", "https://evil.example", "Access-Control-Request-Method", "POST"}, 403, false, nil},
		{"preflight from the allowed origin, no credentials needed", "OPTIONS",
			[]string{"Origin", "https://app.example", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "X-XSRF-Header"}, 204, false,
			map[string]string{"Access-Control-Allow-Origin": "https://app.example", "Access-Control-Allow-Credentials": "true", "Access-Control-Allow-Headers": "X-XSRF-Header"}},
		{"cross-origin request from the allowed origin", "GET", as("alice", "Origin", "https://app.example"), 200, true,
			map[string]string{"Access-Control-Allow-Origin": "https://app.example", "X-Frame-Options": "DENY"}},
		{"cross-origin request from another origin", "POST", as("alice", "Origin", "https://evil.example", "X-XSRF-Header", "1"), 403, false, nil},
		{"unauthenticated answer carries the headers", "GET", []string{"Origin", "https://app.example"}, 401, false,
			map[string]string{"Access-Control-Allow-Origin": "https://app.example", "X-Frame-Options": "DENY"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := be.count()
			resp, body := e.do(tc.method, "/gateway/t/echo/x", nil, tc.hdr...)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, body, tc.status)
			}
			if called := be.count() != n; called != tc.backend {
				t.Fatalf("backend called: %v, want %v", called, tc.backend)
			}
			for k, v := range tc.want {
				if got := resp.Header.Values(k); !slices.Equal(got, []string{v}) {
					t.Fatalf("%s = %q, want exactly %q", k, got, v)
				}
			}
		})
	}
}

// A misconfigured provider refuses the deploy with an error naming the
// param; the live table is untouched.
func TestMisconfiguredProvidersRefused(t *testing.T) {
	be := newBackend(t, nil)
	e := newEnv(t, proxyConfig())
	e.deploy(topo("t", svc("echo", be.URL)))
	bad := func(providers ...topology.Provider) *topology.Topology {
		return &topology.Topology{Name: "t", Services: []topology.Service{svc("echo", be.URL), {Role: "WEBHDFS", Path: "webhdfs", URLs: []string{be.URL}}},
			Providers: append([]topology.Provider{prov("authentication", "anonymous")}, providers...)}
	}
	tests := []struct {
		name string
		t    *topology.Topology
		want string
	}{
		{"bad CIDR", bad(prov("authorization", "acls", "echo.acl", "*;*;10.0.0.0/33")),
			`topology "t": provider "acls" (role "authorization"): param "echo.acl": "10.0.0.0/33" is not a CIDR range`},
		{"bad mode", bad(prov("authorization", "acls", "echo.acl", "*;*;*", "echo.acl.mode", "XOR")), `param "echo.acl.mode": "XOR": must be AND or OR`},
		{"ACL for no service", bad(prov("authorization", "acls", "webhfds.acl", "hdfs;*;*")), `param "webhfds.acl": no service of the topology has the path or role "webhfds"`},
		{"bad regex", bad(prov("identity-assertion", "regex", "input", "([a-z", "output", "{1}")), `provider "regex" (role "identity-assertion"): param "input": error parsing regexp`},
		{"bad proxy-user hosts", bad(prov("identity-assertion", "default", "hadoop.proxyuser.svc.users", "*", "hadoop.proxyuser.svc.hosts", "10.0.0.0/33")), `param "hadoop.proxyuser.svc.hosts"`},
		{"bad CORS origin", bad(prov("webappsec", "webappsec", "cors.enabled", "true", "cors.allowOrigin", "evil")), `param "cors.allowOrigin"`},
		{"service path auth", &topology.Topology{Name: "t", Providers: openProviders, Services: []topology.Service{svc("auth", be.URL)}},
			`services[0].path: path "auth" is reserved`},
		{"service path under auth", &topology.Topology{Name: "t", Providers: openProviders, Services: []topology.Service{svc("auth/api", be.URL)}},
			`services[0].path: path "auth/api" is reserved`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.p.Compile(context.Background(), tc.t)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
	if resp, _ := e.get("/gateway/t/echo/"); resp.StatusCode != 200 {
		t.Fatalf("live topology affected: %d", resp.StatusCode)
	}
	// "authx" is not reserved: only the segment auth is.
	e.deploy(&topology.Topology{Name: "u", Providers: openProviders, Services: []topology.Service{svc("authx", be.URL)}})
}

func TestAuthAPI(t *testing.T) {
	be := newBackend(t, nil)
	var many []string
	for i := range 120 {
		many = append(many, "group-with-a-rather-long-name-"+string(rune('a'+i%26))+strings.Repeat("x", i%7)+"-"+string(rune('A'+i/26)))
	}
	e := newEnv(t, proxyConfig())
	e.deploy(&topology.Topology{Name: "t", Services: []topology.Service{svc("echo", be.URL)},
		Providers: []topology.Provider{prov("authentication", "test-auth"),
			prov("identity-assertion", "default", "group.principal.mapping", "alice=b,a;*=users;many="+strings.Join(many, ","))}})
	e.deploy(&topology.Topology{Name: "locked", Services: []topology.Service{svc("echo", be.URL)},
		Providers: []topology.Provider{prov("authentication", "test-auth"), prov("authorization", "acls", "default", "deny", "echo.acl", "*;*;*")}})
	tests := []struct {
		name, method, path string
		hdr                []string
		status             int
		body               string
		headers            map[string]string
	}{
		{"groups", "GET", "/gateway/t/auth/api/v1/groups", as("alice"), 200, `{"user":"alice","groups":["a","b","users"]}` + "\n", nil},
		{"groups, none mapped but *", "GET", "/gateway/t/auth/api/v1/groups", as("bob"), 200, `{"user":"bob","groups":["users"]}` + "\n", nil},
		{"JSON escaping", "GET", "/gateway/t/auth/api/v1/groups", as(`<b>"x"`), 200, `{"user":"\u003cb\u003e\"x\"","groups":["users"]}` + "\n", nil},
		{"groups, unauthenticated", "GET", "/gateway/t/auth/api/v1/groups", nil, 401, `{"error":"authentication required"}` + "\n", nil},
		{"groups HEAD", "HEAD", "/gateway/t/auth/api/v1/groups", as("alice"), 200, "", nil},
		{"pre", "GET", "/gateway/t/auth/api/v1/pre", as("alice"), 200, "",
			map[string]string{"X-Knox-Actor-Id": "alice", "X-Knox-Actor-Groups-1": "a,b,users"}},
		{"pre, unauthenticated", "GET", "/gateway/t/auth/api/v1/pre", nil, 401, `{"error":"authentication required"}` + "\n", nil},
		{"POST", "POST", "/gateway/t/auth/api/v1/groups", as("alice"), 405, `{"error":"method not allowed"}` + "\n", map[string]string{"Allow": "GET, HEAD"}},
		{"unknown endpoint", "GET", "/gateway/t/auth/api/v1/tokens", as("alice"), 404, `{"error":"no such route"}` + "\n", nil},
		{"auth itself", "GET", "/gateway/t/auth", as("alice"), 404, `{"error":"no such route"}` + "\n", nil},
		{"trailing slash", "GET", "/gateway/t/auth/api/v1/groups/", as("alice"), 404, `{"error":"no such route"}` + "\n", nil},
		{"unknown topology", "GET", "/gateway/nope/auth/api/v1/groups", as("alice"), 404, `{"error":"no such route"}` + "\n", nil},
		{"through the topology's ACLs", "GET", "/gateway/locked/auth/api/v1/groups", as("alice"), 403,
			`{"error":"access denied: user alice is not allowed to use service auth"}` + "\n", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.do(tc.method, tc.path, nil, tc.hdr...)
			if resp.StatusCode != tc.status || body != tc.body {
				t.Fatalf("%d %q, want %d %q", resp.StatusCode, body, tc.status, tc.body)
			}
			for k, v := range tc.headers {
				if got := resp.Header.Values(k); !slices.Equal(got, []string{v}) {
					t.Fatalf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
	if be.count() != 0 {
		t.Fatal("the auth API reached a backend")
	}

	// Many groups: split over numbered headers of at most 1000 bytes each.
	resp, _ := e.get("/gateway/t/auth/api/v1/pre", as("many")...)
	var got []string
	for i := 1; ; i++ {
		v := resp.Header.Get("X-Knox-Actor-Groups-" + string(rune('0'+i)))
		if v == "" {
			break
		}
		if len(v) > 1000 {
			t.Fatalf("header %d is %d bytes", i, len(v))
		}
		got = append(got, strings.Split(v, ",")...)
	}
	want := append(slices.Clone(many), "users")
	slices.Sort(want)
	if len(resp.Header) < 4 || !slices.Equal(got, slices.Compact(want)) {
		t.Fatalf("groups over %d headers: %d of %d", len(resp.Header), len(got), len(want))
	}
}

func TestLookupGroups(t *testing.T) {
	e := newEnv(t, proxyConfig())
	be := newBackend(t, nil)
	e.deploy(&topology.Topology{Name: "static", Services: []topology.Service{svc("echo", be.URL)},
		Providers: []topology.Provider{prov("authentication", "anonymous"), prov("identity-assertion", "default", "group.principal.mapping", "alice=etl,analysts;*=users")}})
	e.deploy(&topology.Topology{Name: "both", Services: []topology.Service{svc("echo", be.URL)},
		Providers: []topology.Provider{prov("authentication", "anonymous"), prov("custom", "test-groups"),
			prov("identity-assertion", "hadoop-groups", "hadoop.user.group.static.mapping.overrides", "alice=etl,ldap-a")}})
	e.deploy(topo("none", svc("echo", be.URL)))
	tests := []struct {
		topology, user string
		groups         []string
		source         string
		err            error
		msg            string
	}{
		{"static", "alice", []string{"analysts", "etl", "users"}, "default", nil, ""},
		{"static", "zed", []string{"users"}, "default", nil, ""},
		{"both", "alice", []string{"etl", "ldap-a", "ldap-b"}, "hadoop-groups,test-groups", nil, ""},
		{"both", "broken", nil, "", nil, `topology "both": provider "test-groups": looking up the groups of "broken": directory unreachable`},
		{"none", "alice", nil, "", proxy.ErrNoGroupSource, `no group source in topology "none": add an ldap provider`},
		{"nope", "alice", nil, "", proxy.ErrNoTopology, `topology "nope": no such topology`},
	}
	for _, tc := range tests {
		t.Run(tc.topology+"/"+tc.user, func(t *testing.T) {
			groups, source, err := e.p.LookupGroups(context.Background(), tc.topology, tc.user)
			if tc.msg != "" {
				if err == nil || !strings.Contains(err.Error(), tc.msg) || tc.err != nil && !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %q (%v)", err, tc.msg, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(groups, tc.groups) || source != tc.source {
				t.Fatalf("%q %q %v, want %q %q", groups, source, err, tc.groups, tc.source)
			}
		})
	}
}

// Every Knox provider name internal/topology/knox.go maps for the roles
// covered here compiles into a chain, under the name knox.go gives it.
func TestKnoxTopologyProviders(t *testing.T) {
	doc := `<topology><gateway>
  <provider><role>federation</role><name>ClientCert</name><enabled>true</enabled></provider>
  <provider><role>identity-assertion</role><name>Pseudo</name><enabled>true</enabled></provider>
  <provider><role>identity-assertion</role><name>Default</name><enabled>true</enabled>
    <param><name>principal.mapping</name><value>guest=hdfs;</value></param>
    <param><name>group.principal.mapping</name><value>*=users;hdfs=admin</value></param></provider>
  <provider><role>identity-assertion</role><name>Concat</name><enabled>true</enabled>
    <param><name>concat.suffix</name><value>_domain1</value></param></provider>
  <provider><role>identity-assertion</role><name>Regex</name><enabled>true</enabled>
    <param><name>input</name><value>(.*)@(.*?)\..*</value></param>
    <param><name>output</name><value>{1}_{[2]}</value></param>
    <param><name>lookup</name><value>us=USA;ca=CANADA</value></param></provider>
  <provider><role>identity-assertion</role><name>SwitchCase</name><enabled>true</enabled>
    <param><name>principal.case</name><value>upper</value></param></provider>
  <provider><role>identity-assertion</role><name>HadoopGroupProvider</name><enabled>true</enabled>
    <param><name>hadoop.user.group.static.mapping.overrides</name><value>guest=users</value></param></provider>
  <provider><role>authorization</role><name>AclsAuthz</name><enabled>true</enabled>
    <param><name>acl.mode</name><value>OR</value></param>
    <param><name>webhdfs.acl</name><value>hdfs;admin;127.0.0.*</value></param></provider>
  <provider><role>webappsec</role><name>WebAppSec</name><enabled>true</enabled>
    <param><name>csrf.enabled</name><value>true</value></param>
    <param><name>xframe.options.enabled</name><value>true</value></param></provider>
</gateway>
<service><role>WEBHDFS</role><url>http://127.0.0.1:50070/webhdfs</url></service>
</topology>`
	parsed, err := topology.Parse([]byte(doc), topology.FormatKnoxXML, "sandbox.xml", "")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"federation/client-cert", "identity-assertion/default", "identity-assertion/default", "identity-assertion/concat",
		"identity-assertion/regex", "identity-assertion/switch-case", "identity-assertion/hadoop-groups", "authorization/acls", "webappsec/webappsec"}
	if len(parsed.Providers) != len(want) {
		t.Fatalf("%d providers", len(parsed.Providers))
	}
	e := newEnv(t, proxyConfig())
	for i, p := range parsed.Providers {
		t.Run(want[i], func(t *testing.T) {
			one := *parsed
			one.Providers = []topology.Provider{p}
			if p.Role != "federation" {
				one.Providers = append(one.Providers, topology.Provider{Role: "authentication", Name: "anonymous"})
			}
			c, err := e.p.Compile(context.Background(), &one)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Discard()
			var links []string
			for _, l := range c.Links() {
				links = append(links, l.String())
			}
			if !slices.Contains(links, want[i]) {
				t.Fatalf("chain %v, want %s in it", links, want[i])
			}
		})
	}
}
