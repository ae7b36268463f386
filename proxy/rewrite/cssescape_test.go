package rewrite

import (
	"strings"
	"testing"
)

// CSS strings and url() values with escapes are read as the string they
// spell ("http\3a //host", "\2f static", "\/x"), as the browser reads them,
// and rewritten; the new value is written with what must be escaped
// escaped, never spelling "</style" in a <style> element.
func TestCSSEscapedLinks(t *testing.T) {
	tests := []struct {
		name string
		kind Kind
		in   string
		want string
	}{
		{"hex escapes, space ended", KindCSS,
			`a{background:url("http\3a //ui.internal:8088\2f x.png")}`,
			`a{background:url("https://gw.example/gateway/t/ui/x.png")}`},
		{"six hex digits and identity escapes, unquoted url", KindCSS,
			`a{background:url(http\00003a\/\/ui.internal:8088\/y.png)}`,
			`a{background:url(https://gw.example/gateway/t/ui/y.png)}`},
		{"root-relative import", KindCSS,
			`@import "\2f static\2f more.css"; @import '\/static\/it\'s.css';`,
			`@import "/gateway/t/ui/static/more.css"; @import '/gateway/t/ui/static/it\'s.css';`},
		{"line continuation in a string", KindCSS,
			"a{background:url('http://ui.internal:8088/\\\nz.png')}",
			`a{background:url('https://gw.example/gateway/t/ui/z.png')}`},
		{"refused backend", KindCSS,
			`a{background:url(http\3a //hidden.internal/q.png)}`,
			`a{background:url(about:blank)}`},
		{"not links stay as they came", KindCSS,
			`q::before{content:"\201C"} a{background:url(\2f \2f)}`,
			`q::before{content:"\201C"} a{background:url(\2f \2f)}`},
		{"bad escapes stay", KindCSS,
			"a{background:url(http://ui.internal:8088/\\\nx)}",
			"a{background:url(http://ui.internal:8088/\\\nx)}"},
		{"style attribute", KindHTML,
			`<div style="background:url(&quot;http\3a //ui.internal:8088/s.png&quot;)">`,
			`<div style="background:url(&#34;https://gw.example/gateway/t/ui/s.png&#34;)">`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := rewriteAll(t, tt.kind, "", []byte(tt.in), &Options{RootPrefix: "/gateway/t/ui"})
			if err != nil || got != tt.want {
				t.Errorf("got\n%s (%v)\nwant\n%s", got, err, tt.want)
			}
			if !strings.Contains(tt.name, "bad") && strings.Contains(got, "ui.internal") {
				t.Errorf("backend left in %s", got)
			}
		})
	}
}

// A rewritten CSS value never ends its <style> element early, however its
// original spelled "</style" with escapes.
func TestRewrittenCSSStaysInStyle(t *testing.T) {
	in := `<style>a{background:url("http://ui.internal:8088/x?<\2f style><b>injected</b>")}</style><p>after</p>`
	got, err := rewriteAll(t, KindHTML, "", []byte(in), &Options{RootPrefix: "/gateway/t/ui"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(got, "</style><b>") || !strings.Contains(got, "gw.example") {
		t.Fatalf("rewritten: %s", got)
	}
}
