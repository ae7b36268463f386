package rewrite

import (
	"errors"
	"strings"
	"testing"
)

// Strings of JavaScript and JSON with escapes (JSON encoders write "\/",
// Go's "\u0026", some "\u002F") are read as the string they spell and,
// when that is a link, written back in the same escaping: no backend
// address stays and the gateway URL is not mangled.
func TestEscapedStrings(t *testing.T) {
	tests := []struct {
		name string
		kind Kind
		in   string
		want string
	}{
		{"json escaped slashes", KindJSON,
			`{"u":"http:\/\/ui.internal:8088\/cluster\/app\/1","p":"\/tmp\/data"}`,
			`{"u":"https:\/\/gw.example\/gateway\/t\/ui\/cluster\/app\/1","p":"\/tmp\/data"}`},
		{"json escaped slashes and another escape", KindJSON,
			`{"u":"http:\/\/ui.internal:8088\/caf\u00e9\/x","q":"http:\/\/ui.internal:8088\/a\"b"}`,
			`{"u":"https:\/\/gw.example\/gateway\/t\/ui\/caf%C3%A9\/x","q":"https:\/\/gw.example\/gateway\/t\/ui\/a%22b"}`},
		{"json u002F slashes", KindJSON,
			`{"u":"http:\u002F\u002Fui.internal:8088\u002Fx","v":"http:\u002f\u002fhidden.internal\u002fy"}`,
			`{"u":"https:\u002F\u002Fgw.example\u002Fgateway\u002Ft\u002Fui\u002Fx","v":"about:blank"}`},
		{"json go html-safe escapes", KindJSON,
			`{"u":"http://ui.internal:8088/x?a=1\u0026b=2"}`,
			`{"u":"https://gw.example/gateway/t/ui/x?a=1\u0026b=2"}`},
		{"json html-safe escapes in a rewritten link", KindJSON,
			`{"u":"http:\/\/ui.internal:8088\/x?q=\u003cb\u003e\u0026c=d"}`,
			`{"u":"https:\/\/gw.example\/gateway\/t\/ui\/x?q=\u003cb\u003e\u0026c=d"}`},
		{"json escaped scheme letters", KindJSON,
			`{"u":"\u0068ttp:\/\/ui.internal:8088\/x"}`,
			`{"u":"https:\/\/gw.example\/gateway\/t\/ui\/x"}`},
		{"js root-relative escaped", KindJS,
			`load("\/static\/x.js"); load('\/static\/it\'s.js'); load("\x2fstatic\x2fy.js")`,
			`load("\/gateway\/t\/ui\/static\/x.js"); load('\/gateway\/t\/ui\/static\/it\'s.js'); load("\x2fgateway\x2ft\x2fui\x2fstatic\x2fy.js")`},
		{"js hex and unicode escapes", KindJS,
			`a = 'http:\x2f\x2fui.internal:8088\x2fx'; b = "http:\u{2F}\u{2f}hidden.internal/y"`,
			`a = 'https:\x2f\x2fgw.example\x2fgateway\x2ft\x2fui\x2fx'; b = "about:blank"`},
		{"js not links stay as they came", KindJS,
			`a = "it\'s"; b = "\u00e9\n"; c = 'http:\/\/example.org\/x'; d = "\q\/"`,
			`a = "it\'s"; b = "\u00e9\n"; c = 'http:\/\/example.org\/x'; d = "\q\/"`},
		{"js bad escapes stay", KindJS,
			`a = "http:\/\/ui.internal:8088\/\u12"; b = "\ud800http:\/\/ui.internal:8088\/"`,
			`a = "http:\/\/ui.internal:8088\/\u12"; b = "\ud800http:\/\/ui.internal:8088\/"`},
		{"js template literal", KindJS,
			"a = `http:\\/\\/ui.internal:8088\\/x`",
			"a = `https:\\/\\/gw.example\\/gateway\\/t\\/ui\\/x`"},
		{"js bad escaped substitution in a template stays", KindJS,
			"a = `\\${b}http:\\/\\/ui.internal:8088\\/`",
			"a = `\\${b}http:\\/\\/ui.internal:8088\\/`"},
		{"html inline script", KindHTML,
			`<script>var c = {"u":"http:\/\/ui.internal:8088\/caf\u00e9"};</script>`,
			`<script>var c = {"u":"https:\/\/gw.example\/gateway\/t\/ui\/caf%C3%A9"};</script>`},
	}
	for _, tt := range tests {
		for _, root := range []string{"", "/gateway/t/ui"} {
			t.Run(tt.name+" root prefix "+root, func(t *testing.T) {
				got, err := rewriteAll(t, tt.kind, "", []byte(tt.in), &Options{RootPrefix: root})
				if err != nil {
					t.Fatal(err)
				}
				if got != tt.want {
					t.Errorf("got\n%s\nwant\n%s", got, tt.want)
				}
				if strings.Contains(tt.name, "bad") {
					return
				}
				for _, leak := range []string{"ui.internal", "hidden.internal"} {
					if strings.Contains(got, leak) {
						t.Errorf("%s left in %s", leak, got)
					}
				}
			})
		}
	}
}

// A javascript: URL in a URL attribute is JavaScript: its string
// literals are rewritten as an inline script's, and the result is
// written back as a URL (percent signs and line breaks escaped) in an
// attribute value.
func TestJavaScriptURLs(t *testing.T) {
	tests := []struct{ in, want string }{
		{`<a href="javascript:location.href='http://ui.internal:8088/x'">x</a>`,
			`<a href="javascript:location.href=&#39;https://gw.example/gateway/t/ui/x&#39;">x</a>`},
		{`<a href="JavaScript:go(&quot;/cluster/app/1&quot;)">x</a>`,
			`<a href="javascript:go(&#34;/gateway/t/ui/cluster/app/1&#34;)">x</a>`},
		{`<form action=" javascript:fetch('http://hidden.internal/y')"><button formaction="javascript:open(` + "`http://api.internal:9000/v1`" + `)">`,
			`<form action="javascript:fetch(&#39;about:blank&#39;)"><button formaction="javascript:open(` + "`https://gw.example/gateway/t/api/v1`" + `)">`},
		// The browser percent-decodes the script and drops tabs and line
		// breaks from the URL: so does the rewriter.
		{`<a href="java&#10;script:location=%27http://ui.internal:8088/a?p=100%2525%27">x</a>`,
			`<a href="javascript:location=&#39;https://gw.example/gateway/t/ui/a?p=100%2525&#39;">x</a>`},
		{`<a href="javascript:location=%22http:%2F%2Fhidden.internal%2F%22">x</a>`,
			`<a href="javascript:location=&#34;about:blank&#34;">x</a>`},
		// Nothing to map: as it came.
		{`<a href="javascript:void(0)">x</a><a href="javascript:alert('hi %25')">y</a>`,
			`<a href="javascript:void(0)">x</a><a href="javascript:alert('hi %25')">y</a>`},
	}
	for _, tt := range tests {
		for _, root := range []string{"", "/gateway/t/ui"} {
			got, err := rewriteAll(t, KindHTML, "", []byte(tt.in), &Options{RootPrefix: root})
			if err != nil || got != tt.want {
				t.Errorf("%s (root prefix %q):\ngot  %s (%v)\nwant %s", tt.in, root, got, err, tt.want)
			}
		}
	}
}

// An event handler attribute (onclick, onload, …: any name starting with
// "on") is JavaScript: its string literals are rewritten as an inline
// script's, read from the value the tokenizer decoded (entities and all)
// and written back escaped for a double-quoted attribute value.
func TestEventHandlers(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"absolute backend URL", `<button onclick="location.href='http://ui.internal:8088/cluster/app/1'">x</button>`,
			`<button onclick="location.href=&#39;https://gw.example/gateway/t/ui/cluster/app/1&#39;">x</button>`},
		{"root-relative string", `<a href="#" onclick="window.open('/static/x.html'); return false">x</a>`,
			`<a href="#" onclick="window.open(&#39;/gateway/t/ui/static/x.html&#39;); return false">x</a>`},
		{"refused address", `<body onload="fetch(` + "`http://hidden.internal/y`" + `)">`,
			`<body onload="fetch(` + "`about:blank`" + `)">`},
		{"escaped slashes", `<img onerror="go(&quot;http:\/\/ui.internal:8088\/z&quot;)">`,
			`<img onerror="go(&#34;https:\/\/gw.example\/gateway\/t\/ui\/z&#34;)">`},
		// Entities are decoded before the script sees the value: the URL
		// spelled with them is found, and the quotes and ampersands of the
		// new value are escaped (a backslash stays a backslash).
		{"quotes and entities", `<img src=x.png onload='f("http:&#x2F;&#x2F;ui.internal:8088&#x2F;a?x=1&amp;y=2", &apos;/b&apos;, "say \"hi\" it&apos;s &lt;3")'>`,
			`<img src="x.png" onload="f(&#34;https://gw.example/gateway/t/ui/a?x=1&amp;y=2&#34;, &#39;/gateway/t/ui/b&#39;, &#34;say \&#34;hi\&#34; it&#39;s &lt;3&#34;)">`},
		// An attribute name starts after a quoted value or a slash too.
		{"no space before the name", `<a title="t"onclick="open('/x')"><p/onmouseover="open('/y')">`,
			`<a title="t" onclick="open(&#39;/gateway/t/ui/x&#39;)"><p onmouseover="open(&#39;/gateway/t/ui/y&#39;)">`},
		{"upper case", `<DIV OnClick="open('/x')">`, `<DIV onclick="open(&#39;/gateway/t/ui/x&#39;)">`},
		{"in a srcdoc", `<iframe srcdoc="<b onclick=&quot;open('/x')&quot;>"></iframe>`,
			`<iframe srcdoc="&lt;b onclick=&#34;open(&amp;#39;/gateway/t/ui/x&amp;#39;)&#34;&gt;"></iframe>`},
		// Any name starting with "on" is a handler (event types browsers
		// add later included); "on" alone and data-onclick are not.
		{"unknown on-name", `<div onion-data="f('/x')">`, `<div onion-data="f(&#39;/gateway/t/ui/x&#39;)">`},
		{"not handlers", `<div on="f('/x')" data-onclick="f('/x')" icon="'/x'">`, `<div on="f('/x')" data-onclick="f('/x')" icon="'/x'">`},
		// Nothing to map: byte for byte as it came.
		{"no link", `<button ONCLICK = 'alert("hi &amp; bye")' onmouseover=x() onfocus="f('a/b', &quot;q&quot;)">`,
			`<button ONCLICK = 'alert("hi &amp; bye")' onmouseover=x() onfocus="f('a/b', &quot;q&quot;)">`},
	}
	for _, tt := range tests {
		for _, root := range []string{"", "/gateway/t/ui"} {
			t.Run(tt.name+" root prefix "+root, func(t *testing.T) {
				got, err := rewriteAll(t, KindHTML, "", []byte(tt.in), &Options{RootPrefix: root})
				if err != nil || got != tt.want {
					t.Errorf("got\n%s (%v)\nwant\n%s", got, err, tt.want)
				}
			})
		}
	}
}

// An iframe's srcdoc is an HTML document: it is rewritten as one, nested
// srcdocs too up to maxSrcdocDepth; one nested deeper is blanked, never
// passed on unrewritten.
func TestSrcdoc(t *testing.T) {
	// nest puts doc in n iframes' srcdoc, escaping it at each level.
	nest := func(doc string, n int) string {
		for range n {
			doc = `<iframe srcdoc="` + string(appendEscaped(nil, []byte(doc))) + `"></iframe>`
		}
		return doc
	}
	img := `<img src="http://ui.internal:8088/i.png"><a href="/x">x</a><script>f("http:\/\/hidden.internal\/")</script>`
	imgOut := `<img src="https://gw.example/gateway/t/ui/i.png"><a href="/gateway/t/ui/x">x</a><script>f("about:blank")</script>`
	tests := []struct{ name, in, want string }{
		{"one level", `<iframe srcdoc='<img src="http://ui.internal:8088/i.png">'></iframe>`,
			`<iframe srcdoc="&lt;img src=&#34;https://gw.example/gateway/t/ui/i.png&#34;&gt;"></iframe>`},
		{"nested to the limit", nest(img, maxSrcdocDepth), nest(imgOut, maxSrcdocDepth)},
		{"nested past the limit", nest(img, maxSrcdocDepth+1), nest(`<iframe srcdoc=""></iframe>`, maxSrcdocDepth)},
		{"nothing to map", `<iframe srcdoc="<p>hi &amp; bye</p>" sandbox></iframe>`, `<iframe srcdoc="<p>hi &amp; bye</p>" sandbox></iframe>`},
		{"invalid UTF-8", "<iframe srcdoc=\"<p>\xff\xfe</p><img src=&quot;/\xc3x&quot;>\"></iframe>",
			"<iframe srcdoc=\"&lt;p&gt;\xff\xfe&lt;/p&gt;&lt;img src=&#34;/gateway/t/ui/\xc3x&#34;&gt;\"></iframe>"},
	}
	for _, tt := range tests {
		for _, root := range []string{"", "/gateway/t/ui"} {
			t.Run(tt.name+" root prefix "+root, func(t *testing.T) {
				got, err := rewriteAll(t, KindHTML, "", []byte(tt.in), &Options{RootPrefix: root})
				if err != nil || got != tt.want {
					t.Errorf("got\n%s (%v)\nwant\n%s", got, err, tt.want)
				}
				for _, leak := range []string{"ui.internal", "hidden.internal"} {
					if strings.Contains(got, leak) {
						t.Errorf("%s left in %s", leak, got)
					}
				}
			})
		}
	}
}

// A srcdoc whose rewritten document would pass MaxToken is blanked: each
// level of nesting escapes its document once more, and the output stays
// bounded however the levels multiply.
func TestSrcdocBounds(t *testing.T) {
	const maxToken = 64 << 10
	// A quote is one byte in, five once escaped ("&#39;"), and four more
	// at each level out ("&amp;#39;").
	quotes := `<iframe srcdoc="<iframe srcdoc=&quot;<iframe srcdoc=&amp;quot;` + strings.Repeat("''''", 4<<10) +
		`<img src=/x>&amp;quot;>&quot;>"></iframe><a href="/after">`
	got, err := rewriteAll(t, KindHTML, "", []byte(quotes), &Options{MaxToken: maxToken})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) > 2*maxToken || strings.Contains(got, "''") || !strings.HasSuffix(got, `<a href="/gateway/t/ui/after">`) {
		t.Fatalf("%d bytes: %.300s…", len(got), got)
	}
	// A huge srcdoc within MaxToken is rewritten.
	huge := `<iframe srcdoc="` + strings.Repeat(`&lt;img src=/i.png&gt;`, 1<<10) + `"></iframe>`
	got, err = rewriteAll(t, KindHTML, "", []byte(huge), &Options{MaxToken: maxToken})
	if want := strings.Repeat(`&lt;img src=&#34;/gateway/t/ui/i.png&#34;&gt;`, 1<<10); err != nil || !strings.Contains(got, want) {
		t.Fatalf("%d bytes, %v", len(got), err)
	}
	// One whose rewritten document, escaped, would pass MaxToken is blanked.
	huge = `<iframe srcdoc="` + strings.Repeat(`&lt;img src=/i.png&gt;`, 2<<10) + `"></iframe>`
	if got, err = rewriteAll(t, KindHTML, "", []byte(huge), &Options{MaxToken: maxToken}); err != nil || got != `<iframe srcdoc=""></iframe>` {
		t.Fatalf("%d bytes, %v", len(got), err)
	}
	// Past MaxToken, the tag itself ends the stream, as any token would.
	_, err = rewriteAll(t, KindHTML, "", []byte(`<iframe srcdoc="`+strings.Repeat("x", 2*maxToken)+`">`), &Options{MaxToken: maxToken})
	if !errors.Is(err, ErrTokenTooLarge) {
		t.Fatalf("%v, want ErrTokenTooLarge", err)
	}
}

// Broken escapes, invalid UTF-8 and unterminated literals in these forms
// neither panic nor grow the output past what a link's rewriting adds.
func TestFormsBadInput(t *testing.T) {
	tests := []struct {
		kind Kind
		in   string
		leak bool // the backend address may stay (not a link, or a literal the script could not run)
	}{
		{KindJSON, `{"u":"http:\/\/ui.internal:8088\/` + "\xff\xfe\xc3" + `"}`, false},
		{KindJSON, `{"u":"\u{110000}http:\/\/ui.internal:8088"}`, true},
		{KindJSON, `{"u":"\u{` + strings.Repeat("0", 5000) + `2f}"}`, false},
		{KindJS, `a = "http:\/\/ui.internal:8088\/x\`, true},
		{KindJS, `a = 'http:\/\/ui.internal:8088\/` + "\\\xe2\x80\xa8" + `x' + "\uDBFF\uDFFFhttp:\/\/ui.internal:8088"`, true},
		{KindHTML, `<a href="javascript:f('http://ui.internal:8088/%ff` + "\xff" + `')">` + "\xff", false},
		{KindHTML, `<a href="javascript:'` + strings.Repeat(`\`, 5000) + `">`, false},
		{KindHTML, `<iframe srcdoc="<a href='javascript:f(&quot;http:\/\/ui.internal:8088\/&quot;)'>` + "\xff<iframe srcdoc=&quot;\">", false},
		{KindHTML, `<b onclick="f('http://ui.internal:8088/` + "\xff\xfe" + `')" onload="'\u{ff` + "\xff" + `'">` + "\xff", false},
		{KindHTML, `<b onclick="'` + strings.Repeat(`\`, 5000) + `">`, false},
		{KindHTML, `<b onclick="` + strings.Repeat(`open('http://ui.internal:8088/x');`, 20000) + `">`, false},
		{KindHTML, `<b onclick="f('` + strings.Repeat("x", 100000) + `http://ui.internal:8088/')">`, true}, // past maxString
	}
	for _, tt := range tests {
		got, err := rewriteAll(t, tt.kind, "", []byte(tt.in), &Options{RootPrefix: "/gateway/t/ui"})
		if err != nil || len(got) > 2*len(tt.in)+100 || !tt.leak && strings.Contains(got, "ui.internal") {
			t.Errorf("%.100q: %d bytes, %v: %.200q", tt.in, len(got), err, got)
		}
	}
}

// A rule sees the string a literal spells, and its result is escaped
// for the literal's quotes.
func TestEscapedStringsRules(t *testing.T) {
	o := &Options{Rules: []Rule{{Name: "a", From: "/a", To: `/b"'`}}}
	got, err := rewriteAll(t, KindJS, "", []byte(`f("\/a\tz\u0001", '\/a\'')`), o)
	if want := `f("\/b\"'\tz\u0001", '\/b"\'\'')`; err != nil || got != want {
		t.Errorf("got  %s (%v)\nwant %s", got, err, want)
	}
}
