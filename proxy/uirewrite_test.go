package proxy_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/securegw/gateway/internal/browsertest"
	"github.com/securegw/gateway/internal/topology"
)

// uiBackend serves a small YARN-like web UI whose pages link to the
// backend absolutely (http://BACKEND/…) and root-relatively (/static/…),
// gzip-compressed, with XHRs and fetches from scripts, a JSON API whose
// answers carry absolute URLs (plain, and with their slashes escaped as
// JSON encoders write them: "\/" and "\u002F"), an iframe whose srcdoc
// shows a backend image, a javascript: link, a redirect and a
// Content-Security-Policy; and a page (without a policy) whose onload and
// onclick handlers fetch from the backend, absolutely and root-relatively.
func uiBackend(t *testing.T) *backend {
	var self string
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		send := func(ct, body string) {
			h.Set("Content-Type", ct)
			if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
				h.Set("Content-Encoding", "gzip")
				zw := gzip.NewWriter(w)
				_, _ = io.WriteString(zw, body)
				_ = zw.Close()
				return
			}
			_, _ = io.WriteString(w, body)
		}
		switch r.URL.Path {
		case "/cluster":
			http.Redirect(w, r, self+"/cluster/apps", http.StatusFound)
		case "/", "/cluster/apps":
			h.Set("Content-Security-Policy", "default-src 'self' "+self+"; img-src 'self' data: "+self+"/static/")
			h.Set("Set-Cookie", "ui-session=1; Path=/; HttpOnly")
			send("text/html; charset=utf-8", `<!DOCTYPE html>
<html><head><title>Cluster</title>
<link rel="icon" href="/static/logo.svg">
<link rel="stylesheet" href="`+self+`/static/app.css">
<script src="/static/app.js"></script>
</head><body>
<h1>All Applications</h1>
<img id="logo" src="/static/logo.svg" alt="logo">
<a id="apps" href="/cluster/apps">Applications</a> <a href="`+self+`/cluster">Cluster</a>
<form action="/cluster/search"><input name="q"></form>
<div id="info">loading</div><div id="apps-list"></div><div id="app"></div><div id="links"></div>
<iframe id="doc" srcdoc="<img id=&quot;inner&quot; src=&quot;`+self+`/static/logo.svg&quot;>"></iframe>
<a id="js" href="javascript:location.href='`+self+`/cluster/apps'">reload</a>
</body></html>`)
		case "/cluster/handlers":
			send("text/html; charset=utf-8", `<!DOCTYPE html>
<html><head><title>Handlers</title><link rel="icon" href="/static/logo.svg"></head><body>
<div id="h">waiting</div>
<img id="hi" src="/static/logo.svg" onload="fetch('`+self+`/ws/v1/cluster/info').then(r => r.json()).then(j => { document.getElementById(&apos;h&apos;).textContent = j.clusterInfo.state })">
<button id="hb" onclick="fetch(&quot;/ws/v1/cluster/apps&quot;).then(r => r.json()).then(j => { document.getElementById('h').textContent += ' ' + j.apps[0].id })">apps</button>
</body></html>`)
		case "/static/app.css":
			send("text/css", `@import "/static/more.css"; body { background: url(`+self+`/static/bg.svg) }`)
		case "/static/more.css":
			send("text/css", `h1 { background-image: url('/static/bg.svg') }`)
		case "/static/bg.svg", "/static/logo.svg":
			h.Set("Content-Type", "image/svg+xml")
			_, _ = io.WriteString(w, `<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>`)
		case "/static/app.js":
			send("application/javascript", `
window.addEventListener("DOMContentLoaded", async () => {
  const info = await (await fetch("/ws/v1/cluster/info")).json();
  document.getElementById("info").textContent = info.clusterInfo.state;
  const x = new XMLHttpRequest();
  x.open("GET", "`+self+`/ws/v1/cluster/apps");
  x.onload = async () => {
    const apps = JSON.parse(x.responseText).apps;
    document.getElementById("apps-list").textContent = apps.map(a => a.id).join(",");
    const app = await (await fetch(apps[0].trackingUrl)).json();
    document.getElementById("app").textContent = app.app.state;
    const logs = await (await fetch(app.app.logsUrl)).json();
    const conf = await (await fetch(app.app.confUrl)).json();
    document.getElementById("links").textContent = logs.logs + " " + conf.conf;
    window.loaded = true;
  };
  x.send();
});`)
		case "/ws/v1/cluster/info":
			send("application/json", `{"clusterInfo":{"state":"STARTED","haState":"ACTIVE"}}`)
		case "/ws/v1/cluster/apps":
			send("application/json", `{"apps":[{"id":"application_1","trackingUrl":"`+self+`/ws/v1/cluster/apps/application_1"}]}`)
		case "/ws/v1/cluster/apps/application_1":
			send("application/json", `{"app":{"id":"application_1","state":"RUNNING",`+
				`"logsUrl":"`+strings.ReplaceAll(self, "/", `\/`)+`\/ws\/v1\/cluster\/apps\/application_1\/logs",`+
				`"confUrl":"`+strings.ReplaceAll(self, "/", `\u002F`)+`\u002Fws\u002Fv1\u002Fcluster\u002Fapps\u002Fapplication_1\u002Fconf"}}`)
		case "/ws/v1/cluster/apps/application_1/logs":
			send("application/json", `{"logs":"logs-ok"}`)
		case "/ws/v1/cluster/apps/application_1/conf":
			send("application/json", `{"conf":"conf-ok"}`)
		default:
			http.NotFound(w, r)
		}
	})
	self = b.URL
	return b
}

func uiTopology(backendURL string, params map[string]string) *topology.Topology {
	return topo("ui", topology.Service{Role: "YARNUI", Path: "yarn", URLs: []string{backendURL}, Params: params})
}

// A web UI through the gateway: links, scripts, stylesheets, images, XHRs
// and fetches all resolve under /gateway/ui/yarn/, bodies gzip-compressed
// by the backend included, and so do the redirect, the cookie's path and
// the Content-Security-Policy.
func TestUIRewriting(t *testing.T) {
	e := newEnv(t, proxyConfig())
	b := uiBackend(t)
	e.deploy(uiTopology(b.URL, nil))
	resp, body := e.get("/gateway/ui/yarn/", "Accept-Encoding", "gzip, br")
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	gw := e.fe.URL
	for _, want := range []string{
		`href="` + gw + `/gateway/ui/yarn/static/app.css"`,
		`<script src="/gateway/ui/yarn/static/app.js">`,
		`<a id="apps" href="/gateway/ui/yarn/cluster/apps">`,
		`<form action="/gateway/ui/yarn/cluster/search">`,
		"<h1>All Applications</h1>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s:\n%s", want, body)
		}
	}
	if strings.Contains(body, b.URL) {
		t.Errorf("page shows the backend %s:\n%s", b.URL, body)
	}
	if resp.Header.Get("Content-Encoding") != "" || resp.Header.Get("Content-Length") != "" {
		t.Errorf("rewritten body sent with Content-Encoding %q, Content-Length %q", resp.Header.Get("Content-Encoding"), resp.Header.Get("Content-Length"))
	}
	if got := b.last().Header.Get("Accept-Encoding"); got != "gzip, deflate" {
		t.Errorf("backend offered Accept-Encoding %q, want gzip, deflate (what the rewriter decodes)", got)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); csp != "default-src 'self' "+gw+"/gateway/ui/yarn; img-src 'self' data: "+gw+"/gateway/ui/yarn/static/" {
		t.Errorf("CSP %q", csp)
	}
	if ck := resp.Header.Get("Set-Cookie"); !strings.Contains(ck, "Path=/gateway/ui/yarn") {
		t.Errorf("Set-Cookie %q", ck)
	}
	_, css := e.get("/gateway/ui/yarn/static/app.css")
	if css != `@import "/gateway/ui/yarn/static/more.css"; body { background: url(`+gw+`/gateway/ui/yarn/static/bg.svg) }` {
		t.Errorf("CSS: %s", css)
	}
	_, js := e.get("/gateway/ui/yarn/ws/v1/cluster/apps")
	if js != `{"apps":[{"id":"application_1","trackingUrl":"`+gw+`/gateway/ui/yarn/ws/v1/cluster/apps/application_1"}]}` {
		t.Errorf("JSON: %s", js)
	}
	// Escaped slashes, as JSON encoders write them, are written back escaped.
	_, js = e.get("/gateway/ui/yarn/ws/v1/cluster/apps/application_1")
	for _, want := range []string{
		`"logsUrl":"` + strings.ReplaceAll(gw, "/", `\/`) + `\/gateway\/ui\/yarn\/ws\/v1\/cluster\/apps\/application_1\/logs"`,
		`"confUrl":"` + strings.ReplaceAll(gw, "/", `\u002F`) + `\u002Fgateway\u002Fui\u002Fyarn\u002Fws\u002Fv1\u002Fcluster\u002Fapps\u002Fapplication_1\u002Fconf"`,
	} {
		if !strings.Contains(js, want) {
			t.Errorf("JSON lacks %s: %s", want, js)
		}
	}
	// The page's srcdoc and javascript: link, rewritten.
	for _, want := range []string{
		`<iframe id="doc" srcdoc="&lt;img id=&#34;inner&#34; src=&#34;` + gw + `/gateway/ui/yarn/static/logo.svg&#34;&gt;">`,
		`<a id="js" href="javascript:location.href=&#39;` + gw + `/gateway/ui/yarn/cluster/apps&#39;">`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s:\n%s", want, body)
		}
	}
	// Event handlers are scripts: their string literals are rewritten.
	_, handlers := e.get("/gateway/ui/yarn/cluster/handlers")
	for _, want := range []string{
		`onload="fetch(&#39;` + gw + `/gateway/ui/yarn/ws/v1/cluster/info&#39;).then(r =&gt; r.json())`,
		`onclick="fetch(&#34;/gateway/ui/yarn/ws/v1/cluster/apps&#34;)`,
	} {
		if !strings.Contains(handlers, want) {
			t.Errorf("handlers page lacks %s:\n%s", want, handlers)
		}
	}
	if backend := strings.TrimPrefix(b.URL, "http://"); strings.Contains(js, backend) || strings.Contains(body, backend) || strings.Contains(handlers, backend) {
		t.Errorf("the backend %s shows through: %s\n%s", backend, js, body)
	}
	resp, _ = noRedirectGet(t, e, "/gateway/ui/yarn/cluster")
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || loc != gw+"/gateway/ui/yarn/cluster/apps" {
		t.Errorf("redirect %d %q", resp.StatusCode, loc)
	}
	// HEAD and images pass unchanged.
	if resp, body := e.get("/gateway/ui/yarn/static/logo.svg"); resp.Header.Get("Content-Length") == "" || !strings.HasPrefix(body, "<svg") {
		t.Errorf("image: %v %q", resp.Header, body)
	}
}

// A backend's WebSocket URL in a script or JSON answer becomes the
// gateway's, still a WebSocket URL: ws:// for a client on plain HTTP,
// wss:// behind a trusted TLS terminator; another host's stays.
func TestUIRewritingWebSocketURLs(t *testing.T) {
	var self string
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		host := strings.TrimPrefix(self, "http://")
		switch r.URL.Path {
		case "/app.js":
			w.Header().Set("Content-Type", "text/javascript")
			fmt.Fprintf(w, `new WebSocket("ws://%s/socket"); new WebSocket("WS://%s/b"); new WebSocket("wss://example.org/x")`, host, host)
		case "/conf":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"events":"ws:\/\/%s\/events"}`, host)
		}
	})
	self = b.URL
	e := newEnv(t, trustingConfig(true))
	e.deploy(uiTopology(b.URL, nil))
	gwHost := strings.TrimPrefix(e.fe.URL, "http://")
	tests := []struct {
		path  string
		proto string // X-Forwarded-Proto from the trusted TLS terminator
		want  string
	}{
		{"/app.js", "", `new WebSocket("ws://` + gwHost + `/gateway/ui/yarn/socket"); new WebSocket("ws://` + gwHost + `/gateway/ui/yarn/b"); new WebSocket("wss://example.org/x")`},
		{"/app.js", "https", `new WebSocket("wss://` + gwHost + `/gateway/ui/yarn/socket"); new WebSocket("wss://` + gwHost + `/gateway/ui/yarn/b"); new WebSocket("wss://example.org/x")`},
		{"/conf", "https", `{"events":"wss:\/\/` + gwHost + `\/gateway\/ui\/yarn\/events"}`},
	}
	for _, tt := range tests {
		var hdr []string
		if tt.proto != "" {
			hdr = []string{"X-Forwarded-Proto", tt.proto}
		}
		resp, body := e.get("/gateway/ui/yarn"+tt.path, hdr...)
		if resp.StatusCode != 200 || body != tt.want {
			t.Errorf("%s (proto %q): %d\ngot  %s\nwant %s", tt.path, tt.proto, resp.StatusCode, body, tt.want)
		}
	}
}

// A root-relative link with dot segments resolves, as in the browser, to
// the backend path it names, under the service: never to a gateway path
// outside it.
func TestUIRewritingDotSegments(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, `<a href="/a/../b">1</a><a href="/../../x?q=/../y">2</a><img src="/./i.png"><a href="/.well-known/z">3</a><a href="/a/.">4</a>`)
	})
	e := newEnv(t, proxyConfig())
	e.deploy(uiTopology(b.URL, nil))
	_, body := e.get("/gateway/ui/yarn/")
	want := `<a href="/gateway/ui/yarn/b">1</a><a href="/gateway/ui/yarn/x?q=/../y">2</a><img src="/gateway/ui/yarn/i.png"><a href="/gateway/ui/yarn/.well-known/z">3</a><a href="/gateway/ui/yarn/a/">4</a>`
	if body != want {
		t.Errorf("got  %s\nwant %s", body, want)
	}
}

func noRedirectGet(t *testing.T, e *env, path string) (*http.Response, string) {
	t.Helper()
	resp, err := noRedirect(e.fe.Client()).Get(e.fe.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// API roles keep their bodies: JSON paths like /tmp/data are data.
func TestAPIBodiesNotRewritten(t *testing.T) {
	e := newEnv(t, proxyConfig())
	b := uiBackend(t)
	e.deploy(topo("api", topology.Service{Role: "RESOURCEMANAGER", Path: "rm", URLs: []string{b.URL}}))
	_, body := e.get("/gateway/api/rm/ws/v1/cluster/apps")
	if !strings.Contains(body, `"trackingUrl":"`+b.URL+`/ws/v1`) {
		t.Fatalf("API body changed: %s", body)
	}
}

// A compressed body that expands like a zip bomb gets the client a 502,
// and the log says why.
func TestUIRewritingZipBomb(t *testing.T) {
	e := newEnv(t, proxyConfig())
	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	_, _ = zw.Write([]byte("<html><body>"))
	_, _ = zw.Write(make([]byte, 4<<20))
	_ = zw.Close()
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(bomb.Bytes())
	})
	e.deploy(uiTopology(b.URL, nil))
	resp, body := e.get("/gateway/ui/yarn/")
	if resp.StatusCode != http.StatusBadGateway || len(body) > 200 {
		t.Fatalf("%d, %d bytes; want 502", resp.StatusCode, len(body))
	}
	if !strings.Contains(e.logs.String(), "zip bomb") {
		t.Fatalf("log lacks the reason:\n%s", e.logs.String())
	}
}

// Rules from the topology: literal and pattern, per body kind; bad rules
// fail the deploy, naming the param.
func TestUIRewriteRules(t *testing.T) {
	e := newEnv(t, proxyConfig())
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/javascript")
		_, _ = io.WriteString(w, `go("cluster/app/1"); go("http://nm-7.internal:8042/logs");`)
	})
	e.deploy(uiTopology(b.URL, map[string]string{
		"rewrite.rule.app.from":     "cluster/app/",
		"rewrite.rule.app.to":       "/gateway/ui/yarn/cluster/app/",
		"rewrite.rule.app.types":    "js",
		"rewrite.rule.nm.pattern":   `^http://nm-(\d+)\.internal:8042/`,
		"rewrite.rule.nm.to":        "/gateway/ui/node$1/",
		"rewrite.rule.nm.types":     "js,html",
		"rewrite.max_bytes":         "1048576",
		"unrelated.param.untouched": "x",
	}))
	if _, body := e.get("/gateway/ui/yarn/x.js"); body != `go("/gateway/ui/yarn/cluster/app/1"); go("/gateway/ui/node7/logs");` {
		t.Fatalf("body %s", body)
	}
	for _, tt := range []struct {
		params map[string]string
		want   string
	}{
		{map[string]string{"rewrite.body": "maybe"}, `"rewrite.body": "maybe" is not true or false`},
		{map[string]string{"rewrite.rule.x.pattern": "(", "rewrite.rule.x.to": "y"}, `rewrite rule "x": pattern`},
		{map[string]string{"rewrite.rule.x.to": "y"}, `rewrite rule "x": give one of from`},
		{map[string]string{"rewrite.rule.x.from": "a", "rewrite.rule.x.pattern": "b"}, `rewrite rule "x": give one of from`},
		{map[string]string{"rewrite.rule.x.from": "a", "rewrite.rule.x.types": "pdf"}, `rewrite rule "x": types`},
		{map[string]string{"rewrite.rule.x.regex": "a"}, `unknown rule field "regex"`},
		{map[string]string{"rewrite.everything": "yes"}, `unknown rewrite param`},
		{map[string]string{"rewrite.max_bytes": "-1"}, `not a positive number`},
	} {
		_, err := e.p.Compile(context.Background(), uiTopology(b.URL, tt.params))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want %q", tt.params, err, tt.want)
		}
	}
	// rewrite.body turns rewriting on for any role, and off for a UI role.
	e.deploy(topo("on", topology.Service{Path: "x", URLs: []string{b.URL}, Params: map[string]string{"rewrite.body": "true", "rewrite.rule.a.from": "cluster/", "rewrite.rule.a.to": "/c/"}}))
	if _, body := e.get("/gateway/on/x/a.js"); !strings.Contains(body, `"/c/app/1"`) {
		t.Errorf("rewrite.body true: %s", body)
	}
	e.deploy(uiTopology(b.URL, map[string]string{"rewrite.body": "false"}))
	if _, body := e.get("/gateway/ui/yarn/a.js"); !strings.Contains(body, `"cluster/app/1"`) {
		t.Errorf("rewrite.body false: %s", body)
	}
}

// Headless Chromium loads the UI through the gateway completely (page,
// stylesheets, imported stylesheet, images, scripts, fetch and XHR,
// JSON-provided URLs, plain and with escaped slashes, an image in an
// iframe's srcdoc, a link click, a redirect, onload and onclick
// handlers) and not one request
// leaves the gateway's origin.
func TestUIInChromium(t *testing.T) {
	e := newEnv(t, proxyConfig())
	b := uiBackend(t)
	e.deploy(uiTopology(b.URL, nil))
	br := browsertest.New(t, browsertest.Options{})
	gw := e.fe.URL
	br.Navigate(gw + "/gateway/ui/yarn/")
	br.WaitFor("window.loaded === true")
	if got := br.Text("#info") + " " + br.Text("#apps-list") + " " + br.Text("#app") + " " + br.Text("#links"); got != "STARTED application_1 RUNNING logs-ok conf-ok" {
		t.Errorf("page shows %q", got)
	}
	if !browsertest.Eval[bool](br, `document.getElementById("logo").complete && document.getElementById("logo").naturalWidth > 0`) {
		t.Error("the logo did not load")
	}
	br.WaitFor(`(() => { const i = document.getElementById("doc").contentDocument?.getElementById("inner"); return !!i && i.complete && i.naturalWidth > 0 })()`)
	if bg := browsertest.Eval[string](br, `getComputedStyle(document.querySelector("h1")).backgroundImage`); !strings.Contains(bg, gw+"/gateway/ui/yarn/static/bg.svg") {
		t.Errorf("imported stylesheet not applied: h1 background %q", bg)
	}
	// A link, then a redirect the backend sends to its own absolute URL.
	browsertest.Eval[bool](br, `(document.getElementById("apps").click(), true)`)
	br.WaitFor(`location.pathname === "/gateway/ui/yarn/cluster/apps" && window.loaded === true`)
	br.Navigate(gw + "/gateway/ui/yarn/cluster")
	br.WaitFor(`location.pathname === "/gateway/ui/yarn/cluster/apps"`)
	// Event handlers: an image's onload, then a click's onclick.
	br.Navigate(gw + "/gateway/ui/yarn/cluster/handlers")
	br.WaitFor(`document.getElementById("h").textContent === "STARTED"`)
	browsertest.Eval[bool](br, `(document.getElementById("hb").click(), true)`)
	br.WaitFor(`document.getElementById("h").textContent === "STARTED application_1"`)

	stayedOnOrigin(t, br, gw)
	types := map[string]int{}
	for _, r := range br.Requests() {
		types[r.Type]++
	}
	for _, ty := range []string{"Document", "Stylesheet", "Script", "Image", "Fetch", "XHR"} {
		if types[ty] == 0 {
			t.Errorf("no %s request in %v", ty, types)
		}
	}
	if c := br.Console(); len(c) > 0 {
		t.Errorf("console: %v", c)
	}
	t.Log(fmt.Sprint(types))
}

// The gateway's origin in a rewritten link comes from the request's Host,
// whose valid bytes include quotes, parentheses, '&' and ';': a Host that
// is not a plain host name or address leaves the links paths on the
// gateway, so that it cannot end a script's string or a stylesheet's
// url() (in an SVG script, entities such as &quot; are decoded first) and
// add code for whoever gets that response (a shared cache).
func TestUIRewritingHostStaysOutOfBodies(t *testing.T) {
	var self string
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/app.js":
			w.Header().Set("Content-Type", "text/javascript")
			fmt.Fprintf(w, `var a = '%s/x'; var b = "%s/y";`, self, self)
		case "/app.css":
			w.Header().Set("Content-Type", "text/css")
			fmt.Fprintf(w, `a{background:url(%s/i.png)} b{content:'%s/j'}`, self, self)
		case "/svg":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, `<svg><script>var u = "%s/z";</script></svg>`, self)
		}
	})
	self = b.URL
	e := newEnv(t, proxyConfig())
	e.deploy(uiTopology(b.URL, nil))
	gwHost := strings.TrimPrefix(e.fe.URL, "http://")
	for _, tt := range []struct{ host, path, want string }{
		{"gw');alert(1);(", "/app.js", `var a = '/gateway/ui/yarn/x'; var b = "/gateway/ui/yarn/y";`},
		{"gw');alert(1);(", "/app.css", `a{background:url(/gateway/ui/yarn/i.png)} b{content:'/gateway/ui/yarn/j'}`},
		{"gw&quot;+alert(1)+&quot;", "/svg", `<svg><script>var u = "/gateway/ui/yarn/z";</script></svg>`},
		{gwHost, "/app.js", `var a = 'http://` + gwHost + `/gateway/ui/yarn/x'; var b = "http://` + gwHost + `/gateway/ui/yarn/y";`},
	} {
		req, _ := http.NewRequest(http.MethodGet, e.fe.URL+"/gateway/ui/yarn"+tt.path, nil)
		req.Host = tt.host
		resp, err := e.fe.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != tt.want {
			t.Errorf("%s with Host %s: %d\ngot  %s\nwant %s", tt.path, tt.host, resp.StatusCode, body, tt.want)
		}
	}
}

// A backend URL spelled otherwise than the topology spells it, but sent
// by a browser to the same scheme, host and port, is that backend's: host
// case, a trailing dot, a port with leading zeros or the default port
// spelled out, fullwidth or percent-encoded characters (UTS #46), and the
// numbers a browser reads as the backend's IPv4 address (127.1,
// 2130706433, 0x7f.1, 0177.0.0.1) or an IPv4-mapped IPv6 address. It is
// rewritten in a page and in a redirect's Location. A URL a browser sends
// elsewhere (another address, port or scheme, a longer name, a host a
// browser refuses) is left as it is.
func TestUIRewritingBackendSpellings(t *testing.T) {
	var spellings []string // the backend answers /page/N and /loc/N with spellings[N]; set before any request
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		var n int
		if _, err := fmt.Sscanf(r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:], "%d", &n); err != nil || n >= len(spellings) {
			http.NotFound(w, r)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/loc/") {
			w.Header().Set("Location", spellings[n])
			w.WriteHeader(http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<a href="%s">x</a>`, spellings[n])
	})
	port := b.Listener.Addr().(*net.TCPAddr).Port
	p := fmt.Sprint(port)
	e := newEnv(t, proxyConfig())
	e.deploy(topo("ui",
		topology.Service{Role: "YARNUI", Path: "yarn", URLs: []string{b.URL}},
		// Never asked: their URLs are only recognised in yarn's pages.
		topology.Service{Role: "HDFSUI", Path: "nn", URLs: []string{"http://namenode.example:9870"}},
		topology.Service{Role: "YARNUI", Path: "web", URLs: []string{"http://web.example"}},
		topology.Service{Role: "YARNUI", Path: "sec", URLs: []string{"https://Secure.Example.:0443"}},
	))
	gw := e.fe.URL
	gwHost := strings.TrimPrefix(gw, "http://")
	tests := []struct {
		spelling, want string // want "": unchanged
	}{
		{"http://127.0.0.1:" + p + "/x", gw + "/gateway/ui/yarn/x"},
		{"HTTP://127.0.0.1:" + p + "/x", gw + "/gateway/ui/yarn/x"},
		{"http://127.0.0.1.:" + p + "/x", gw + "/gateway/ui/yarn/x"},
		{"http://127.0.0.1:0" + p + "/x", gw + "/gateway/ui/yarn/x"},
		{"http://127.0.0.1:000" + p + "/x?q=1#f", gw + "/gateway/ui/yarn/x?q=1#f"},
		{"http://127.1:" + p + "/x", gw + "/gateway/ui/yarn/x"},
		{"http://127.0.1:" + p + "/x", gw + "/gateway/ui/yarn/x"},
		{"http://2130706433:" + p + "/x", gw + "/gateway/ui/yarn/x"},
		{"http://0x7f000001:" + p + "/x", gw + "/gateway/ui/yarn/x"},
		{"http://0x7F.1:" + p + "/x", gw + "/gateway/ui/yarn/x"},
		{"http://0177.0.0.1:" + p + "/x", gw + "/gateway/ui/yarn/x"},
		{"http://0x7f.0.0.1.:" + p + "/x", gw + "/gateway/ui/yarn/x"},
		{"http://[::ffff:127.0.0.1]:" + p + "/x", gw + "/gateway/ui/yarn/x"},
		{"http://[::ffff:7f00:1]:" + p + "/x", gw + "/gateway/ui/yarn/x"},
		{"http://１２７.０.０.１:" + p + "/x", gw + "/gateway/ui/yarn/x"},
		{"http://%EF%BC%91%EF%BC%92%EF%BC%97.0.0.1:" + p + "/x", gw + "/gateway/ui/yarn/x"},
		{"//127.1:" + p + "/x", gw + "/gateway/ui/yarn/x"},
		// As a browser reads the URL against the (http) gateway page or
		// request: backslashes as slashes, any number of slashes after
		// "http:" but one or none, which is a path on the gateway.
		{"http:///127.0.0.1:" + p + "/x", gw + "/gateway/ui/yarn/x"},
		{`\\127.0.0.1:` + p + "/x", gw + "/gateway/ui/yarn/x"},
		{`/\127.0.0.1:` + p + "/x", gw + "/gateway/ui/yarn/x"},
		{`http:\\127.0.0.1:` + p + `\x`, gw + "/gateway/ui/yarn/x"},
		{"HTTP:/127.0.0.1:" + p + "/x", "/gateway/ui/yarn/127.0.0.1:" + p + "/x"},
		{"http:127.0.0.1:" + p + "/x", ""},
		{"https:127.0.0.1:" + p + "/x", ""},
		{"http://NameNode.Example:9870/x", gw + "/gateway/ui/nn/x"},
		{"http://namenode.example.:9870/x", gw + "/gateway/ui/nn/x"},
		{"http://NAMENODE.EXAMPLE.:09870/x", gw + "/gateway/ui/nn/x"},
		{"http://ｎａｍｅｎｏｄｅ.example:9870/x", gw + "/gateway/ui/nn/x"},
		{"http://namenode。example:9870/x", gw + "/gateway/ui/nn/x"},
		{"http://web.example/x", gw + "/gateway/ui/web/x"},
		{"http://web.example:80/x", gw + "/gateway/ui/web/x"},
		{"http://web.example:080/x", gw + "/gateway/ui/web/x"},
		{"http://web.example.:/x", gw + "/gateway/ui/web/x"},
		{"https://secure.example/x", gw + "/gateway/ui/sec/x"},
		{"https://SECURE.example:443/x", gw + "/gateway/ui/sec/x"},
		// Elsewhere.
		{"http://127.0.0.2:" + p + "/x", ""},
		{"http://127.0.0.1:" + fmt.Sprint(port+1) + "/x", ""},
		{"https://127.0.0.1:" + p + "/x", ""},
		{"http://127.0.0.1.example:" + p + "/x", ""},
		{"http://[::1]:" + p + "/x", ""},
		{"http://[::127.0.0.1]:" + p + "/x", ""},
		{"http://namenode.example:9871/x", ""},
		{"http://namenode.example..:9870/x", ""},
		{"http://namenode.example.org:9870/x", ""},
		{"http://web.example:8080/x", ""},
		{"http://secure.example/x", ""},
		// Refused by browsers: they load nothing.
		{"http://127.0.0.1.1:" + p + "/x", ""},
		{"http://0x7f.0x100.1:" + p + "/x", ""},
	}
	for _, tt := range tests {
		spellings = append(spellings, tt.spelling)
	}
	spellings = append(spellings, "ws://0x7f.1:"+p+"/socket")
	for i, tt := range tests {
		want := tt.want
		if want == "" {
			want = tt.spelling
		}
		_, body := e.get(fmt.Sprintf("/gateway/ui/yarn/page/%d", i))
		if wantBody := `<a href="` + want + `">x</a>`; body != wantBody {
			t.Errorf("page with %s:\ngot  %s\nwant %s", tt.spelling, body, wantBody)
		}
		resp, _ := noRedirectGet(t, e, fmt.Sprintf("/gateway/ui/yarn/loc/%d", i))
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || loc != want {
			t.Errorf("redirect to %s: %d, Location %q, want %q", tt.spelling, resp.StatusCode, loc, want)
		}
	}
	// A WebSocket URL so spelled stays one.
	if _, body := e.get(fmt.Sprintf("/gateway/ui/yarn/page/%d", len(spellings)-1)); body != `<a href="ws://`+gwHost+`/gateway/ui/yarn/socket">x</a>` {
		t.Errorf("WebSocket URL: %s", body)
	}
}

// What Chromium loads from a page that names its backend (127.0.0.1) in
// other spellings (numbers, a trailing dot, a port with leading zeros) and
// from SVG content (an @import with a character reference in an SVG
// <style>, a background in one, an <img> breaking out of one): every
// request stays on the gateway's origin, and every resource arrives.
func TestUISpellingsInChromium(t *testing.T) {
	var page string
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, page)
		case "/static/logo.svg", "/static/bg.svg":
			w.Header().Set("Content-Type", "image/svg+xml")
			_, _ = io.WriteString(w, `<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>`)
		case "/static/svg.css":
			w.Header().Set("Content-Type", "text/css")
			_, _ = io.WriteString(w, `h1 { color: rgb(1, 2, 3) }`)
		default:
			http.NotFound(w, r)
		}
	})
	p := fmt.Sprint(b.Listener.Addr().(*net.TCPAddr).Port)
	page = `<!DOCTYPE html><html><head><title>spellings</title><link rel="icon" href="/static/logo.svg"></head><body><h1>UI</h1>
<img id="n1" src="http://2130706433:` + p + `/static/logo.svg">
<img id="n2" src="http://0x7f.1:` + p + `/static/logo.svg">
<img id="n3" src="http://127.1:` + p + `/static/logo.svg">
<img id="n4" src="http://127.0.0.1.:0` + p + `/static/logo.svg">
<svg width="1" height="1"><style>@import url(http&#58;//127.0.0.1:` + p + `/static/svg.css);
#bg { background-image: url(&quot;http://0177.0.0.1:` + p + `/static/bg.svg&quot;) }</style></svg>
<div id="bg">bg</div>
<svg width="1" height="1"><style/><img id="n5" src=http://127.0.0.1:` + p + `/static/logo.svg></svg>
</body></html>`
	e := newEnv(t, proxyConfig())
	e.deploy(uiTopology(b.URL, nil))
	br := browsertest.New(t, browsertest.Options{})
	gw := e.fe.URL
	br.Navigate(gw + "/gateway/ui/yarn/")
	br.WaitFor(`[...document.images].every(i => i.complete) && document.images.length === 5`)
	for _, id := range []string{"n1", "n2", "n3", "n4", "n5"} {
		if !browsertest.Eval[bool](br, `document.getElementById("`+id+`").naturalWidth > 0`) {
			t.Errorf("image %s did not load: %s", id, browsertest.Eval[string](br, `document.getElementById("`+id+`").src`))
		}
	}
	br.WaitFor(`getComputedStyle(document.querySelector("h1")).color === "rgb(1, 2, 3)"`)
	br.WaitFor(`performance.getEntriesByType("resource").some(e => e.name.endsWith("/static/bg.svg"))`)
	stayedOnOrigin(t, br, gw)
}

// stayedOnOrigin fails t when a request the browser made left origin or
// failed (a network error, or a status of 400 and above).
func stayedOnOrigin(t *testing.T, br *browsertest.Browser, origin string) {
	t.Helper()
	if foreign := br.ForeignRequests(origin); len(foreign) > 0 {
		t.Errorf("%s: requests left the gateway's origin: %v", origin, foreign)
	}
	for _, r := range br.Requests() {
		if r.Failed != "" || r.Status >= 400 {
			t.Errorf("%s: request failed: %v", origin, r)
		}
	}
}

// A backend named in a script's, a JSON answer's or a stylesheet's string
// in a spelling a browser reads as the backend's URL (backslashes for
// slashes, slashes missing or too many, tabs, line breaks and spaces in
// it, the scheme in capitals) is rewritten as the browser reads it
// against the page's gateway URL: "http:HOST/x" and "http:/HOST/x" are
// the backend's on an https page (behind a trusted TLS terminator), and
// on an http page a relative path and a root-relative one (mapped under
// the service as "/x" is).
func TestUIRewritingStringSpellings(t *testing.T) {
	var host string // the backend's host:port; set before any request
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/app.js":
			w.Header().Set("Content-Type", "text/javascript")
			for _, s := range []string{`"http:\\\\%s/a"`, `'http:%s/b'`, `"http:/%s/c"`, `"HTTP://%s/d"`, `"\\\\%s/e"`,
				`"http:///%s/f"`, `" \n http://%s/g"`, "`ht\ttp://%s/h`", `"ws:%s/socket"`, `"http:\\%s/i"`} {
				fmt.Fprintf(w, s+"\n", host)
			}
		case "/conf":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"a":"http:\\\\%s\/j","b":"http:\/%s\/k"}`, host, host)
		case "/app.css":
			w.Header().Set("Content-Type", "text/css")
			fmt.Fprintf(w, `a{b:url(http:/\\%s/l)} c{d:url("http:%s/m")}`, host, host)
		}
	})
	host = strings.TrimPrefix(b.URL, "http://")
	e := newEnv(t, trustingConfig(true))
	e.deploy(uiTopology(b.URL, nil))
	gwHost := strings.TrimPrefix(e.fe.URL, "http://")
	for _, proto := range []string{"http", "https"} {
		g := proto + "://" + gwHost + "/gateway/ui/yarn"
		var want map[string]string
		if proto == "http" {
			want = map[string]string{
				"/app.js": `"` + g + `/a"` + "\n" + `'http:` + host + `/b'` + "\n" + `"/gateway/ui/yarn/` + host + `/c"` + "\n" +
					`"` + g + `/d"` + "\n" + `"` + g + `/e"` + "\n" + `"` + g + `/f"` + "\n" + `"` + g + `/g"` + "\n" +
					"`" + g + "/h`\n" + `"ws://` + gwHost + `/gateway/ui/yarn/socket"` + "\n" + `"/gateway/ui/yarn/` + host + `/i"` + "\n",
				"/conf":    `{"a":"` + strings.ReplaceAll(g, "/", `\/`) + `\/j","b":"http:\/` + host + `\/k"}`,
				"/app.css": `a{b:url(` + g + `/l)} c{d:url("http:` + host + `/m")}`,
			}
		} else {
			want = map[string]string{
				"/app.js": `"` + g + `/a"` + "\n" + `'` + g + `/b'` + "\n" + `"` + g + `/c"` + "\n" +
					`"` + g + `/d"` + "\n" + `"` + g + `/e"` + "\n" + `"` + g + `/f"` + "\n" + `"` + g + `/g"` + "\n" +
					"`" + g + "/h`\n" + `"wss://` + gwHost + `/gateway/ui/yarn/socket"` + "\n" + `"` + g + `/i"` + "\n",
				"/conf":    `{"a":"` + strings.ReplaceAll(g, "/", `\/`) + `\/j","b":"` + strings.ReplaceAll(g, "/", `\/`) + `\/k"}`,
				"/app.css": `a{b:url(` + g + `/l)} c{d:url("` + g + `/m")}`,
			}
		}
		for _, path := range []string{"/app.js", "/conf", "/app.css"} {
			resp, body := e.get("/gateway/ui/yarn"+path, "X-Forwarded-Proto", proto)
			if resp.StatusCode != 200 || body != want[path] {
				t.Errorf("%s on an %s page: %d\ngot  %s\nwant %s", path, proto, resp.StatusCode, body, want[path])
			}
		}
	}
}

// What Chromium fetches from a page whose script names its backend
// (127.0.0.1) in spellings it reads as the backend's URL, on a page served
// over http and over https (a trusted TLS terminator in front): every
// fetch stays on the gateway's origin and arrives. On the http page
// "http:/static/a.txt" is the gateway's /static/a.txt, mapped under the
// service, and "http:static/a.txt" a relative path, left as it is.
func TestUIStringSpellingsInChromium(t *testing.T) {
	var page string
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, page)
		case "/static/a.txt":
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "a")
		default:
			http.NotFound(w, r)
		}
	})
	h := strings.TrimPrefix(b.URL, "http://")
	common := []string{`"http:\\\\` + h + `/static/a.txt"`, `"\\\\` + h + `/static/a.txt"`, `"/\\` + h + `/static/a.txt"`,
		`"http:///` + h + `/static/a.txt"`, `" \n http://` + h + `/static/a.txt"`, `"ht\ttp://` + h + `/static/a.txt"`,
		`"HTTP://` + h + `/static/a.txt"`}
	e := newEnv(t, trustingConfig(true))
	e.deploy(uiTopology(b.URL, nil))
	gw, err := url.Parse(e.fe.URL)
	if err != nil {
		t.Fatal(err)
	}
	lb := httptest.NewTLSServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(gw)
		r.SetXForwarded()
	}})
	t.Cleanup(lb.Close)
	for _, tt := range []struct {
		origin    string
		spellings []string
	}{
		{e.fe.URL, append([]string{`"http:/static/a.txt"`, `"http:static/a.txt"`}, common...)},
		{lb.URL, append([]string{`"http:` + h + `/static/a.txt"`, `"http:/` + h + `/static/a.txt"`}, common...)},
	} {
		page = `<!DOCTYPE html><html><head><title>strings</title><link rel="icon" href="data:,"></head><body><script>
Promise.all([` + strings.Join(tt.spellings, ", ") + `].map(s => fetch(s).then(r => r.text(), e => "failed: " + e)))
	.then(r => { window.results = r; });
</script></body></html>`
		br := browsertest.New(t, browsertest.Options{AcceptCerts: true})
		br.Navigate(tt.origin + "/gateway/ui/yarn/")
		br.WaitFor(`window.results !== undefined`)
		for i, got := range browsertest.Eval[[]string](br, `window.results`) {
			if got != "a" {
				t.Errorf("%s: fetch(%s): %q", tt.origin, tt.spellings[i], got)
			}
		}
		stayedOnOrigin(t, br, tt.origin)
	}
}
