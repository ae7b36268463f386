package proxy_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
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
		{"dot segments resolved before the base path", "Location", b.URL + "/app/v1/a/../b/./c", gw + "/b/c"},
		{"path with dot segments", "Location", "/app/v1/./x/../../v1/login", "/gateway/t/app/login"},
		{"dot segments out of the base: a backend address no service covers is removed", "Location", b.URL + "/app/v1/../v2/x", ""},
		{"relative untouched", "Location", "next", "next"},
		{"other host untouched", "Location", "http://elsewhere.example/app/v1/x", "http://elsewhere.example/app/v1/x"},
		{"other port untouched", "Location", "http://" + bName + ":1/app/v1/x", "http://" + bName + ":1/app/v1/x"},
		{"prefix but not segment: a backend address no service covers is removed", "Location", b.URL + "/app/v10", ""},
		{"Content-Location", "Content-Location", b.URL + "/app/v1/doc", gw + "/doc"},
		{"Refresh", "Refresh", "5; url=" + b.URL + "/app/v1/next", "5; url=" + gw + "/next"},
		{"Refresh other", "Refresh", "5; url=http://elsewhere.example/", "5; url=http://elsewhere.example/"},
		{"Link pagination and preload", "Link", "<" + b.URL + "/app/v1/items?page=2>; rel=\"next\", </app/v1/style.css>; rel=preload; as=style",
			"<" + gw + "/items?page=2>; rel=\"next\", </gateway/t/app/style.css>; rel=preload; as=style"},
		{"Link other untouched", "Link", "<http://elsewhere.example/x>; rel=\"a, b\", <next>; rel=next", "<http://elsewhere.example/x>; rel=\"a, b\", <next>; rel=next"},
		// A URL as the browser reads it against the gateway URL it asked
		// (http here): backslashes as slashes, any number of slashes after
		// "http:" but one (a path on the gateway) or none (a relative one).
		{"Location with backslashes", "Location", `http:\\` + bHost + `\app\v1\x`, gw + "/x"},
		{"Location with three slashes", "Location", "http:///" + bHost + "/app/v1/x", gw + "/x"},
		{"network path with backslashes", "Location", `\\` + bHost + "/app/v1/x", gw + "/x"},
		{"path with backslashes", "Location", `\app\v1\login`, "/gateway/t/app/login"},
		{"http:/ is a path on an http gateway", "Location", "http:/app/v1/login", "/gateway/t/app/login"},
		{"http: without slashes is relative on an http gateway", "Location", "http:next", "http:next"},
		{"Content-Location with backslashes", "Content-Location", `http:\\` + bHost + "/app/v1/doc", gw + "/doc"},
		{"Refresh with three slashes", "Refresh", "5; url=http:///" + bHost + "/app/v1/next", "5; url=" + gw + "/next"},
		{"Link with backslashes", "Link", `<\\` + bHost + `/app/v1/items>; rel=next`, "<" + gw + "/items>; rel=next"},
		{"other host read so untouched", "Location", `http:\\elsewhere.example/x`, `http:\\elsewhere.example/x`},
		{"cookie path", "Set-Cookie", "sid=1; Path=/app/v1/x; HttpOnly", "sid=1; Path=/gateway/t/app/x; HttpOnly"},
		{"cookie path at base", "Set-Cookie", "sid=1; Path=/app/v1", "sid=1; Path=/gateway/t/app"},
		{"cookie domain of backend dropped", "Set-Cookie", "sid=1; Domain=" + bName + "; Path=/app/v1/; Secure", "sid=1; Path=/gateway/t/app; Secure"},
		{"cookie other domain kept", "Set-Cookie", "sid=1; Domain=example.org", "sid=1; Domain=example.org"},
		// Every spelling of the backend's host is the backend's (webhost),
		// in a cookie's Domain as in a URL: none reaches the client.
		{"cookie domain of backend, trailing dot, dropped", "Set-Cookie", "sid=1; Domain=" + bName + ".", "sid=1"},
		{"cookie domain of backend, numeric form, dropped", "Set-Cookie", "sid=1; Domain=2130706433", "sid=1"},
		{"cookie domain of backend, short form, dropped", "Set-Cookie", "sid=1; Domain=.0x7f.1", "sid=1"},
		{"cookie domain of backend, IPv4-mapped IPv6 in brackets, dropped", "Set-Cookie", "sid=1; Domain=[::ffff:127.0.0.1]", "sid=1"},
		// A browser reads an attribute's name and value without the
		// spaces around them (RFC 6265 §5.2).
		{"cookie domain of backend with spaces dropped", "Set-Cookie", "sid=1; Domain = " + bName + " ", "sid=1"},
		{"cookie path with spaces scoped to the service", "Set-Cookie", "sid=1; Path =/; HttpOnly", "sid=1; Path=/gateway/t/app; HttpOnly"},
		{"cookie path with spaces under the base mapped", "Set-Cookie", "sid=1;path\t= /app/v1/x ", "sid=1; Path=/gateway/t/app/x"},
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

// A URL in a response header that names any backend of the topology is
// mapped to the gateway URL of the service covering it; one that names a
// backend no service covers never reaches the client.
func TestResponseHeadersNeverLeakBackends(t *testing.T) {
	e := newEnv(t, proxyConfig())
	var hdr http.Header
	status := http.StatusFound
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		for k, vs := range hdr {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "backend body")
	})
	// Only "app" is ever contacted; the other URLs are never dialled.
	e.deploy(topo("t",
		svc("app", b.URL+"/app/v1"),
		svc("other", b.URL+"/other"),
		svc("remote", "https://internal.example"),
		svc("x", "http://internal2.example:8080/x"),
		svc("xy", "http://internal2.example:8080/x/y"),
	))
	bHost := strings.TrimPrefix(b.URL, "http://")
	gw := "http://gw.example/gateway/t"

	tests := []struct {
		name       string
		status     int
		header, in string
		wantStatus int
		want       string // "" : header absent
	}{
		{"cross-service redirect", 302, "Location", b.URL + "/other/page?q=1", 302, gw + "/other/page?q=1"},
		{"cross-service at base", 302, "Location", b.URL + "/other", 302, gw + "/other"},
		{"longest base path wins", 302, "Location", "http://internal2.example:8080/x/y/z", 302, gw + "/xy/z"},
		{"shorter base path", 302, "Location", "http://internal2.example:8080/x/z", 302, gw + "/x/z"},
		{"https default port", 302, "Location", "https://internal.example:443/a", 302, gw + "/remote/a"},
		{"https no port", 302, "Location", "https://internal.example/a", 302, gw + "/remote/a"},
		{"host case-insensitive", 302, "Location", "https://Internal.EXAMPLE/a", 302, gw + "/remote/a"},
		{"wss maps to https backend", 302, "Location", "wss://internal.example/a", 302, gw + "/remote/a"},
		{"network-path reference", 302, "Location", "//internal.example/a", 302, gw + "/remote/a"},
		{"same host other scheme untouched", 302, "Location", "http://internal.example/a", 302, "http://internal.example/a"},
		{"other backend's root not covered", 302, "Location", "http://internal2.example:8080/", 502, ""},
		{"own backend's root not covered", 302, "Location", b.URL + "/", 502, ""},
		{"own backend outside base", 307, "Location", b.URL + "/admin?token=s3cret", 502, ""},
		{"uncovered Location on 201 dropped", 201, "Location", b.URL + "/elsewhere", 201, ""},
		{"uncovered Content-Location dropped", 200, "Content-Location", "http://internal2.example:8080/z", 200, ""},
		{"uncovered Refresh dropped", 200, "Refresh", "0; url=" + b.URL + "/elsewhere", 200, ""},
		{"covered Refresh mapped", 200, "Refresh", "0; url=http://internal2.example:8080/x/y", 200, "0; url=" + gw + "/xy"},
		// Browsers follow a Refresh URL without "url=", after a comma, with
		// spaces around '=' and in quotes (HTML's declarative refresh).
		{"uncovered Refresh without url= dropped", 200, "Refresh", "0; " + b.URL + "/elsewhere", 200, ""},
		{"uncovered Refresh after a comma dropped", 200, "Refresh", "0," + b.URL + "/elsewhere", 200, ""},
		{"uncovered Refresh spaced url = dropped", 200, "Refresh", "0; URL = '" + b.URL + "/elsewhere'", 200, ""},
		{"covered Refresh without url= mapped", 200, "Refresh", "3; http://internal2.example:8080/x/y/z", 200, "3; " + gw + "/xy/z"},
		{"covered Refresh quoted mapped", 200, "Refresh", `0; url="http://internal2.example:8080/x/q"`, 200, `0; url="` + gw + `/x/q"`},
		// Link: each link mapped; one naming a backend no service covers is
		// left out (a comma in a quoted parameter does not end a link).
		{"uncovered Link left out", 200, "Link", "<" + b.URL + "/admin?token=s3cret>; rel=\"x, y\"; title=\"a \\\" ,b\", <http://internal2.example:8080/x/q>; rel=next",
			200, "<" + gw + "/x/q>; rel=next"},
		{"only uncovered Links dropped", 200, "Link", "<http://internal2.example:8080/z>; rel=preload", 200, ""},
		{"unparsable Link with a backend dropped", 200, "Link", "<" + b.URL + "/admin; rel=next", 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr, status = http.Header{tc.header: {tc.in}}, tc.status
			resp, body := rawGet(t, e.addr(), "/gateway/t/app/")
			if resp == nil {
				t.Fatal(body)
			}
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d (body %q)", resp.StatusCode, tc.wantStatus, body)
			}
			if got := resp.Header.Get(tc.header); got != tc.want {
				t.Fatalf("%s: %q, want %q", tc.header, got, tc.want)
			}
			for _, leak := range []string{bHost, "internal2", "s3cret"} {
				if strings.Contains(fmt.Sprint(resp.Header), leak) || strings.Contains(body, leak) {
					t.Fatalf("response leaks %q: %v %q", leak, resp.Header, body)
				}
			}
			if tc.wantStatus == http.StatusBadGateway && strings.Contains(body, "backend body") {
				t.Fatalf("the refused redirect's body reached the client: %q", body)
			}
		})
	}
	if !strings.Contains(e.logs.String(), "redirect to a backend address no service of the topology covers") {
		t.Errorf("the refused redirect is not logged for the operator:\n%s", e.logs)
	}
	if strings.Contains(e.logs.String(), "s3cret") {
		t.Errorf("the log holds the redirect's query:\n%s", e.logs)
	}
}

// Without a Host header there is no public origin: a backend URL becomes a
// path on the gateway, never the backend's address.
func TestResponseHeaderWithoutHostIsAPath(t *testing.T) {
	e := newEnv(t, proxyConfig())
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "http://"+r.Host+"/app/next")
		w.WriteHeader(http.StatusFound)
	})
	e.deploy(topo("t", svc("app", b.URL+"/app")))
	resp, body := rawRoundTrip(t, e.addr(), "GET /gateway/t/app/ HTTP/1.0\r\n\r\n")
	if resp == nil {
		t.Fatal(body)
	}
	if got := resp.Header.Get("Location"); got != "/gateway/t/app/next" {
		t.Fatalf("Location %q, want /gateway/t/app/next", got)
	}
}

// An early hint (103) passes through, but not its Link fields: their
// URIs would name the backend (a preload the browser fetches from it)
// and are not rewritten as the final answer's are; nor its hop-by-hop
// fields, which are the backend connection's (an HTTP/2 answer must not
// carry them, RFC 9113 §8.2.2: curl fails such a stream with (92)).
func TestEarlyHintsLeakNoBackend(t *testing.T) {
	e := newEnv(t, proxyConfig())
	hop := []string{"Connection", "Keep-Alive", "X-Backend-Hop"}
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "<http://"+r.Host+"/app/v1/style.css>; rel=preload; as=style")
		w.Header().Set("X-Hint", "kept")
		w.Header().Set("Connection", "X-Backend-Hop")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-Backend-Hop", "10.0.0.5:8080")
		w.WriteHeader(http.StatusEarlyHints)
		for _, k := range append(hop, "Link") {
			w.Header().Del(k)
		}
		_, _ = io.WriteString(w, "ok")
	})
	e.deploy(topo("t", svc("app", b.URL+"/app/v1")))
	var hints []http.Header
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		if code == http.StatusEarlyHints {
			hints = append(hints, http.Header(h).Clone())
		}
		return nil
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), http.MethodGet, e.fe.URL+"/gateway/t/app/", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.fe.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Fatalf("answer %d %q", resp.StatusCode, body)
	}
	if len(hints) != 1 || hints[0].Get("X-Hint") != "kept" {
		t.Fatalf("early hints %v, want one with X-Hint", hints)
	}
	if l := hints[0].Values("Link"); len(l) > 0 {
		t.Fatalf("the early hint carries Link %q (the backend's address)", l)
	}
	for _, k := range hop {
		if v := hints[0].Values(k); len(v) > 0 {
			t.Errorf("the early hint carries the backend connection's %s %q", k, v)
		}
	}
}

// A cookie a backend sets without a Path gets, in a browser, the path of
// the request up to its last '/': for "/gateway/t/app?x" that is
// "/gateway/t", every service of the topology (which the backend could
// then read cookies for, or plant its own, an SSO cookie among them, ahead
// of the gateway's). The gateway scopes such a cookie to the service;
// under the service, the browser's own path is kept. Checked with a
// cookie jar, which applies the browser's rules.
func TestCookieWithoutPathStaysInItsService(t *testing.T) {
	e := newEnv(t, proxyConfig())
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "sid=1; HttpOnly")
	})
	e.deploy(topo("t", svc("app", b.URL), svc("other", b.URL)))
	tests := []struct {
		target, want string // want: the Set-Cookie the client gets
		reaches      string // a path under the service the cookie is sent to
	}{
		{"/gateway/t/app", "sid=1; HttpOnly; Path=/gateway/t/app", "/gateway/t/app/x"},
		{"/gateway/t/app?x=1", "sid=1; HttpOnly; Path=/gateway/t/app", "/gateway/t/app/x"},
		{"http://gw.example/gateway/t/app", "sid=1; HttpOnly; Path=/gateway/t/app", "/gateway/t/app/x"},
		{"/gateway/t/app/", "sid=1; HttpOnly", "/gateway/t/app/x"},
		{"/gateway/t/app/deep/page", "sid=1; HttpOnly", "/gateway/t/app/deep/x"},
	}
	for _, tc := range tests {
		t.Run(tc.target, func(t *testing.T) {
			resp, body := rawRoundTrip(t, e.addr(), "GET "+tc.target+" HTTP/1.1\r\nHost: gw.example\r\nConnection: close\r\n\r\n")
			if resp == nil || resp.StatusCode != 200 {
				t.Fatalf("%v %s", resp, body)
			}
			if got := resp.Header.Get("Set-Cookie"); got != tc.want {
				t.Fatalf("Set-Cookie %q, want %q", got, tc.want)
			}
			jar, err := cookiejar.New(nil)
			if err != nil {
				t.Fatal(err)
			}
			target := tc.target
			if strings.HasPrefix(target, "/") {
				target = "http://gw.example" + target
			}
			u, _ := url.Parse(target)
			jar.SetCookies(u, resp.Cookies())
			for path, want := range map[string]int{tc.reaches: 1, "/gateway/t/other/x": 0, "/gateway/t/x": 0} {
				if got := len(jar.Cookies(&url.URL{Scheme: "http", Host: "gw.example", Path: path})); got != want {
					t.Errorf("a browser sends %d cookies to %s, want %d", got, path, want)
				}
			}
		})
	}
}
