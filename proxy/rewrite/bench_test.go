package rewrite

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
)

// benchPage is a YARN-like page of about 100 KiB: a table of applications
// with absolute and root-relative links.
func benchPage() []byte {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html><html><head><link rel="stylesheet" href="/static/yarn.css"><script src="http://ui.internal:8088/static/app.js"></script></head><body><table><tbody>`)
	for i := 0; b.Len() < 100<<10; i++ {
		fmt.Fprintf(&b, `<tr><td><a href="/cluster/app/application_%04d">application_%04d</a></td><td>alice</td><td class="state">RUNNING</td><td><a href="http://ui.internal:8088/proxy/application_%04d/">AM</a></td></tr>`+"\n", i, i, i)
	}
	b.WriteString(`</tbody></table></body></html>`)
	return []byte(b.String())
}

func BenchmarkRewriteHTML100K(b *testing.B) {
	benchRewrite(b, &Options{Map: testMap})
}

// BenchmarkRewriteHTML100KGateway rewrites the page as the gateway does a
// UI service's: root-relative links by Options.RootPrefix, absolute ones
// to the backend by the Mapper.
func BenchmarkRewriteHTML100KGateway(b *testing.B) {
	benchRewrite(b, &Options{Map: gatewayMap, RootPrefix: "/gateway/t/yarn"})
}

// benchRewrite rewrites the bench page with o, repeatedly.
func benchRewrite(b *testing.B, o *Options) {
	page := benchPage()
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := NewReader(io.NopCloser(bytes.NewReader(page)), KindHTML, "", o)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}

// gatewayMap maps the bench page's backend to the gateway's public URL.
func gatewayMap(link string) (string, bool) {
	if rest, ok := strings.CutPrefix(link, "http://ui.internal:8088"); ok {
		return "https://gw.example/gateway/t/yarn" + rest, true
	}
	if strings.HasPrefix(link, "/") && !strings.HasPrefix(link, "//") {
		return "/gateway/t/yarn" + link, true
	}
	return link, true
}

// BenchmarkRewriteJS100K rewrites a script of about 100 KiB whose string
// literals are mostly not links (words, text with spaces, regular
// expressions' sources), some root-relative paths and some backend URLs.
func BenchmarkRewriteJS100K(b *testing.B) {
	var sb strings.Builder
	for i := 0; sb.Len() < 100<<10; i++ {
		fmt.Fprintf(&sb, `var a%d = {state: "RUNNING", user: 'alice', label: "Application %d of the queue", re: new RegExp("\\d+\\.\\d+"), `+
			`u: "/cluster/app/application_%04d", am: "http://ui.internal:8088/proxy/application_%04d/", h: "http:\/\/ui.internal:8088\/x"};`+"\n", i, i, i, i)
	}
	js := []byte(sb.String())
	o := &Options{Map: gatewayMap, RootPrefix: "/gateway/t/yarn", PageScheme: "https"}
	b.SetBytes(int64(len(js)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := NewReader(io.NopCloser(bytes.NewReader(js)), KindJS, "", o)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}
