package rewrite

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// testMap maps what the proxy would for a service at /gateway/t/ui with
// backend http://ui.internal:8088 and another service's backend
// http://api.internal:9000 at /gateway/t/api; http://hidden.internal is a
// backend origin no service covers.
func testMap(link string) (string, bool) {
	u, err := url.Parse(link)
	if err != nil {
		return link, true
	}
	switch {
	case u.Host == "" && strings.HasPrefix(link, "/") && !strings.HasPrefix(link, "//"):
		return "/gateway/t/ui" + link, true
	case u.Host == "ui.internal:8088":
		return "https://gw.example/gateway/t/ui" + u.RequestURI(), true
	case u.Host == "api.internal:9000":
		return "https://gw.example/gateway/t/api" + u.RequestURI(), true
	case u.Host == "hidden.internal":
		return "", false
	}
	return link, true
}

func rewriteAll(t *testing.T, k Kind, enc string, body []byte, o *Options) (string, error) {
	t.Helper()
	if o == nil {
		o = &Options{}
	}
	if o.Map == nil {
		o.Map = testMap
	}
	r, err := NewReader(io.NopCloser(bytes.NewReader(body)), k, enc, o)
	if err != nil {
		return "", err
	}
	if err := r.Prime(); err != nil {
		return "", err
	}
	// One byte at a time: every chunk boundary is exercised (small bodies).
	var rd io.Reader = r
	if len(body) < 64<<10 {
		rd = iotest.OneByteReader(r)
	}
	out, err := io.ReadAll(rd)
	return string(out), err
}

func TestRewrite(t *testing.T) {
	tests := []struct {
		name string
		kind Kind
		in   string
		want string
	}{
		{"html links", KindHTML,
			`<!DOCTYPE html><html><head><link rel="stylesheet" href="/static/app.css"><script src="http://ui.internal:8088/static/app.js"></script></head>` +
				`<body><a href="/cluster/apps?state=RUNNING">apps</a> <a href="relative/x">rel</a> <a href="https://example.org/">ext</a>` +
				`<img src="//ui.internal:8088/logo.png" srcset="/a.png 1x, /b.png 2x"><form action="/submit"></form>` +
				`<a href="http://api.internal:9000/v1">api</a><a href='http://hidden.internal/x'>h</a></body></html>`,
			`<!DOCTYPE html><html><head><link rel="stylesheet" href="/gateway/t/ui/static/app.css"><script src="https://gw.example/gateway/t/ui/static/app.js"></script></head>` +
				`<body><a href="/gateway/t/ui/cluster/apps?state=RUNNING">apps</a> <a href="relative/x">rel</a> <a href="https://example.org/">ext</a>` +
				`<img src="https://gw.example/gateway/t/ui/logo.png" srcset="/gateway/t/ui/a.png 1x, /gateway/t/ui/b.png 2x"><form action="/gateway/t/ui/submit"></form>` +
				`<a href="https://gw.example/gateway/t/api/v1">api</a><a href="about:blank">h</a></body></html>`},
		{"html untouched bytes stay", KindHTML,
			"<P CLASS=x>Caf\xc3\xa9 &amp; <b>bold</B><!-- /comment -->\n<br/></P>",
			"<P CLASS=x>Caf\xc3\xa9 &amp; <b>bold</B><!-- /comment -->\n<br/></P>"},
		{"inline style and script", KindHTML,
			`<style>body{background:url(/img/bg.png)}</style><div style="background: url('/img/x.png')"></div>` +
				`<script>fetch("/ws/v1/cluster/info").then(r=>r); var a='http://ui.internal:8088/x'; // it's "/not a link</script>` +
				`<script type="application/ld+json">{"u":"/kept"}</script>`,
			`<style>body{background:url(/gateway/t/ui/img/bg.png)}</style><div style="background: url(&#39;/gateway/t/ui/img/x.png&#39;)"></div>` +
				`<script>fetch("/gateway/t/ui/ws/v1/cluster/info").then(r=>r); var a='https://gw.example/gateway/t/ui/x'; // it's "/not a link</script>` +
				`<script type="application/ld+json">{"u":"/kept"}</script>`},
		{"meta refresh", KindHTML,
			`<meta http-equiv="refresh" content="0; url=/cluster">`,
			`<meta http-equiv="refresh" content="0; url=/gateway/t/ui/cluster">`},
		{"css", KindCSS,
			"@import \"/base.css\";\n.a{background:URL( \"/img/a.png\" )} .b{background:url(http://ui.internal:8088/b.png)} .c{font-family:'Helvetica'} /* url(x) */",
			"@import \"/gateway/t/ui/base.css\";\n.a{background:URL( \"/gateway/t/ui/img/a.png\" )} .b{background:url(https://gw.example/gateway/t/ui/b.png)} .c{font-family:'Helvetica'} /* url(x) */"},
		{"js", KindJS,
			"var u = \"/ws/v1/cluster\", t = `/proxy/${id}/`, e = 'it\\'s', x = \"http:\\/\\/ui.internal:8088\\/a\"; // don't\nvar r = /ab/g; var d = 2 / 3;",
			"var u = \"/gateway/t/ui/ws/v1/cluster\", t = `/gateway/t/ui/proxy/${id}/`, e = 'it\\'s', x = \"https:\\/\\/gw.example\\/gateway\\/t\\/ui\\/a\"; // don't\nvar r = /ab/g; var d = 2 / 3;"},
		{"websocket urls", KindJS,
			`new WebSocket("ws://hidden.internal/s"); new WebSocket('WSS://hidden.internal/t'); new WebSocket("wss://ui.internal:8088/u")`,
			`new WebSocket("about:blank"); new WebSocket('about:blank'); new WebSocket("https://gw.example/gateway/t/ui/u")`},
		{"json", KindJSON,
			`{"trackingUrl":"http://ui.internal:8088/proxy/app_1/","path":"/tmp/data","note":"it's","n":1}`,
			`{"trackingUrl":"https://gw.example/gateway/t/ui/proxy/app_1/","path":"/tmp/data","note":"it's","n":1}`},
	}
	for _, tt := range tests {
		// Options.RootPrefix (the gateway's path for a service served from
		// its backends' root) gives what the Mapper gives.
		for _, root := range []string{"", "/gateway/t/ui"} {
			t.Run(tt.name+" root prefix "+root, func(t *testing.T) {
				got, err := rewriteAll(t, tt.kind, "", []byte(tt.in), &Options{RootPrefix: root})
				if err != nil {
					t.Fatal(err)
				}
				if got != tt.want {
					t.Errorf("got\n%s\nwant\n%s", got, tt.want)
				}
			})
		}
	}
}

func compress(t *testing.T, enc string, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	switch enc {
	case "gzip":
		w = gzip.NewWriter(&buf)
	case "deflate":
		w = zlib.NewWriter(&buf)
	case "raw-deflate":
		w, _ = flate.NewWriter(&buf, flate.DefaultCompression)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return buf.Bytes()
}

func TestCompressedBodies(t *testing.T) {
	page := []byte(strings.Repeat(`<p><a href="/x">x</a></p>`, 2000))
	want := strings.Repeat(`<p><a href="/gateway/t/ui/x">x</a></p>`, 2000)
	for _, enc := range []string{"gzip", "deflate", "raw-deflate"} {
		t.Run(enc, func(t *testing.T) {
			header := enc
			if enc == "raw-deflate" {
				header = "deflate"
			}
			got, err := rewriteAll(t, KindHTML, header, compress(t, enc, page), nil)
			if err != nil || got != want {
				t.Fatalf("%d bytes, %v", len(got), err)
			}
		})
	}
	if _, err := NewReader(io.NopCloser(strings.NewReader("x")), KindHTML, "br", &Options{Map: testMap}); !errors.Is(err, ErrEncoding) {
		t.Errorf("br: %v, want ErrEncoding", err)
	}
	if _, err := NewReader(io.NopCloser(strings.NewReader("not gzip")), KindHTML, "gzip", &Options{Map: testMap}); err == nil {
		t.Error("a body that is not gzip was accepted")
	}
}

// A zip bomb is found by Prime, before anything is sent; a body over the
// limit ends the stream with ErrTooLarge.
func TestBounds(t *testing.T) {
	bomb := compress(t, "gzip", make([]byte, 8<<20)) // 8 MiB of zeros in 8 KiB
	for _, k := range []Kind{KindHTML, KindCSS, KindJSON} {
		r, err := NewReader(io.NopCloser(bytes.NewReader(bomb)), k, "gzip", &Options{Map: testMap})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Prime(); !errors.Is(err, ErrBomb) {
			t.Fatalf("kind %d: Prime = %v, want ErrBomb", k, err)
		}
	}
	// Not a bomb, but over MaxBytes.
	big := []byte(strings.Repeat("a{b:c}\n", 20000))
	_, err := rewriteAll(t, KindCSS, "", big, &Options{MaxBytes: 1 << 16})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over MaxBytes: %v, want ErrTooLarge", err)
	}
	// Exactly the limit passes.
	if got, err := rewriteAll(t, KindCSS, "", big[:1<<16], &Options{MaxBytes: 1 << 16}); err != nil || len(got) != 1<<16 {
		t.Fatalf("at MaxBytes: %d, %v", len(got), err)
	}
}

// HTML built to break a tokenizer: it either rewrites what can be
// rewritten or ends with a clear error, in bounded memory.
func TestHostileHTML(t *testing.T) {
	t.Run("huge attribute", func(t *testing.T) {
		in := `<a href="/x" title="` + strings.Repeat("A", 512<<10) + `">`
		_, err := rewriteAll(t, KindHTML, "", []byte(in), &Options{MaxToken: 256 << 10})
		if !errors.Is(err, ErrTokenTooLarge) {
			t.Fatalf("%v, want ErrTokenTooLarge", err)
		}
	})
	t.Run("deep nesting", func(t *testing.T) {
		in := strings.Repeat("<div>", 20000) + `<a href="/deep">` + strings.Repeat("</div>", 20000)
		got, err := rewriteAll(t, KindHTML, "", []byte(in), nil)
		if err != nil || !strings.Contains(got, `href="/gateway/t/ui/deep"`) || len(got) != len(in)+len("/gateway/t/ui") {
			t.Fatalf("%d bytes, %v", len(got), err)
		}
	})
	t.Run("unclosed tags and quotes", func(t *testing.T) {
		for _, in := range []string{`<a href="/x`, `<a href=/x`, `<script>var a = "/x`, `<style>a{b:url(/x`, `<!-- <a href="/x">`, `<a href="/x"><b><i>`, `<`, `<a `} {
			if _, err := rewriteAll(t, KindHTML, "", []byte(in), nil); err != nil {
				t.Errorf("%q: %v", in, err)
			}
		}
		got, _ := rewriteAll(t, KindHTML, "", []byte(`<a href="/x"><b><i>`), nil)
		if got != `<a href="/gateway/t/ui/x"><b><i>` {
			t.Errorf("got %q", got)
		}
	})
	t.Run("invalid UTF-8", func(t *testing.T) {
		in := "<p>\xff\xfe\xc3</p><a href=\"/\xffx\">\x80</a>"
		got, err := rewriteAll(t, KindHTML, "", []byte(in), nil)
		if err != nil || !strings.HasPrefix(got, "<p>\xff\xfe\xc3</p><a href=\"/gateway/t/ui/") {
			t.Fatalf("%q, %v", got, err)
		}
	})
}

// Every attribute the rewriter maps is found in a tag written in lower
// case with nothing else that hints at a link (the pre-scan that skips
// tags without links must not skip one of these).
func TestLinkAttributes(t *testing.T) {
	type tc struct{ in, want string }
	var tests []tc
	for _, k := range slices.Sorted(maps.Keys(urlAttrs)) {
		tests = append(tests,
			tc{`<x ` + k + `="/a">`, `<x ` + k + `="/gateway/t/ui/a">`},
			tc{`<x ` + k + `="http://hidden.internal/a">`, `<x ` + k + `="about:blank">`})
	}
	tests = append(tests,
		tc{`<img srcset="/a 1x">`, `<img srcset="/gateway/t/ui/a 1x">`},
		tc{`<link rel=preload as=image imagesrcset="/a 1x, http://hidden.internal/b 2x">`, `<link rel="preload" as="image" imagesrcset="/gateway/t/ui/a 1x, about:blank 2x">`},
		tc{`<a ping="/p http://hidden.internal/t https://example.org/t">`, `<a ping="/gateway/t/ui/p about:blank https://example.org/t">`},
		tc{`<p style="b:url(/a)">`, `<p style="b:url(/gateway/t/ui/a)">`},
		tc{`<meta http-equiv=refresh content="0;url=/a">`, `<meta http-equiv="refresh" content="0;url=/gateway/t/ui/a">`})
	for _, tt := range tests {
		for _, root := range []string{"", "/gateway/t/ui"} {
			got, err := rewriteAll(t, KindHTML, "", []byte(tt.in), &Options{RootPrefix: root})
			if err != nil || got != tt.want {
				t.Errorf("%s (root prefix %q): got %s (%v), want %s", tt.in, root, got, err, tt.want)
			}
		}
	}
}

// A URL attribute is mapped as a browser reads it: spaces and control
// characters around it and tabs and line breaks in it dropped, a
// backslash before the query a slash, http: and https: naming a host
// without "//". What maps to nothing else is left as it came.
func TestBrowserURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"<a href=\"\n    /cluster/apps\n  \">", `<a href="/gateway/t/ui/cluster/apps">`},
		{`<a href=" http://hidden.internal/x">`, `<a href="about:blank">`},
		{"<a href=\"&#9;http://hidden.internal/x\x0b\">", `<a href="about:blank">`},
		{`<a href="/&#9;/hidden.internal/x">`, `<a href="about:blank">`},
		{`<a href="ht&#10;tp://ui.internal:8088/x">`, `<a href="https://gw.example/gateway/t/ui/x">`},
		{`<a href="\\hidden.internal\x">`, `<a href="about:blank">`},
		{`<a href="/\hidden.internal/x">`, `<a href="about:blank">`},
		{`<a href="http:\\hidden.internal\x">`, `<a href="about:blank">`},
		{`<a href="HTTP:/hidden.internal/x">`, `<a href="about:blank">`},
		{`<a href="https:hidden.internal/x">`, `<a href="about:blank">`},
		{`<a href="http:ui.internal:8088/x?a=1">`, `<a href="https://gw.example/gateway/t/ui/x?a=1">`},
		{`<a href="/a\b?q=c\d#e\f">`, `<a href="/gateway/t/ui/a/b?q=c\d#e\f">`},
		{`<img srcset="\\hidden.internal/a.png 1x, /b.png 2x">`, `<img srcset="about:blank 1x, /gateway/t/ui/b.png 2x">`},
		{`<meta http-equiv=refresh content="0; url=http:\\hidden.internal/">`, `<meta http-equiv="refresh" content="0; url=about:blank">`},
		// The refresh URL as browsers find it: "url" in any case, spaces
		// around "=", or no "url=" at all; quotes kept.
		{`<meta http-equiv=refresh content="0; URL = /a">`, `<meta http-equiv="refresh" content="0; URL = /gateway/t/ui/a">`},
		{`<meta http-equiv=refresh content="5, http://hidden.internal/x">`, `<meta http-equiv="refresh" content="5, about:blank">`},
		{`<meta http-equiv=refresh content="0;/a">`, `<meta http-equiv="refresh" content="0;/gateway/t/ui/a">`},
		{`<meta http-equiv=refresh content="0; url='/a' ">`, `<meta http-equiv="refresh" content="0; url=&#39;/gateway/t/ui/a&#39; ">`},
		{`<meta http-equiv=refresh content="30">`, `<meta http-equiv=refresh content="30">`},
		// Nothing to map: as it came.
		{`<a href=" https://example.org/ ">x</a>`, `<a href=" https://example.org/ ">x</a>`},
		{`<a href="http:example.org/">x</a>`, `<a href="http:example.org/">x</a>`},
		{`<a href="javascript:void(0)">x</a><a href="mailto:a\b">y</a>`, `<a href="javascript:void(0)">x</a><a href="mailto:a\b">y</a>`},
		{`<a href="a\b">x</a>`, `<a href="a\b">x</a>`},
	}
	for _, tt := range tests {
		for _, root := range []string{"", "/gateway/t/ui"} {
			got, err := rewriteAll(t, KindHTML, "", []byte(tt.in), &Options{RootPrefix: root})
			if err != nil || got != tt.want {
				t.Errorf("%q (root prefix %q):\ngot  %s (%v)\nwant %s", tt.in, root, got, err, tt.want)
			}
		}
	}
}

func TestRules(t *testing.T) {
	o := &Options{Rules: []Rule{
		{Name: "cluster", From: "cluster/app/", To: "/gateway/t/yarn/cluster/app/", Kinds: KindJS | KindHTML},
		{Name: "host", Pattern: regexp.MustCompile(`^http://nm-(\d+)\.internal:8042/`), To: "/gateway/t/node$1/"},
	}}
	got, err := rewriteAll(t, KindJS, "", []byte(`a("cluster/app/1"); b("http://nm-7.internal:8042/logs")`), o)
	if err != nil || got != `a("/gateway/t/yarn/cluster/app/1"); b("/gateway/t/node7/logs")` {
		t.Fatalf("%q, %v", got, err)
	}
	// A rule for the kind comes before RootPrefix; a path no rule takes
	// still gets the prefix.
	o.RootPrefix = "/gateway/t/ui"
	got, err = rewriteAll(t, KindHTML, "", []byte(`<a href="cluster/app/2">x</a><a href="/static/a.css">y</a>`), o)
	if err != nil || got != `<a href="/gateway/t/yarn/cluster/app/2">x</a><a href="/gateway/t/ui/static/a.css">y</a>` {
		t.Fatalf("%q, %v", got, err)
	}
	o.Rules = append(o.Rules, Rule{Name: "static", From: "/static/", To: "/gateway/t/assets/", Kinds: KindHTML})
	got, _ = rewriteAll(t, KindHTML, "", []byte(`<a href="/static/a.css">y</a><img src="/logo.png">`), o)
	if got != `<a href="/gateway/t/assets/a.css">y</a><img src="/gateway/t/ui/logo.png">` {
		t.Fatalf("rule before RootPrefix: %q", got)
	}
	o.Rules, o.RootPrefix = o.Rules[:2], ""
	// Kinds restrict a rule: not applied to JSON.
	got, _ = rewriteAll(t, KindJSON, "", []byte(`{"a":"cluster/app/1"}`), o)
	if got != `{"a":"cluster/app/1"}` {
		t.Errorf("JSON: %q", got)
	}
	if k, err := ParseKinds("html, JS"); err != nil || k != KindHTML|KindJS {
		t.Errorf("ParseKinds = %v, %v", k, err)
	}
	for _, bad := range []string{"", "xml", "html,,pdf"} {
		if _, err := ParseKinds(bad); err == nil {
			t.Errorf("ParseKinds(%q) accepted", bad)
		}
	}
}

func TestKindOf(t *testing.T) {
	for ct, want := range map[string]Kind{
		"text/html; charset=utf-8": KindHTML, "TEXT/CSS": KindCSS, "application/javascript": KindJS,
		"text/javascript;charset=UTF-8": KindJS, "application/json": KindJSON, "application/vnd.api+json": KindJSON,
	} {
		if k, ok := KindOf(ct); !ok || k != want {
			t.Errorf("%s: %v %t", ct, k, ok)
		}
	}
	for _, ct := range []string{"image/png", "application/octet-stream", "", "text/plain"} {
		if _, ok := KindOf(ct); ok {
			t.Errorf("%q would be rewritten", ct)
		}
	}
}

// Options.RootPrefix takes plain root-relative paths itself; anything
// else (another host, an escaped or fragment path, JSON data) is the
// Mapper's, which here keeps every link.
func TestRootPrefix(t *testing.T) {
	keep := func(link string) (string, bool) { return link, true }
	tests := []struct {
		kind    Kind
		in, out string
	}{
		{KindHTML, `<a href="/x/y?q=1">a</a>`, `<a href="/p/x/y?q=1">a</a>`},
		{KindHTML, `<img src="//cdn.example/i.png">`, `<img src="//cdn.example/i.png">`},
		{KindHTML, `<a href="/x%20y">a</a><a href="/a#b">b</a><a href="/a b">c</a>`, `<a href="/x%20y">a</a><a href="/a#b">b</a><a href="/a b">c</a>`},
		{KindHTML, `<a href="/../x">a</a><a href="/a/./b">b</a>`, `<a href="/../x">a</a><a href="/a/./b">b</a>`},
		{KindHTML, `<a href="/&quot;x">a</a>`, `<a href="/p/&#34;x">a</a>`},
		{KindHTML, `<A HREF=/x>a</A><td nowrap>b</td>`, `<A href="/p/x">a</A><td nowrap>b</td>`},
		{KindHTML, `<form action="/submit" method="post"><input type="text" name="q"></form>`, `<form action="/p/submit" method="post"><input type="text" name="q"></form>`},
		{KindCSS, `a{background:url(/img/a.png)}`, `a{background:url(/p/img/a.png)}`},
		{KindJS, `fetch("/api/v1")`, `fetch("/p/api/v1")`},
		{KindJSON, `{"path":"/tmp/data"}`, `{"path":"/tmp/data"}`},
	}
	for _, tt := range tests {
		got, err := rewriteAll(t, tt.kind, "", []byte(tt.in), &Options{Map: keep, RootPrefix: "/p"})
		if err != nil || got != tt.out {
			t.Errorf("%s\ngot  %s (%v)\nwant %s", tt.in, got, err, tt.out)
		}
	}
}
