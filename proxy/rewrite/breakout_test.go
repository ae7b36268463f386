package rewrite

import (
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// A rewritten literal never gains markup its original could not have:
// a line continuation ("\" and a line break, which the string drops)
// between "<" and "/script" or "!--" is kept, so the rewritten inline
// script is not ended early and what follows it stays inside the string.
func TestRewrittenLiteralStaysInScript(t *testing.T) {
	for _, tt := range []struct{ name, lit string }{
		{"continuation before /script", "\"http://ui.internal:8088/x?a=<\\\n/script><img src=x onerror=alert(1)>\""},
		{"CRLF continuation", "'http://ui.internal:8088/x?a=<\\\r\n/script><img src=x onerror=alert(1)>'"},
		{"U+2028 continuation", "\"http://ui.internal:8088/x?a=<\\\u2028/script><img src=x onerror=alert(1)>\""},
		{"escaped letter of script", `"http://ui.internal:8088/x?a=</\x73cript><img src=x onerror=alert(1)>"`},
		{"escaped bang", `"http://ui.internal:8088/x?a=<\x21--<script>"`},
		{"continuation before !--", "\"http://ui.internal:8088/x?a=<\\\n!--<script>\""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := "<script>var u = " + tt.lit + ";</script><p>after</p>"
			got, err := rewriteAll(t, KindHTML, "", []byte(in), nil)
			if err != nil {
				t.Fatal(err)
			}
			// The page parses as it did: one script, its text ending
			// with the literal's end, then the paragraph.
			z := html.NewTokenizer(strings.NewReader(got))
			var tags []string
			for tt := z.Next(); tt != html.ErrorToken; tt = z.Next() {
				if tt == html.StartTagToken || tt == html.EndTagToken {
					name, _ := z.TagName()
					tags = append(tags, string(name))
				}
			}
			if s := strings.Join(tags, " "); s != "script script p p" {
				t.Fatalf("the rewritten page's tags are %q, want the script then the paragraph:\n%s", s, got)
			}
		})
	}
}

// Whatever the Mapper returns, a rewritten literal stays one literal: its
// value is escaped for the literal's quotes (and an unquoted url()'s
// delimiters), as a literal with escapes is.
func TestMappedValueEscapedForItsLiteral(t *testing.T) {
	o := &Options{Map: func(string) (string, bool) { return `x'y"z\w)(v`, true }}
	for _, tt := range []struct {
		kind    Kind
		in, out string
	}{
		{KindJS, `a('http://ui.internal:8088/p')`, `a('x\'y"z\\w)(v')`},
		{KindJS, `a("http://ui.internal:8088/p")`, `a("x'y\"z\\w)(v")`},
		{KindJS, "a(`http://ui.internal:8088/p`)", "a(`x'y\"z\\\\w)(v`)"},
		{KindJSON, `{"u":"http://ui.internal:8088/p"}`, `{"u":"x'y\"z\\w)(v"}`},
		{KindCSS, `a{b:url(http://ui.internal:8088/p)}`, `a{b:url(x\27 y\22 z\\w\29 \28 v)}`},
		{KindCSS, `a{b:url("http://ui.internal:8088/p")}`, `a{b:url("x'y\"z\\w)(v")}`},
		{KindCSS, `a{b:'http://ui.internal:8088/p'}`, `a{b:'x\'y"z\\w)(v'}`},
	} {
		got, err := rewriteAll(t, tt.kind, "", []byte(tt.in), o)
		if err != nil || got != tt.out {
			t.Errorf("%s: got %s (%v), want %s", tt.in, got, err, tt.out)
		}
	}
}
