package rewrite

import (
	"bytes"
	"io"
	"slices"
	"testing"

	"golang.org/x/net/html"
)

// FuzzRewrite: whatever the backend sends, the rewriter does not panic,
// its output stays within a small multiple of its input, and an HTML page
// keeps its elements: the rewritten page tokenizes to the same start and
// end tags in the same order (no element added, ended or dropped).
func FuzzRewrite(f *testing.F) {
	for _, s := range []string{
		`<a href="/x" onclick="go('http://ui.internal:8088/a')">x</a>`,
		`<script>var u = "http:\/\/ui.internal:8088\/x"; var v = '/y';</script>`,
		`<style>a{background:url(http://ui.internal:8088/i.png)} b{content:"\2f x"}</style>`,
		`<iframe srcdoc="<a href=&quot;/z&quot;>z</a>"></iframe>`,
		`<a href="java&#9;script:location='/p'">j</a><img srcset="/a 1x, http://hidden.internal/b 2x">`,
		`<meta http-equiv="refresh" content="0; url=/r"><script type="importmap">{"imports":{"a":"/a.js"}}</script>`,
		`<svg><style><a href="http://ui.internal:8088/s">s</a></style></svg>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, k := range []Kind{KindHTML, KindCSS, KindJS, KindJSON} {
			r, err := NewReader(io.NopCloser(bytes.NewReader(in)), k, "", &Options{Map: testMap, RootPrefix: "/gateway/t/ui"})
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
				if a, b := tags(in), tags(out); !slices.Equal(a, b) {
					t.Fatalf("tags changed:\n in  %q\n out %q\n%q\n%q", a, b, in, out)
				}
			}
		}
	})
}

// tags lists the start and end tags of an HTML text, as the tokenizer
// reads them.
func tags(b []byte) []string {
	z := html.NewTokenizer(bytes.NewReader(b))
	var out []string
	for tt := z.Next(); tt != html.ErrorToken; tt = z.Next() {
		switch tt {
		case html.StartTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			out = append(out, "<"+string(name))
		case html.EndTagToken:
			name, _ := z.TagName()
			out = append(out, "</"+string(name))
		}
	}
	return out
}
