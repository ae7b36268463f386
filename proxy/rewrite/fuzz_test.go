package rewrite

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"testing"

	"golang.org/x/net/html"
)

// FuzzRewrite: whatever the backend sends, the rewriter does not panic,
// its output stays within a small multiple of its input, and an HTML page
// keeps its elements: a browser's parser (x/net/html's tree builder)
// builds the same elements, in the same namespaces, order and depth, from
// the rewritten page (no element added, ended or dropped).
func FuzzRewrite(f *testing.F) {
	for _, s := range []string{
		`<a href="/x" onclick="go('http://ui.internal:8088/a')">x</a>`,
		`<script>var u = "http:\/\/ui.internal:8088\/x"; var v = '/y';</script>`,
		`<style>a{background:url(http://ui.internal:8088/i.png)} b{content:"\2f x"}</style>`,
		`<iframe srcdoc="<a href=&quot;/z&quot;>z</a>"></iframe>`,
		`<a href="java&#9;script:location='/p'">j</a><img srcset="/a 1x, http://hidden.internal/b 2x">`,
		`<meta http-equiv="refresh" content="0; url=/r"><script type="importmap">{"imports":{"a":"/a.js"}}</script>`,
		`<svg><style><a href="http://ui.internal:8088/s">s</a></style></svg>`,
		`<svg><style><![CDATA[</style>]]>url(http&#58;//ui.internal:8088/t)</style><img src=/u></svg>`,
		`<math><mi><style>p>q{}</style></mi><annotation-xml encoding=text/html><svg><title/><p>`,
		`<script>f("http:\\\\ui.internal:8088/x", 'http:/ui.internal:8088/y', "\\\\ui.internal:8088\\z", " ht\ttp:///ui.internal:8088/")</script><a href="https:ui.internal:8088/">`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, k := range []Kind{KindHTML, KindCSS, KindJS, KindJSON} {
			page := []string{"", "http", "https"}[len(in)%3]
			r, err := NewReader(io.NopCloser(bytes.NewReader(in)), k, "", &Options{Map: testMap, RootPrefix: "/gateway/t/ui", PageScheme: page})
			if err != nil {
				t.Fatal(err)
			}
			out, err := io.ReadAll(r)
			if err != nil {
				continue // a token over the limit: the stream ends with an error
			}
			if len(out) > 8*len(in)+4096 {
				t.Fatalf("kind %d: %d bytes out of %d", k, len(out), len(in))
			}
			if k == KindHTML {
				if a, b := elements(in), elements(out); !slices.Equal(a, b) {
					t.Fatalf("elements changed:\n in  %q\n out %q\n%q\n%q", a, b, in, out)
				}
			}
		}
	})
}

// FuzzReadURL: reading a URL as a browser does never panics, a URL read
// as written (plainURL, the fast path) reads the same slowly, and a read
// URL reads as itself.
func FuzzReadURL(f *testing.F) {
	for _, s := range []string{`http:\\\\b/x`, `http:b`, ` \t/\\b/x?a\\b`, `HTTP:///b`, `ws:/b`, `/x`, `C:\\x`, `javascript:a`} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, v []byte, p uint8) {
		page := []string{"", "http", "https", "ws"}[p%4]
		u, form := readURL(nil, v, page)
		if plainURL(v) && !bytes.EqualFold(u, v) {
			t.Fatalf("%q is plain but reads %q", v, u)
		}
		if form != formOther && form != formRoot {
			u2, form2 := readURL(nil, u, page)
			if !bytes.Equal(u, u2) || form2 != form && !(form == formSchemeRoot && form2 == formRoot) {
				t.Fatalf("%q reads %q (%d), which reads %q (%d)", v, u, form, u2, form2)
			}
		}
		if s, read, _ := stringURL(nil, v, page); read && bytes.Equal(s, v) {
			t.Fatalf("%q read as itself", v)
		}
	})
}

// elements lists the elements a browser's parser builds from an HTML
// page: namespace, name and depth, in document order.
func elements(b []byte) []string {
	doc, err := html.Parse(bytes.NewReader(b))
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		depth := 0
		for p := n.Parent; p != nil; p = p.Parent {
			depth++
		}
		out = append(out, fmt.Sprintf("%d %s:%s", depth, n.Namespace, n.Data))
	}
	return out
}
