package frontend

import (
	"bufio"
	"bytes"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// crlf turns a head written with \n line ends into one with CRLF.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// simpleHeads are heads simpleRequest must read (the fast path must not
// silently go unused) the way http.ReadRequest does.
var simpleHeads = []struct{ name, head string }{
	{"wrk", "GET /gateway/bench/svc0/hello HTTP/1.1\nHost: 127.0.0.1:9800\n\n"},
	{"curl", "GET /gateway/sandbox/x?a=1&b=%2F HTTP/1.1\nHost: gw.example.com\nUser-Agent: curl/7.88.1\nAccept: */*\n\n"},
	{"browser", "GET /gateway/ui/yarn/ HTTP/1.1\nHost: gw.example.com:8443\nConnection: keep-alive\nsec-ch-ua: \"Chromium\";v=\"156\"\n" +
		"Upgrade-Insecure-Requests: 1\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\nAccept: text/html,application/xhtml+xml;q=0.9\n" +
		"Sec-Fetch-Site: none\nAccept-Encoding: gzip, deflate, br\nAccept-Language: en-US,en;q=0.9\nCookie: a=b; hadoop-jwt=xyz\n\n"},
	{"HTTP/1.0 keep-alive", "GET / HTTP/1.0\nConnection: Keep-Alive\n\n"},
	{"HTTP/1.0 no Host", "HEAD /x HTTP/1.0\n\n"},
	{"Connection close", "GET / HTTP/1.1\nHost: a\nConnection: foo, close\n\n"},
	{"repeated fields in order", "GET / HTTP/1.1\nHost: a\nAccept: x\nX-A: 1\naccept: y\nACCEPT:z\n\n"},
	{"names in any case", "DELETE /a HTTP/1.1\nhost: a\nx-forwarded-for: 10.0.0.1\nUSER-AGENT: u\nx-Forwarded-proto: https\n\n"},
	{"empty and padded values", "OPTIONS /a HTTP/1.1\nHost:  a.example \t\nX-Empty:\nX-Spaces:   \nX-Tab:\tv\tw\t\n\n"},
	{"no Host", "GET / HTTP/1.1\nX: y\n\n"},
	{"escaped path", "GET /a%2Fb/%7Ec;x=1 HTTP/1.1\nHost: a\n\n"},
	{"fragment and odd bytes", "GET /a#b?c=\"d\"&e=[f]{g}|h^i`j HTTP/1.1\nHost: a\n\n"},
	{"websocket", "GET /gateway/ws/echo HTTP/1.1\nHost: a\nUpgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n\n"},
	{"Expect without a body", "GET / HTTP/1.1\nHost: a\nExpect: 100-continue\n\n"},
	{"other methods", "PROPFIND /dav HTTP/1.1\nHost: a\n\n"},
	{"digits in names", "GET / HTTP/1.1\nHost: a\nX-1-2: 3\n\n"},
}

// fallbackHeads are heads simpleRequest must leave to http.ReadRequest.
var fallbackHeads = []struct{ name, head string }{
	{"Content-Length", "POST / HTTP/1.1\nHost: a\nContent-Length: 3\n\n"},
	{"Content-Length 0", "GET / HTTP/1.1\nHost: a\ncontent-length: 0\n\n"},
	{"Transfer-Encoding", "POST / HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\n\n"},
	{"Trailer", "GET / HTTP/1.1\nHost: a\nTrailer: X\n\n"},
	{"Pragma", "GET / HTTP/1.1\nHost: a\nPragma: no-cache\n\n"},
	{"two Hosts", "GET / HTTP/1.1\nHost: a\nHost: b\n\n"},
	{"obs-fold", "GET / HTTP/1.1\nHost: a\nX: 1\n 2\n\n"},
	{"bare LF", "GET / HTTP/1.1\nHost: a\n\n"},
	{"CR alone", "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n"},
	{"obs-text", "GET / HTTP/1.1\nHost: a\nX: caf\xc3\xa9\n\n"},
	{"control byte", "GET / HTTP/1.1\nHost: a\nX: a\x01b\n\n"},
	{"DEL", "GET / HTTP/1.1\nHost: a\nX: a\x7fb\n\n"},
	{"NUL", "GET / HTTP/1.1\nHost: a\nX: a\x00b\n\n"},
	{"space before colon", "GET / HTTP/1.1\nHost: a\nX : b\n\n"},
	{"underscore", "GET / HTTP/1.1\nHost: a\nSM_USER: admin\n\n"},
	{"dot in name", "GET / HTTP/1.1\nHost: a\nX.Y: b\n\n"},
	{"no colon", "GET / HTTP/1.1\nHost: a\nX\n\n"},
	{"empty name", "GET / HTTP/1.1\nHost: a\n: b\n\n"},
	{"leading space", "GET / HTTP/1.1\n Host: a\n\n"},
	{"absolute form", "GET http://b/ HTTP/1.1\nHost: a\n\n"},
	{"asterisk", "OPTIONS * HTTP/1.1\nHost: a\n\n"},
	{"CONNECT", "CONNECT /x HTTP/1.1\nHost: a\n\n"},
	{"lower-case method", "get / HTTP/1.1\nHost: a\n\n"},
	{"HTTP/2.0", "GET / HTTP/2.0\nHost: a\n\n"},
	{"HTTP/1.2", "GET / HTTP/1.2\nHost: a\n\n"},
	{"lower-case version", "GET / http/1.1\nHost: a\n\n"},
	{"two spaces", "GET  / HTTP/1.1\nHost: a\n\n"},
	{"trailing space", "GET / HTTP/1.1 \nHost: a\n\n"},
	{"tab separator", "GET\t/ HTTP/1.1\nHost: a\n\n"},
	{"space in target", "GET /a b HTTP/1.1\nHost: a\n\n"},
	{"obs-text in target", "GET /caf\xc3\xa9 HTTP/1.1\nHost: a\n\n"},
	{"bad escape", "GET /%zz HTTP/1.1\nHost: a\n\n"},
	{"no empty line", "GET / HTTP/1.1\nHost: a\n"},
	{"bytes after the head", "GET / HTTP/1.1\nHost: a\n\nGET"},
	{"too many fields", "GET / HTTP/1.1\n" + strings.Repeat("X: y\n", maxSimpleFields+1) + "\n"},
}

func TestSimpleRequestReadsAsReadRequest(t *testing.T) {
	for _, tc := range simpleHeads {
		t.Run(tc.name, func(t *testing.T) {
			head := []byte(crlf(tc.head))
			if !sameAsReadRequest(t, head) {
				t.Fatalf("simpleRequest left %q to ReadRequest", head)
			}
		})
	}
	t.Run("the most fields", func(t *testing.T) {
		head := []byte(crlf("GET / HTTP/1.1\n" + strings.Repeat("X: y\n", maxSimpleFields) + "\n"))
		if !sameAsReadRequest(t, head) {
			t.Fatal("simpleRequest left a head of maxSimpleFields fields to ReadRequest")
		}
	})
}

func TestSimpleRequestLeavesTheRestToReadRequest(t *testing.T) {
	for _, tc := range fallbackHeads {
		t.Run(tc.name, func(t *testing.T) {
			head := tc.head
			if tc.name != "bare LF" && !strings.Contains(head, "\r") {
				head = crlf(head)
			}
			var req http.Request
			if _, _, ok := simpleRequest([]byte(head), &req); ok {
				t.Fatalf("simpleRequest read %q; want it left to ReadRequest", head)
			}
		})
	}
}

// sameAsReadRequest fails t unless simpleRequest, when it reads head,
// returns what http.ReadRequest and hostFields return for it, into a new
// request and into one holding a connection's last request (its header
// map reused: nothing of the last request may stay); it reports whether
// simpleRequest read it.
func sameAsReadRequest(t *testing.T, head []byte) bool {
	t.Helper()
	if !sameAsReadRequestInto(t, head, &http.Request{}) {
		return false
	}
	last := &http.Request{Method: "POST", Host: "last", Header: http.Header{
		"Authorization": {"Basic bGFzdDpzZWNyZXQ="}, "Connection": {"close"}, "X-Request-Id": {"last"}, "Cookie": {"a=1", "b=2"}},
		URL: &url.URL{Scheme: "http", Host: "last", User: url.UserPassword("u", "p"), Path: "/last/a b", RawPath: "/last/a%20b",
			RawQuery: "token=last", ForceQuery: true, Fragment: "f", RawFragment: "f", Opaque: "o", OmitHost: true}}
	if !sameAsReadRequestInto(t, head, last) {
		t.Fatalf("simpleRequest read %q into a new request, not into a used one", head)
	}
	return true
}

func sameAsReadRequestInto(t *testing.T, head []byte, got *http.Request) bool {
	t.Helper()
	reused, reusedURL := got.Header, got.URL
	hosts, host, ok := simpleRequest(bytes.Clone(head), got)
	if !ok {
		return false
	}
	if reused != nil && reflect.ValueOf(got.Header).UnsafePointer() != reflect.ValueOf(reused).UnsafePointer() {
		t.Errorf("the last request's header map was not reused")
	}
	if reusedURL != nil && got.URL != reusedURL && !strings.Contains(got.RequestURI, "%") {
		t.Errorf("the last request's URL was not reused for %q", got.RequestURI)
	}
	want, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
	if err != nil {
		t.Fatalf("simpleRequest read %q, which ReadRequest refuses: %v", head, err)
	}
	if wh, wf := hostFields(head); hosts != wh || host != wf {
		t.Errorf("hosts %d %q; hostFields says %d %q", hosts, host, wh, wf)
	}
	if got.Body != http.NoBody || want.Body != http.NoBody {
		t.Errorf("bodies %v and %v; want http.NoBody", got.Body, want.Body)
	}
	type view struct {
		Method, Proto, Host, RequestURI string
		ProtoMajor, ProtoMinor          int
		URL                             any
		Header, Trailer                 http.Header
		ContentLength                   int64
		TransferEncoding                []string
		Close                           bool
	}
	see := func(r *http.Request) view {
		return view{r.Method, r.Proto, r.Host, r.RequestURI, r.ProtoMajor, r.ProtoMinor, *r.URL,
			r.Header, r.Trailer, r.ContentLength, r.TransferEncoding, r.Close}
	}
	if g, w := see(got), see(want); !reflect.DeepEqual(g, w) {
		t.Errorf("simpleRequest and ReadRequest differ on %q:\n got %+v\nwant %+v", head, g, w)
	}
	return true
}

// FuzzSimpleRequest holds simpleRequest to ReadRequest on any head it
// reads, and hostFields to ReadRequest on any head ReadRequest reads.
func FuzzSimpleRequest(f *testing.F) {
	for _, tc := range simpleHeads {
		f.Add([]byte(crlf(tc.head)))
	}
	for _, tc := range fallbackHeads {
		f.Add([]byte(crlf(tc.head)))
	}
	for _, h := range hostHeads {
		f.Add([]byte(h))
	}
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\x0b\r\n\r\n")) // a control byte: ReadRequest refuses it
	f.Fuzz(func(t *testing.T, p []byte) {
		if end, _ := headEnd(p, 0); end > 0 {
			sameAsReadRequest(t, p[:end])
			sameHostAsReadRequest(t, p[:end])
		}
	})
}

// hostHeads are heads whose Host value hostFields must read as
// http.ReadRequest does: only spaces and tabs are white space around it,
// and folded lines join it.
var hostHeads = []string{
	"GET / HTTP/1.1\r\nHost: x\xc2\x85\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: \xc2\xa0x\r\n\r\n",
	"GET / HTTP/1.1\r\nHost:\r\n x\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: \t\r\n\t x \r\n  y\r\n\r\n",
	"GET / HTTP/1.1\nHost: x\n \n\n",
	"GET / HTTP/1.1\r\nX: a\r\nhOsT:  x \t\r\n\r\n",
}

func TestHostFieldsReadsAsReadRequest(t *testing.T) {
	for _, h := range hostHeads {
		if _, err := http.ReadRequest(bufio.NewReader(strings.NewReader(h))); err != nil {
			t.Fatalf("ReadRequest refuses %q (%v): the row would check nothing", h, err)
		}
		sameHostAsReadRequest(t, []byte(h))
	}
}

// sameHostAsReadRequest fails t unless hostFields finds in head the Host
// field ReadRequest reads: for an origin-form target, req.Host is the
// first Host field's value (ReadRequest drops the field itself).
func sameHostAsReadRequest(t *testing.T, head []byte) {
	t.Helper()
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
	if err != nil || req.URL.Host != "" {
		return
	}
	n, host := hostFields(head)
	if n > 1 || host != req.Host {
		t.Errorf("hostFields(%q) = %d %q; ReadRequest read Host %q", head, n, host, req.Host)
	}
}

// TestSimpleRequestAllocations bounds what the fast path allocates on a
// connection's second request and later ones (the header map and the URL
// are the last request's): one copy of the head for every string and the
// backing array of the header's values; no allocation per field.
func TestSimpleRequestAllocations(t *testing.T) {
	for _, tc := range []struct {
		name string
		max  float64
	}{
		{"wrk", 1},     // the copy: the map and the URL are the last run's; Host's value goes to req.Host
		{"browser", 2}, // and the values' array (ReadRequest: 20)
	} {
		var head []byte
		for _, h := range simpleHeads {
			if h.name == tc.name {
				head = []byte(crlf(h.head))
			}
		}
		var req http.Request
		n := testing.AllocsPerRun(100, func() {
			if _, _, ok := simpleRequest(head, &req); !ok {
				t.Fatalf("simpleRequest left %q to ReadRequest", head)
			}
		})
		if n > tc.max {
			t.Errorf("%s head: %.0f allocations; want at most %.0f", tc.name, n, tc.max)
		}
	}
}
