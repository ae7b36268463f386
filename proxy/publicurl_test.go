package proxy_test

import (
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy"
)

// linksBackend answers a redirect, and an HTML page, to its own absolute
// URLs, the way backends that know only their own address do.
func linksBackend(t *testing.T) *backend {
	var self string
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		switch r.URL.Path {
		case "/redirect":
			h.Set("Content-Location", self+"/doc")
			h.Set("Link", "<"+self+"/items?page=2>; rel=next")
			h.Set("Refresh", "5; url="+self+"/later")
			http.Redirect(w, r, self+"/next", http.StatusFound)
		case "/page":
			h.Set("Content-Type", "text/html; charset=utf-8")
			_, _ = io.WriteString(w, `<a href="`+self+`/x">x</a><img src="`+self+`/i.png">`)
		}
	})
	self = b.URL
	return b
}

// With proxy.public_url set, every absolute link the gateway writes is on
// the configured origin, whatever Host the client sent and whatever a
// trusted proxy said in X-Forwarded-Host; backends are told that origin
// too. Without it, links follow the request as before.
func TestPublicURLLinks(t *testing.T) {
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	viaProxy := []string{"X-Forwarded-Host", "proxy.example:8443", "X-Forwarded-Proto", "https"}
	tests := []struct {
		name      string
		publicURL string
		trusted   []netip.Prefix
		hdr       []string // besides Host: evil.example
		origin    string   // of the links written
		fwdProto  string   // X-Forwarded-Proto the backend gets
		fwdHost   string   // X-Forwarded-Host the backend gets
		fwdPort   string   // X-Forwarded-Port the backend gets
	}{
		{"unset: the client's Host", "", nil, nil, "http://evil.example", "http", "evil.example", "80"},
		{"unset: a trusted proxy's X-Forwarded-Host", "", loopback, viaProxy, "https://proxy.example:8443", "https", "proxy.example:8443", "8443"}, // the port of its X-Forwarded-Host
		{"unset: an untrusted peer's X-Forwarded-Host is ignored", "", nil, viaProxy, "http://evil.example", "http", "evil.example", "80"},
		{"set: wins over the client's Host", "https://GW.example.com:443/", nil, nil, "https://gw.example.com", "https", "gw.example.com", "443"},
		{"set: wins over a trusted proxy's X-Forwarded-Host", "https://gw.example.com", loopback, viaProxy, "https://gw.example.com", "https", "gw.example.com", "443"},
		{"set with a port", "http://gw.example.com:8080", nil, nil, "http://gw.example.com:8080", "http", "gw.example.com:8080", "8080"},
		{"set: IPv4-mapped IPv6, as a browser writes it", "https://[::ffff:192.0.2.1]:8443", nil, nil,
			"https://[::ffff:c000:201]:8443", "https", "[::ffff:c000:201]:8443", "8443"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, proxy.Config{PublicURL: tc.publicURL, TrustedProxies: tc.trusted})
			b := linksBackend(t)
			e.deploy(topo("t", topology.Service{Role: "YARNUI", Path: "app", URLs: []string{b.URL}}))
			gw := tc.origin + "/gateway/t/app"

			resp, _ := hostGet(t, e, "/gateway/t/app/redirect", tc.hdr...)
			for _, h := range []struct{ name, want string }{
				{"Location", gw + "/next"},
				{"Content-Location", gw + "/doc"},
				{"Link", "<" + gw + "/items?page=2>; rel=next"},
				{"Refresh", "5; url=" + gw + "/later"},
			} {
				if got := resp.Header.Get(h.name); got != h.want {
					t.Errorf("%s: %q, want %q", h.name, got, h.want)
				}
			}
			r := b.last()
			for _, f := range []struct{ name, want string }{
				{"X-Forwarded-Proto", tc.fwdProto}, {"X-Forwarded-Host", tc.fwdHost}, {"X-Forwarded-Port", tc.fwdPort},
			} {
				if got := r.Header.Get(f.name); got != f.want {
					t.Errorf("backend's %s: %q, want %q", f.name, got, f.want)
				}
			}

			_, body := hostGet(t, e, "/gateway/t/app/page", tc.hdr...)
			if want := `<a href="` + gw + `/x">x</a><img src="` + gw + `/i.png">`; body != want {
				t.Errorf("page:\n got %s\nwant %s", body, want)
			}
		})
	}
}

// hostGet is GET path with Host: evil.example and hdr (name, value pairs).
func hostGet(t *testing.T, e *env, path string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.fe.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "evil.example"
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := e.fe.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// A WebSocket's {gateway_url} is on the configured origin, and an Origin
// naming it is the gateway's own (the backend sees its own origin), while
// the origin of the client's Host is just another origin. An IPv4-mapped
// IPv6 public host is the origin a browser sends: in hexadecimal.
func TestPublicURLWebSocket(t *testing.T) {
	b := newWSServer(t, websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}, func(c *websocket.Conn) {
		for {
			mt, _, err := c.ReadMessage()
			if err != nil || c.WriteMessage(mt, []byte("see http://backend.internal/x")) != nil {
				return
			}
		}
	})
	for _, pub := range []struct{ url, origin string }{
		{"https://gw.example.com", "https://gw.example.com"},
		{"https://[::ffff:192.0.2.1]:8443", "https://[::ffff:c000:201]:8443"},
	} {
		e := newEnv(t, proxy.Config{PublicURL: pub.url})
		e.deploy(&topology.Topology{Name: "t", Providers: []topology.Provider{{Role: "authentication", Name: "test-session"}},
			Services: []topology.Service{wsService("ws", b.URL, map[string]string{
				"websocket.rewrite.outbound.1": "literal:http://backend.internal => {gateway_url}",
			})}})
		for _, tc := range []struct{ origin, want string }{
			{pub.origin, b.URL},
			{"http://evil.example", "http://evil.example"},
		} {
			c, resp, err := websocket.DefaultDialer.Dial(wsURL(e, "/gateway/t/ws"),
				http.Header{"Host": {"evil.example"}, "Cookie": {"test-session=ok"}, "Origin": {tc.origin}})
			if err != nil {
				t.Fatalf("public %s: dial with Origin %s: %v %v", pub.url, tc.origin, err, resp)
			}
			if got := (<-b.seen).Header.Get("Origin"); got != tc.want {
				t.Errorf("public %s: Origin %s reached the backend as %q, want %q", pub.url, tc.origin, got, tc.want)
			}
			_ = c.WriteMessage(websocket.TextMessage, []byte("hi"))
			_, msg, err := c.ReadMessage()
			if want := "see " + pub.origin + "/gateway/t/ws/x"; err != nil || string(msg) != want {
				t.Errorf("public %s: message %q %v, want %q", pub.url, msg, err, want)
			}
			c.Close()
		}
	}
}

// A public URL that is not an origin is refused when the proxy is built,
// with the reason (config.Validate says the same with the key's name).
func TestPublicURLRefused(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"ftp://gw.example.com", `scheme "ftp" is not http or https`},
		{"https://gw.example.com/knox", "a path prefix is not supported"},
		{"https://u:secret@gw.example.com", "has user info"},
		{"https://gw.example.com?x", "has a query"},
		{"https://gw.example.com#x", "has a fragment"},
		{"https://", "has no host"},
	} {
		_, err := proxy.New(proxy.Config{PublicURL: tc.url})
		if err == nil || !strings.Contains(err.Error(), "proxy: PublicURL: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.url, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: the error repeats the password: %v", tc.url, err)
		}
		if o, err := proxy.ParsePublicURL(tc.url); err == nil || o != "" {
			t.Errorf("ParsePublicURL(%s): %q, %v", tc.url, o, err)
		}
	}
}

// A public URL is written as a browser writes its origin (the Origin
// header CORS and the login page compare with it): scheme and host in
// lower case, the port without leading zeros and without the scheme's
// default.
func TestPublicURLOrigin(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"HTTPS://GW.Example.com:443/", "https://gw.example.com"},
		{"https://gw.example.com:0443", "https://gw.example.com"},
		{"http://gw.example.com:00080", "http://gw.example.com"},
		{"http://gw.example.com:08080", "http://gw.example.com:8080"},
		{"https://[::1]:08443", "https://[::1]:8443"},
		{"https://[2001:DB8:0:0::1]", "https://[2001:db8::1]"},
		{"http://0x7f.1:8080", "http://127.0.0.1:8080"},
		{"https://gw.example.com.", "https://gw.example.com"},
		// IPv4-mapped IPv6 stays IPv6, in hexadecimal, as a browser
		// writes it (new URL("https://[::ffff:192.0.2.1]:8443").origin).
		{"https://[::ffff:192.0.2.1]:8443", "https://[::ffff:c000:201]:8443"},
		{"https://[::FFFF:C000:0201]:443", "https://[::ffff:c000:201]"},
		{"http://[0:0:0:0:0:ffff:7f00:1]", "http://[::ffff:7f00:1]"},
		{"http://[::192.0.2.1]", "http://[::c000:201]"},
	} {
		if o, err := proxy.ParsePublicURL(tc.url); err != nil || o != tc.want {
			t.Errorf("ParsePublicURL(%s): %q, %v, want %s", tc.url, o, err, tc.want)
		}
	}
}
