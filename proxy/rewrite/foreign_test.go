package rewrite

import (
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// Inside <svg> and <math>, <style>, <script>, <title>, <plaintext>, … hold
// markup, not raw text: a browser reads their tags (an <img> breaks out of
// the SVG and loads), decodes their character references, and takes an
// SVG <style>'s or <script>'s own text (CDATA sections, and around
// comments and child elements) as the stylesheet or script it loads from.
// Each link a browser would load from is rewritten; HTML's raw text
// elements (outside, and in integration points) stay raw text.
func TestForeignContent(t *testing.T) {
	const gw = "https://gw.example/gateway/t/ui"
	tests := []struct{ name, in, want string }{
		{"svg style: character references decoded",
			`<svg><style>@import url(http&#58;//ui.internal:8088/a.css);</style></svg>`,
			`<svg><style>@import url(` + gw + `/a.css);</style></svg>`},
		{"svg style: quotes as references",
			`<svg><style>a{background:url(&quot;http://ui.internal:8088/b.png&quot;)}</style></svg>`,
			`<svg><style>a{background:url("` + gw + `/b.png")}</style></svg>`},
		{"svg style: an img in it breaks out and loads",
			`<svg><style><img src=http://ui.internal:8088/c.png></style></svg>`,
			`<svg><style><img src="` + gw + `/c.png"></style></svg>`},
		{"svg style: self-closing, then markup",
			`<svg><style/><img src=http://ui.internal:8088/d.png></svg><a href=http://ui.internal:8088/d2>d</a>`,
			`<svg><style/><img src="` + gw + `/d.png"></svg><a href="` + gw + `/d2">d</a>`},
		{"svg title: self-closing, then markup",
			`<svg><title/></svg><a href=http://ui.internal:8088/e>e</a>`,
			`<svg><title/></svg><a href="` + gw + `/e">e</a>`},
		{"svg plaintext is an element, not the rest of the page",
			`<svg><plaintext></plaintext></svg><a href=http://ui.internal:8088/f>f</a>`,
			`<svg><plaintext></plaintext></svg><a href="` + gw + `/f">f</a>`},
		{"svg textarea holds markup",
			`<svg><textarea><a href=http://ui.internal:8088/f2>f</a></textarea></svg>`,
			`<svg><textarea><a href="` + gw + `/f2">f</a></textarea></svg>`},
		{"svg style: CDATA section",
			`<svg><style><![CDATA[a{b:url(http://ui.internal:8088/g.png)} p>q{}]]></style></svg>`,
			`<svg><style>a{b:url(` + gw + `/g.png)} p&gt;q{}</style></svg>`},
		{"svg style: a literal around a comment",
			`<svg><style>a{b:url(http://ui.internal:8088/h<!-- x -->.png)}</style></svg>`,
			`<svg><style>a{b:url(<!-- x -->` + gw + `/h.png)}</style></svg>`},
		{"svg style: a literal around a child element",
			`<svg><style>a{b:url(http://ui.internal:8088/p<g>ignored</g>.png)}</style></svg>`,
			`<svg><style>a{b:url(<g>ignored</g>` + gw + `/p.png)}</style></svg>`},
		{"svg style: a breakout ends the stylesheet",
			`<svg><style>a{b:url(http://ui.internal:8088/m<p>x</p>`,
			`<svg><style>a{b:url(` + gw + `/m<p>x</p>`},
		{"svg style: the end of the page ends the stylesheet",
			`<svg><style>@import "http://ui.internal:8088/n.css`,
			`<svg><style>@import "` + gw + `/n.css`},
		{"svg script: character references decoded",
			`<svg><script>fetch(&quot;http://ui.internal:8088/api&quot;)</script></svg>`,
			`<svg><script>fetch("` + gw + `/api")</script></svg>`},
		{"svg in upper case",
			`<SVG><STYLE>@import url(http&#58;//ui.internal:8088/u.css);</STYLE></SVG>`,
			`<SVG><STYLE>@import url(` + gw + `/u.css);</STYLE></SVG>`},
		{"html style in foreignObject stays raw text",
			`<svg><foreignObject><style>p>q{background:url("http://ui.internal:8088/i.png")}</style></foreignObject></svg>`,
			`<svg><foreignObject><style>p>q{background:url("` + gw + `/i.png")}</style></foreignObject></svg>`},
		{"after the svg, html style is raw text again",
			`<svg><g/></svg><style>p>q{background:url(http://ui.internal:8088/j.png)}</style>`,
			`<svg><g/></svg><style>p>q{background:url(` + gw + `/j.png)}</style>`},
		{"self-closing svg is no foreign content",
			`<svg/><style>p>q{background:url(http://ui.internal:8088/j2.png)}</style>`,
			`<svg/><style>p>q{background:url(` + gw + `/j2.png)}</style>`},
		{"a breakout tag ends the svg",
			`<svg><g><p>x</p><style>p>q{background:url(http://ui.internal:8088/j3.png)}</style>`,
			`<svg><g><p>x</p><style>p>q{background:url(` + gw + `/j3.png)}</style>`},
		{"font with color breaks out, without does not",
			`<svg><font><style>&#x3e;</style></font><font color=red><style>p>q{}</style>`,
			`<svg><font><style>&gt;</style></font><font color=red><style>p>q{}</style>`},
		{"mathml text integration point holds html",
			`<math><mi><style>p>q{background:url(http://ui.internal:8088/k.png)}</style></mi></math>`,
			`<math><mi><style>p>q{background:url(` + gw + `/k.png)}</style></mi></math>`},
		{"math style holds markup",
			`<math><style><img src=http://ui.internal:8088/l.png></style></math>`,
			`<math><style><img src="` + gw + `/l.png"></style></math>`},
		{"annotation-xml for html holds html; svg in it is svg",
			`<math><annotation-xml encoding="text/html"><style>p>q{}</style></annotation-xml><annotation-xml><svg><style>&#x3e;</style></svg></annotation-xml></math>`,
			`<math><annotation-xml encoding="text/html"><style>p>q{}</style></annotation-xml><annotation-xml><svg><style>&gt;</style></svg></annotation-xml></math>`},
		{"html elements in foreignObject, then svg again",
			`<svg><foreignObject><div><p>x</div></foreignObject><style><img src=http://ui.internal:8088/o.png></style></svg>`,
			`<svg><foreignObject><div><p>x</div></foreignObject><style><img src="` + gw + `/o.png"></style></svg>`},
		{"end tag br leaves foreign content",
			`<svg><g></br><style>p>q{}</style>`,
			`<svg><g></br><style>p>q{}</style>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := rewriteAll(t, KindHTML, "", []byte(tt.in), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
			if strings.Contains(got, "ui.internal") {
				t.Errorf("the backend shows through: %s", got)
			}
		})
	}
}

// What a browser's parser makes of the rewritten page: no attribute of any
// element and no text of an SVG style or script names the backend. The
// x/net/html parser builds the tree as a browser does.
func TestForeignContentParsed(t *testing.T) {
	in := `<!DOCTYPE html><body><svg><style>@import url(http&#58;//ui.internal:8088/a.css);</style>` +
		`<style/><image href="http://ui.internal:8088/i.svg"/><title/></svg>` +
		`<a href=http://ui.internal:8088/x>x</a><svg><style><![CDATA[a{b:url(http://ui.internal:8088/g.png)}]]></style>` +
		`<script>fetch(&quot;http://ui.internal:8088/api&quot;)</script><style><img src=http://ui.internal:8088/c.png></style></svg>`
	got, err := rewriteAll(t, KindHTML, "", []byte(in), nil)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(strings.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		for _, a := range n.Attr {
			if strings.Contains(a.Val, "ui.internal") {
				t.Errorf("<%s %s=%q>", n.Data, a.Key, a.Val)
			}
			if strings.Contains(a.Val, "gw.example") {
				seen++
			}
		}
		if n.Namespace == "svg" && (n.Data == "style" || n.Data == "script") {
			var text strings.Builder
			for c := range n.ChildNodes() {
				if c.Type == html.TextNode {
					text.WriteString(c.Data)
				}
			}
			if s := text.String(); strings.Contains(s, "ui.internal") {
				t.Errorf("svg %s: %s", n.Data, s)
			} else if strings.Contains(s, "gw.example") {
				seen++
			}
		}
	}
	if seen != 6 {
		t.Errorf("%d rewritten links, want 6:\n%s", seen, got)
	}
}

// A CSS string or url() that the end of a stylesheet or style attribute
// ends is one a browser loads: it is rewritten (a JavaScript string that
// the end ends is a syntax error, left alone); a url() whose URL is on a
// line of its own is one too.
func TestCSSLiteralEndsAtEnd(t *testing.T) {
	const gw = "https://gw.example/gateway/t/ui"
	for _, tt := range []struct {
		kind    Kind
		in, out string
	}{
		{KindCSS, `@import "http://ui.internal:8088/a.css`, `@import "` + gw + `/a.css`},
		{KindCSS, `a{b:url(http://ui.internal:8088/b.png`, `a{b:url(` + gw + `/b.png`},
		{KindCSS, `a{b:url( "http://ui.internal:8088/c.png`, `a{b:url( "` + gw + `/c.png`},
		{KindCSS, "a{b:url(\n  http://ui.internal:8088/d.png\n)}", "a{b:url(\n  " + gw + "/d.png\n)}"},
		{KindHTML, `<style>@import 'http://ui.internal:8088/e.css</style>`, `<style>@import '` + gw + `/e.css</style>`},
		{KindHTML, `<p style="background:url(http://ui.internal:8088/f.png">`, `<p style="background:url(` + gw + `/f.png">`},
		{KindJS, `x = "http://ui.internal:8088/g`, `x = "http://ui.internal:8088/g`},
	} {
		got, err := rewriteAll(t, tt.kind, "", []byte(tt.in), nil)
		if err != nil || got != tt.out {
			t.Errorf("%s: got %s (%v), want %s", tt.in, got, err, tt.out)
		}
	}
}

// Text is escaped with &, < and > only (quotes are text: a stylesheet's
// 'x' stays readable); an attribute value with the quotes too.
func TestEscapes(t *testing.T) {
	const v = `a&b<c>d'e"f`
	for _, tc := range []struct {
		name string
		fn   func(dst, v []byte) []byte
		want string
	}{
		{"text", appendText, `a&amp;b&lt;c&gt;d'e"f`},
		{"attribute", appendEscaped, `a&amp;b&lt;c&gt;d&#39;e&#34;f`},
	} {
		if got := string(tc.fn([]byte("x"), []byte(v))); got != "x"+tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, "x"+tc.want)
		}
	}
}
