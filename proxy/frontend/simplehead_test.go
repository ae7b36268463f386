package frontend_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/securegw/gateway/proxy/frontend"
)

// view answers with all the handler sees of a request.
var view = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
		return
	}
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "%q %q %q %q %q %q %q close=%v length=%d te=%q body=%q\n",
		r.Method, r.RequestURI, r.URL.Path, r.URL.RawPath, r.URL.RawQuery, r.Proto, r.Host, r.Close, r.ContentLength, r.TransferEncoding, b)
	for _, k := range keys {
		fmt.Fprintf(w, "%s: %q\n", k, r.Header[k])
	}
})

// transcript sends raw and then a request that closes the connection on
// a new connection, and returns every answer (status and body) up to the
// close: how many requests the server read from those bytes, what each
// handler saw, and where the connection ended.
func transcript(t *testing.T, addr, raw string) string {
	t.Helper()
	got, open := rawAnswers(t, addr, raw+"GET /end HTTP/1.1\r\nHost: end\r\nConnection: close\r\n\r\n")
	if open {
		t.Fatalf("the server neither answered nor closed after %q", got)
	}
	return strings.Join(got, "\n")
}

// rawAnswers writes raw on a new connection and returns each answer read
// back ("status body"), and whether the connection was still open when
// the reads timed out (10 s).
func rawAnswers(t *testing.T, addr, raw string) (answers []string, open bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	go io.WriteString(c, raw)
	br := bufio.NewReader(c)
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return answers, isTimeout(err)
		}
		b, _ := io.ReadAll(resp.Body)
		answers = append(answers, fmt.Sprintf("%d %s", resp.StatusCode, b))
	}
}

// The lean front reads plain heads itself (simpleRequest) and leaves the
// rest to http.ReadRequest: on the same bytes, its handler sees what the
// net/http front's sees, it reads the same requests from a connection and
// closes it at the same place. The heads are the fast path's edges: field
// names in odd case (the identity and forwarding headers the gateway
// strips among them), repeats, padding, Host spelled and placed oddly,
// keep-alive rules, bodies announced in lower case (read as bodies, not as
// the next request), fields net/http acts on, dot segments and escapes,
// the field-count limit, a head filling the pooled reader, pipelining.
func TestPlainHeadsSameOnBothFronts(t *testing.T) {
	const smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
	fill := "GET /fill HTTP/1.1\r\nHost: x\r\nX-Fill: "
	fill += strings.Repeat("f", 4096-len(fill)-len("\r\n\r\n")) + "\r\n\r\n"
	tests := []struct{ name, raw string }{
		{"names in odd case", "GET /a HTTP/1.1\r\nHost: x\r\nx-forwarded-user: a\r\nSM-USER: b\r\ncOOKIE: c=d\r\nx-FORWARDED-for: 1.2.3.4\r\nforwarded: for=5.6.7.8\r\n\r\n"},
		{"repeats in order", "GET /a HTTP/1.1\r\nHost: x\r\nAccept: a\r\nX-B: 1\r\naccept: b\r\nACCEPT:c\r\n\r\n"},
		{"padding", "GET /a HTTP/1.1\r\nHost: x\r\nX-A: \t a \t b \t\r\nX-B:\r\nX-C:   \r\nX-D:\tv\r\n\r\n"},
		{"Host last, lower case", "GET /a HTTP/1.1\r\nX-A: y\r\nhost: h.example:8443\r\n\r\n"},
		{"Host padded with tabs", "GET /a HTTP/1.1\r\nHost:\tx\t\r\n\r\n"},
		{"empty Host", "GET /a HTTP/1.1\r\nHost:\r\n\r\n"},
		{"two Hosts in odd case", "GET /a HTTP/1.1\r\nhost: a\r\nHOST: b\r\n\r\n"},
		{"no Host", "GET /a HTTP/1.1\r\nX-A: y\r\n\r\n"},
		{"HTTP/1.0 closes", "GET /a HTTP/1.0\r\n\r\n"},
		{"HTTP/1.0 keep-alive", "GET /a HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\nGET /b HTTP/1.0\r\nHost: x\r\nconnection: keep-alive\r\n\r\n"},
		{"Connection: close in odd case", "GET /a HTTP/1.1\r\nHost: x\r\nconnection: Upgrade, CLOSE\r\n\r\n"},
		{"Connection: close among others", "GET /a HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nConnection: x-a,close\r\n\r\n"},
		{"lower-case content-length", "POST /a HTTP/1.1\r\nHost: x\r\ncontent-length: " + fmt.Sprint(len(smuggled)) + "\r\n\r\n" + smuggled},
		{"Content-Length 0 on a GET", "GET /a HTTP/1.1\r\nHost: x\r\nCONTENT-LENGTH: 0\r\n\r\n"},
		{"lower-case transfer-encoding", "POST /a HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked\r\n\r\n" +
			fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(smuggled), smuggled)},
		{"a body no field announces", "POST /a HTTP/1.1\r\nHost: x\r\n\r\nhello"},
		{"pragma", "GET /a HTTP/1.1\r\nHost: x\r\npragma: no-cache\r\n\r\n"},
		{"Expect without a body", "GET /a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n"},
		{"WebSocket upgrade", "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"},
		{"dot segments and escapes", "GET /a/../b/%2e%2e/c//d HTTP/1.1\r\nHost: x\r\n\r\nGET /a%2Fb;c=d/%7e?x=%2F&y#frag HTTP/1.1\r\nHost: x\r\n\r\n" +
			"GET //x.example/a HTTP/1.1\r\nHost: x\r\n\r\nGET /%00%5c HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"bad escape", "GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"lower-case method", "get /a HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"obs-text and obs-fold", "GET /a HTTP/1.1\r\nHost: x\r\nX-A: caf\xc3\xa9\r\nX-B: 1\r\n 2\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"bare LF", "GET /a HTTP/1.1\nHost: x\r\nX-A: 1\n\r\n"},
		{"48 fields", "GET /a HTTP/1.1\r\n" + strings.Repeat("X-A: 1\r\n", 47) + "Host: x\r\n\r\n"},
		{"49 fields", "GET /a HTTP/1.1\r\n" + strings.Repeat("X-A: 1\r\n", 48) + "Host: x\r\n\r\n"},
		{"a head filling the pooled reader", fill + "GET /next HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"pipelined", "GET /a HTTP/1.1\r\nHost: a\r\n\r\nOPTIONS /b HTTP/1.1\r\nHost: b\r\n\r\nDELETE /c?d HTTP/1.1\r\nHost: c\r\nX-A: 1\r\n\r\n"},
	}
	_, lean := serveFront(t, frontend.KindLean, view, frontend.ServerOptions{})
	_, std := serveFront(t, frontend.KindNetHTTP, view, frontend.ServerOptions{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, want := transcript(t, lean, tc.raw), transcript(t, std, tc.raw)
			if got != want {
				t.Fatalf("%q:\nlean front:\n%s\nnet/http front:\n%s", tc.raw, got, want)
			}
			if strings.Contains(got, `"GET" "/smuggled"`) {
				t.Fatalf("a body was read as a request:\n%s", got)
			}
		})
	}
}
