package rewrite

import (
	"fmt"
	"strings"
	"testing"
)

// A spelling of a URL in a string literal (JavaScript, JSON, CSS) or an
// attribute is read as a browser's URL parser reads it against the page's
// gateway URL (WHATWG URL; checked in Chromium with new URL(s, base)):
// ASCII tabs and line breaks anywhere dropped, C0 controls and spaces
// around it dropped, the scheme in any case, and for http, https, ws and
// wss (special schemes) a backslash before the query a slash. After a
// special scheme's colon, the number of slashes decides:
//
//	spelling (B the backend)  page http          page https          page unknown ("")
//	http:\\B/x                http://B/x         http://B/x          http://B/x
//	http:///B/x, http:/\B/x   http://B/x         http://B/x          http://B/x
//	http:/B/x                 /B/x (the gateway) http://B/x          http://B/x
//	http:B/x                  B/x (relative)     http://B/x          http://B/x
//	https:B/x, https:/B/x     https://B/x        relative, /B/x      https://B/x
//	ws:B/x, wss:/B/x          ws(s)://B/x        ws(s)://B/x         ws(s)://B/x (a page is never ws)
//	///B/x, \\B/x, /\B/x      //B/x (the page's scheme)
//	" \n http://B/x\t"        http://B/x
//	"ht\ttp://B\n/x"          http://B/x
//
// "Page unknown" reads a special scheme's URL as absolute, as on a page of
// another scheme: the rewriter cannot tell, and a link left as the
// backend's leaks it. What resolves to the gateway's origin (/B/x, a
// relative path) is a path: root-relative ones are mapped under the
// service as "/x" is (not in JSON, whose strings are data), relative ones
// left. A string that only the browser's reading makes a root-relative
// path ("\\static\\x", " /x") is left: it is as likely a regular
// expression's source or text.
var spellings = []struct {
	value string // the string a literal spells
	page  string // the page's scheme: Options.PageScheme
	want  string // the value rewritten: "" unchanged
	root  bool   // want is a root-relative path: unchanged in JSON
}{
	{`http:\\ui.internal:8088/x`, "http", gwUI + "/x", false},
	{`http:\\ui.internal:8088/x`, "https", gwUI + "/x", false},
	{`http:\\\\\ui.internal:8088\x`, "", gwUI + "/x", false},
	{`http:\/ui.internal:8088/x`, "http", gwUI + "/x", false},
	{`http:/\ui.internal:8088/x`, "http", gwUI + "/x", false},
	{`http:///ui.internal:8088/x`, "http", gwUI + "/x", false},
	{`http:///ui.internal:8088/x`, "https", gwUI + "/x", false},
	{`http:/ui.internal:8088/x`, "https", gwUI + "/x", false},
	{`http:/ui.internal:8088/x`, "", gwUI + "/x", false},
	{`http:/ui.internal:8088/x`, "http", "/gateway/t/ui/ui.internal:8088/x", true},
	{`http:ui.internal:8088/x`, "https", gwUI + "/x", false},
	{`http:ui.internal:8088/x`, "", gwUI + "/x", false},
	{`http:ui.internal:8088/x`, "http", "", false},
	{`http:\ui.internal:8088/x`, "https", gwUI + "/x", false},
	{`http:\ui.internal:8088/x`, "http", "/gateway/t/ui/ui.internal:8088/x", true},
	{`HTTP://ui.internal:8088/x`, "http", gwUI + "/x", false},
	{`HtTp:ui.internal:8088/x`, "https", gwUI + "/x", false},
	{`https:ui.internal:8088/x`, "http", gwUI + "/x", false},
	{`https:/ui.internal:8088/x`, "http", gwUI + "/x", false},
	{`https:ui.internal:8088/x`, "https", "", false},
	{`https:/ui.internal:8088/x`, "https", "/gateway/t/ui/ui.internal:8088/x", true},
	{`ws:ui.internal:8088/x`, "http", gwUI + "/x", false},
	{`wss:/ui.internal:8088/x`, "https", gwUI + "/x", false},
	{`///ui.internal:8088/x`, "https", gwUI + "/x", false},
	{`\\ui.internal:8088/x`, "http", gwUI + "/x", false},
	{`/\ui.internal:8088/x`, "https", gwUI + "/x", false},
	{`\/ui.internal:8088\x?a\b`, "https", gwUI + `/x?a\b`, false},
	{" \n http://ui.internal:8088/x \t", "https", gwUI + "/x", false},
	{"\x01\x1f http://ui.internal:8088/x", "https", gwUI + "/x", false},
	{"ht\ttp://ui.inter\nnal:8088/\r\nx", "https", gwUI + "/x", false},
	{"http:/\t/ui.internal:8088/x", "http", gwUI + "/x", false},
	{"h\nttp:ui.internal:8088/x", "https", gwUI + "/x", false},
	{`http:\\hidden.internal/x`, "https", blank, false},
	{`\\hidden.internal\x`, "https", blank, false},
	{`http:api.internal:9000/v1`, "https", "https://gw.example/gateway/t/api/v1", false},
	// Left: not the backend's, not a link, or a path a browser reads
	// only from a regular expression's source or text.
	{`http:`, "https", "", false},
	{`http:/`, "http", "", false},
	{`http:?q`, "http", "", false},
	{`http:example.org/x`, "https", "", false},
	{`\\example.org\x`, "https", "", false},
	{`\\d+\.\d+`, "https", "", false},
	{`/\d+/`, "https", "", false},
	{`\static\x`, "https", "", false},
	{` /static/x`, "https", "", false},
	{`ftp:\\ui.internal:8088/x`, "https", "", false},
	{`javascript:void(0)`, "https", "", false},
	{`C:\ui.internal:8088\x`, "https", "", false},
	{`hello, world`, "https", "", false},
	{`http://ui.internal:8088/x`, "https", gwUI + "/x", false}, // as always
}

const gwUI = "https://gw.example/gateway/t/ui"

// jsLiteral writes s as a double-quoted JavaScript (and JSON) string.
func jsLiteral(s string) string {
	return quoted(s, func(c byte) string {
		switch {
		case c == '\n':
			return `\n`
		case c == '\t':
			return `\t`
		case c < ' ':
			return fmt.Sprintf(`\u%04x`, c)
		}
		return ""
	})
}

// cssLiteral writes s as a double-quoted CSS string.
func cssLiteral(s string) string {
	return quoted(s, func(c byte) string {
		if c < ' ' {
			return fmt.Sprintf(`\%x `, c)
		}
		return ""
	})
}

// quoted writes s between double quotes with a backslash before each
// backslash and quote, and each other byte as escape spells it (as it is
// where escape returns "").
func quoted(s string, escape func(c byte) string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range []byte(s) {
		if c == '\\' || c == '"' {
			b.WriteString(`\` + string(c))
		} else if e := escape(c); e != "" {
			b.WriteString(e)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String() + `"`
}

// rawLiteral writes s as it is between quotes, when the literal may hold
// it so: no backslash, quote or line break (the unescaped path).
func rawLiteral(s string) (string, bool) {
	if strings.ContainsAny(s, "\\\"\n\r") {
		return "", false
	}
	return `"` + s + `"`, true
}

func TestStringSpellings(t *testing.T) {
	for _, tt := range spellings {
		for _, k := range []struct {
			kind    Kind
			name    string
			literal func(string) string
		}{
			{KindJS, "js", jsLiteral},
			{KindJSON, "json", jsLiteral},
			{KindCSS, "css", cssLiteral},
			{KindJS, "js raw", nil},
			{KindCSS, "css url()", nil},
		} {
			in, want := "", ""
			switch k.name {
			case "js raw":
				lit, ok := rawLiteral(tt.value)
				if !ok {
					continue
				}
				in, want = "f("+lit+")", "f("+lit+")"
				if tt.want != "" {
					want = "f(" + jsLiteral(tt.want) + ")"
				}
			case "css url()":
				if strings.ContainsAny(tt.value, "\\\"'() \t\n\r\x01\x1f") {
					continue
				}
				in, want = "a{b:url("+tt.value+")}", "a{b:url("+tt.value+")}"
				if tt.want != "" {
					want = "a{b:url(" + tt.want + ")}"
				}
			default:
				in, want = "x = "+k.literal(tt.value), "x = "+k.literal(tt.value)
				if tt.want != "" && !(tt.root && k.kind == KindJSON) {
					want = "x = " + k.literal(tt.want)
				}
			}
			for _, root := range []string{"", "/gateway/t/ui"} {
				got, err := rewriteAll(t, k.kind, "", []byte(in), &Options{RootPrefix: root, PageScheme: tt.page})
				if err != nil || got != want {
					t.Errorf("%s on a %q page (root prefix %q):\nin   %s\ngot  %s (%v)\nwant %s", k.name, tt.page, root, in, got, err, want)
				}
			}
		}
	}
}

// Attributes read the same spellings the same way (their C0 controls and
// spaces around the URL, and a root-relative path spelled with
// backslashes, dropped and mapped too: an attribute is a URL).
func TestAttributeSpellings(t *testing.T) {
	for _, tt := range spellings {
		for _, attr := range []string{"href", "srcset", "ping"} {
			if strings.ContainsAny(tt.value, "\"") || attr != "href" && strings.ContainsAny(tt.value, " \t\n\r,") {
				continue
			}
			in := `<a ` + attr + `="` + tt.value + `">`
			want := `<a ` + attr + `="` + tt.value + `">`
			switch {
			case tt.want != "":
				want = `<a ` + attr + `="` + tt.want + `">`
			case tt.value == `\static\x` || tt.value == ` /static/x`:
				want = `<a ` + attr + `="/gateway/t/ui/static/x">`
			}
			got, err := rewriteAll(t, KindHTML, "", []byte(in), &Options{PageScheme: tt.page})
			if err != nil || got != want {
				t.Errorf("%q on a %q page:\ngot  %s (%v)\nwant %s", in, tt.page, got, err, want)
			}
		}
	}
}
