package proxy_test

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy"
	"github.com/securegw/gateway/proxy/frontend"
)

// rawBackend is a backend on a raw TCP listener: for every request head it
// reads, it writes answer(n, head) as is (n counts requests from 0 across
// connections), and ends the connection after it when answer says so. It
// counts the connections it accepted.
type rawBackend struct {
	ln    net.Listener
	conns atomic.Int64
	reqs  atomic.Int64
	wg    sync.WaitGroup
	// halfClose: a connection is ended by shutting down the backend's
	// sending side only; it reads on and never answers again.
	halfClose bool
	ended     chan<- struct{} // told each time a connection was ended (nil: nobody)
}

// rawOption changes how a rawBackend ends its connections.
type rawOption func(*rawBackend)

// halfClosing makes the backend end connections by a half-close.
func halfClosing() rawOption { return func(b *rawBackend) { b.halfClose = true } }

// endsTo makes the backend tell ended each time it ended a connection.
func endsTo(ended chan<- struct{}) rawOption { return func(b *rawBackend) { b.ended = ended } }

func newRawBackend(t *testing.T, answer func(n int, head string) (raw string, closeAfter bool), opts ...rawOption) *rawBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &rawBackend{ln: ln}
	for _, o := range opts {
		o(b)
	}
	var open sync.Map
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.conns.Add(1)
			open.Store(c, true)
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					var head strings.Builder
					for {
						line, err := br.ReadString('\n')
						if err != nil {
							return
						}
						head.WriteString(line)
						if line == "\r\n" {
							break
						}
					}
					raw, closeAfter := answer(int(b.reqs.Add(1)-1), head.String())
					if _, err := io.WriteString(c, raw); err != nil || closeAfter {
						b.end(c, br)
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		open.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		b.wg.Wait()
	})
	return b
}

func (b *rawBackend) URL() string { return "http://" + b.ln.Addr().String() }

// end ends c (a half-close reads on until the test's cleanup closes it).
func (b *rawBackend) end(c net.Conn, br *bufio.Reader) {
	if b.halfClose {
		_ = c.(*net.TCPConn).CloseWrite()
	} else {
		c.Close()
	}
	if b.ended != nil {
		b.ended <- struct{}{}
	}
	if b.halfClose {
		_, _ = io.Copy(io.Discard, br)
	}
}

// A backend breaking the protocol gets the client a 502 and no byte of
// what it sent; its connection is not reused.
func TestMalformedBackendAnswers(t *testing.T) {
	tests := []struct{ name, raw string }{
		{"bad status line", "HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok"},
		{"not HTTP/1", "HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok"},
		{"space in a field name", "HTTP/1.1 200 OK\r\nX Bad: 1\r\nContent-Length: 2\r\n\r\nok"},
		{"folded field", "HTTP/1.1 200 OK\r\nX-A: 1\r\n continued\r\nContent-Length: 2\r\n\r\nok"},
		{"conflicting Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!"},
		{"negative Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\nok"},
		{"unknown transfer coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"},
		{"NUL in a value", "HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 2\r\n\r\nok"},
		{"head too long", "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("p", 1000)+"\r\n", 1100) + "Content-Length: 2\r\n\r\nok"},
		{"closed before answering", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newRawBackend(t, func(int, string) (string, bool) { return tc.raw, true })
			e := newEnv(t, proxyConfig())
			e.deploy(topo("t", svc("s", b.URL())))
			resp, body := e.get("/gateway/t/s/x")
			if resp.StatusCode != http.StatusBadGateway || strings.Contains(body, "ok") || strings.Contains(body, b.ln.Addr().String()) {
				t.Fatalf("%d %q, want 502 without the backend's bytes or address", resp.StatusCode, body)
			}
		})
	}
}

// Framing a backend gets wrong after the head aborts the client's
// response: the client sees a broken response, never a complete one.
func TestBrokenBackendBodies(t *testing.T) {
	tests := []struct{ name, raw string }{
		{"short Content-Length body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n"},
		{"chunk without its CRLF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n"},
		{"chunked body cut", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newRawBackend(t, func(int, string) (string, bool) { return tc.raw, true })
			e := newEnv(t, proxyConfig())
			e.deploy(topo("t", svc("s", b.URL())))
			resp, err := e.fe.Client().Get(e.fe.URL + "/gateway/t/s/x")
			if err != nil {
				return // aborted before the head: fine
			}
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil {
				t.Fatalf("status %d: the client read a complete body", resp.StatusCode)
			}
		})
	}
}

// Chunked and Content-Length together: the chunked framing wins and the
// connection is not reused (RFC 9112 §6.3).
func TestChunkedWithContentLength(t *testing.T) {
	b := newRawBackend(t, func(int, string) (string, bool) {
		return "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", false
	})
	e := newEnv(t, proxyConfig())
	e.deploy(topo("t", svc("s", b.URL())))
	for i := 0; i < 2; i++ {
		resp, body := e.get("/gateway/t/s/x")
		if resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
	}
	if n := b.conns.Load(); n != 2 {
		t.Fatalf("%d backend connections for 2 requests, want 2 (no reuse)", n)
	}
}

// Keep-alive: sequential requests share one backend connection; one the
// backend closed while idle is replaced without the client noticing.
func TestBackendKeepAlive(t *testing.T) {
	var closeNext atomic.Bool
	b := newRawBackend(t, func(n int, head string) (string, bool) {
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", closeNext.Swap(false)
	})
	e := newEnv(t, proxyConfig())
	e.deploy(topo("t", svc("s", b.URL())))
	for i := 0; i < 5; i++ {
		if resp, body := e.get("/gateway/t/s/x"); resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
	}
	if n := b.conns.Load(); n != 1 {
		t.Fatalf("%d backend connections for 5 sequential requests, want 1", n)
	}
	closeNext.Store(true) // the backend closes after its next answer, without saying so
	for i := 0; i < 3; i++ {
		if resp, body := e.get("/gateway/t/s/x"); resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("after the backend closed: %d %q", resp.StatusCode, body)
		}
	}
	if n := b.conns.Load(); n != 2 {
		t.Fatalf("%d backend connections, want 2", n)
	}
}

// The request head the backend gets: one Host, framing from the request,
// no hop-by-hop field.
func TestBackendRequestHead(t *testing.T) {
	heads := make(chan string, 4)
	b := newRawBackend(t, func(_ int, head string) (string, bool) {
		heads <- head
		return "HTTP/1.1 204 No Content\r\n\r\n", false
	})
	e := newEnv(t, proxyConfig())
	e.deploy(topo("t", svc("s", b.URL()+"/base")))
	resp, _ := e.get("/gateway/t/s/a%20b?q=1", "Connection", "X-Drop", "X-Drop", "1", "Keep-Alive", "timeout=5",
		"Proxy-Authorization", "Basic eDp5", "Te", "trailers, deflate")
	if resp.StatusCode != 204 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	head := <-heads
	lines := strings.Split(strings.TrimSuffix(head, "\r\n\r\n"), "\r\n")
	if lines[0] != "GET /base/a%20b?q=1 HTTP/1.1" {
		t.Fatalf("request line %q", lines[0])
	}
	hosts := 0
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, ": ")
		switch http.CanonicalHeaderKey(k) {
		case "Host":
			hosts++
			if v != b.ln.Addr().String() {
				t.Errorf("Host %q", v)
			}
		case "X-Drop", "Keep-Alive", "Proxy-Authorization", "Connection", "Content-Length", "Transfer-Encoding":
			t.Errorf("forwarded %q", l)
		case "Te":
			if v != "trailers" {
				t.Errorf("Te %q, want trailers", v)
			}
		}
	}
	if hosts != 1 {
		t.Fatalf("%d Host fields in %q", hosts, head)
	}
	resp, _ = e.do("POST", "/gateway/t/s/x", strings.NewReader("abc"))
	if head := <-heads; resp.StatusCode != 204 || !strings.Contains(head, "\r\nContent-Length: 3\r\n") || strings.Contains(head, "Transfer-Encoding") {
		t.Fatalf("POST with a body of 3: %d %q", resp.StatusCode, head)
	}
}

// Bytes a backend sends past the end of its answer (after a Content-Length
// or chunked body, or a body to HEAD, 204 or 304, which have none by rule)
// are no answer to anything: the connection is not reused, and the next
// request gets its own answer from a new connection, never those bytes
// (response desync: one client's request answered with what another's
// left behind).
func TestBackendBytesAfterTheAnswer(t *testing.T) {
	const poison = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nPOISON"
	tests := []struct {
		name, method, first string
		status              int
		body                string
	}{
		{"after a Content-Length body", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + poison, 200, "ok"},
		{"after a chunked body", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n" + poison, 200, "ok"},
		{"after chunked trailers", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-T: 1\r\n\r\n" + poison, 200, "ok"},
		{"a body to HEAD", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 39\r\n\r\n" + poison, 200, ""},
		{"a body with 204", "GET", "HTTP/1.1 204 No Content\r\n\r\n" + poison, 204, ""},
		{"a body with 304", "GET", "HTTP/1.1 304 Not Modified\r\nContent-Length: 39\r\n\r\n" + poison, 304, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newRawBackend(t, func(n int, head string) (string, bool) {
				if n == 0 {
					return tc.first, false
				}
				return "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext", false
			})
			e := newEnv(t, proxyConfig())
			e.deploy(topo("t", svc("s", b.URL())))
			resp, body := e.do(tc.method, "/gateway/t/s/x", nil)
			if resp.StatusCode != tc.status || body != tc.body {
				t.Fatalf("first: %d %q, want %d %q", resp.StatusCode, body, tc.status, tc.body)
			}
			for i := 0; i < 2; i++ {
				resp, body = e.get("/gateway/t/s/y")
				if resp.StatusCode != 200 || body != "next" {
					t.Fatalf("request %d after: %d %q, want 200 %q", i+2, resp.StatusCode, body, "next")
				}
			}
			if n := b.conns.Load(); n != 2 {
				t.Fatalf("%d backend connections, want 2 (the one with stray bytes closed, the next kept)", n)
			}
		})
	}
}

// A backend's informational answers and trailers are not rewritten as its
// answer's head is: a URL or cookie in them that could name the backend
// (Location, Content-Location, Refresh, Link, Set-Cookie, a
// Content-Security-Policy's sources) is left out, and so are the backend's
// X-Request-Id and a trailer field that belongs in the head or to one connection
// (framing, Connection, Content-Type, …), declared or not. Other fields pass.
func TestBackendAnswerFieldsOutsideTheHead(t *testing.T) {
	const internal = "10.1.2.3:8080"
	const raw = "HTTP/1.1 103 Early Hints\r\nLink: <http://" + internal + "/app.css>; rel=preload\r\nLocation: http://" + internal + "/a\r\n" +
		"Content-Location: http://" + internal + "/b\r\nRefresh: 0; url=http://" + internal + "/c\r\nSet-Cookie: s=1; Domain=" + internal + "\r\n" +
		"Content-Security-Policy: connect-src http://" + internal + "\r\nContent-Security-Policy-Report-Only: img-src http://" + internal + "\r\n" +
		"X-Request-Id: forged\r\nX-Hint: kept\r\n\r\n" +
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum, Location, Content-Length\r\n\r\n2\r\nok\r\n0\r\n" +
		"X-Sum: 5\r\nLocation: http://" + internal + "/d\r\nContent-Location: http://" + internal + "/e\r\nSet-Cookie: t=1; Domain=" + internal + "\r\n" +
		"Content-Security-Policy: connect-src http://" + internal + "\r\n" +
		"Content-Length: 100\r\nTransfer-Encoding: chunked\r\nConnection: close\r\nContent-Type: text/html\r\nX-Request-Id: forged\r\nX-Late: kept\r\n\r\n"
	for _, kind := range []string{frontend.KindLean, frontend.KindNetHTTP} {
		t.Run(kind, func(t *testing.T) {
			b := newRawBackend(t, func(int, string) (string, bool) { return raw, false })
			e := frontTo(t, kind, b.URL())
			c, br := dialWrite(t, e.addr(), "GET /gateway/t/s/x HTTP/1.1\r\nHost: gw\r\nTE: trailers\r\n\r\n")
			hint, err := http.ReadResponse(br, nil)
			if err != nil || hint.StatusCode != 103 {
				t.Fatalf("informational answer: %v %v", hint, err)
			}
			if len(hint.Header) != 1 || hint.Header.Get("X-Hint") != "kept" {
				t.Fatalf("103 fields %v, want only X-Hint", hint.Header)
			}
			resp := readOK(t, br)
			if len(resp.Trailer) != 2 || resp.Trailer.Get("X-Sum") != "5" || resp.Trailer.Get("X-Late") != "kept" {
				t.Fatalf("trailers %v, want X-Sum and X-Late only", resp.Trailer)
			}
			if ids := resp.Header.Values("X-Request-Id"); len(ids) != 1 || ids[0] == "forged" {
				t.Fatalf("X-Request-Id %q", ids)
			}
			// The connection serves the next request: nothing in the
			// trailers closed or reframed it.
			if _, err := io.WriteString(c, "GET /gateway/t/s/y HTTP/1.1\r\nHost: gw\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			if _, err := http.ReadResponse(br, nil); err != nil {
				t.Fatalf("next request on the connection: %v", err)
			}
		})
	}
}

// A backend's informational answers (it cannot know the client's version:
// the gateway asks it in HTTP/1.1) never reach an HTTP/1.0 client (RFC
// 9110 §15.2): such a client takes a 103 for the answer, and an HTTP/1.0
// proxy keeping its connection alive would take the real answer for its
// next request's. The client gets the final answers, in order, on the
// connection it kept.
func TestNoInformationalAnswersToHTTP10(t *testing.T) {
	b := newRawBackend(t, func(n int, head string) (string, bool) {
		return "HTTP/1.1 103 Early Hints\r\nX-Hint: 1\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n" +
			fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok%d", n), false
	})
	for _, kind := range []string{frontend.KindLean, frontend.KindNetHTTP} {
		t.Run(kind, func(t *testing.T) {
			e := frontTo(t, kind, b.URL())
			first := int(b.reqs.Load())
			_, br := dialWrite(t, e.addr(), "GET /gateway/t/s/x HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /gateway/t/s/y HTTP/1.0\r\n\r\n")
			for i := 0; i < 2; i++ {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("answer %d: %v", i+1, err)
				}
				body, _ := io.ReadAll(resp.Body)
				if want := fmt.Sprintf("ok%d", first+i); resp.StatusCode != 200 || string(body) != want || resp.Header.Get("X-Hint") != "" {
					t.Fatalf("answer %d: %d %q %v, want 200 %q", i+1, resp.StatusCode, body, resp.Header, want)
				}
			}
			if n, err := br.ReadByte(); err != io.EOF {
				t.Fatalf("after the answers: %q %v, want the connection closed", n, err)
			}
		})
	}
}

// A reused backend connection that ends before the answer (EOF, reset):
// the backend closed it idle as the request came, or read the request,
// acted on it and went away; the gateway cannot tell which. A request of
// an idempotent method without a body is sent again on a new connection;
// a POST or PATCH is not (RFC 9110 §9.2.2): the client gets 502, and the
// backend saw it once.
func TestStaleConnectionRetriesOnlyIdempotentRequests(t *testing.T) {
	tests := []struct {
		method string
		status int
		seen   int64 // times the backend got the request
	}{
		{"GET", 200, 2}, {"DELETE", 200, 2}, {"PUT", 200, 2}, {"OPTIONS", 200, 2},
		{"POST", 502, 1}, {"PATCH", 502, 1},
	}
	for _, tc := range tests {
		t.Run(tc.method, func(t *testing.T) {
			var seen atomic.Int64
			b := newRawBackend(t, func(n int, head string) (string, bool) {
				if !strings.HasPrefix(head, tc.method+" /act ") {
					return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false
				}
				if seen.Add(1) == 1 {
					return "", true // acted on it, went away before answering
				}
				return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false
			})
			e := newEnv(t, proxyConfig())
			e.deploy(topo("t", svc("s", b.URL())))
			if resp, _ := e.get("/gateway/t/s/warm"); resp.StatusCode != 200 {
				t.Fatalf("warm-up: %d", resp.StatusCode)
			}
			resp, body := e.do(tc.method, "/gateway/t/s/act", nil)
			if resp.StatusCode != tc.status || seen.Load() != tc.seen {
				t.Fatalf("%d %q, backend got it %d times; want %d, %d times", resp.StatusCode, body, seen.Load(), tc.status, tc.seen)
			}
		})
	}
}

// The fields a client's Connection header names are not forwarded, in any
// case; a request of thousands of fields and a Connection list of
// thousands of tokens (one 64 KiB head) costs what the fields alone cost,
// not fields × tokens (a second of CPU per request when each field was
// matched against each token).
func TestConnectionListCostsLinear(t *testing.T) {
	heads := make(chan string, 4)
	b := newRawBackend(t, func(_ int, head string) (string, bool) {
		heads <- head
		return "HTTP/1.1 204 No Content\r\n\r\n", false
	})
	e := newEnv(t, proxyConfig())
	e.deploy(topo("t", svc("s", b.URL())))
	var fields strings.Builder
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&fields, "A%d:b\r\n", i)
	}
	fields.WriteString("X-Drop: 1\r\nX-Other: 2\r\nX-Kept: 3\r\n")
	long := "Connection: x-drop, X-OTHER, " + strings.Repeat("x,", (60<<10-fields.Len())/2) + "y\r\n"
	short := "Connection: x-drop, X-OTHER\r\n"
	cost := func(conn string) time.Duration {
		t.Helper()
		start := processCPU(t)
		resp, body := rawRoundTrip(t, e.addr(), "GET /gateway/t/s/x HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n"+fields.String()+conn+"\r\n")
		took := processCPU(t) - start
		if resp == nil || resp.StatusCode != 204 {
			t.Fatalf("%v %s", resp, body)
		}
		head := <-heads
		if strings.Contains(head, "X-Drop") || strings.Contains(head, "X-Other") || !strings.Contains(head, "\r\nX-Kept: 3\r\n") || !strings.Contains(head, "\r\nA1999: b\r\n") {
			t.Fatalf("backend head (%d bytes): the named fields forwarded or others lost", len(head))
		}
		return took
	}
	least := func(conn string) time.Duration { // of three: other tests' leftovers may run meanwhile
		return min(cost(conn), cost(conn), cost(conn))
	}
	cost(short) // warm-up
	base, withList := least(short), least(long)
	t.Logf("CPU: %v with a short Connection list, %v with a long one", base, withList)
	if withList > 5*base+50*time.Millisecond {
		t.Fatalf("a long Connection list cost %v of CPU, the fields alone %v", withList, base)
	}
}

// processCPU is the CPU time the test process used so far.
func processCPU(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Answers at the edges of HTTP/1.1 from a backend: what the client gets,
// that nothing of the backend's bytes turns into a header or an answer of
// their own, and whether the backend connection is used again (the next
// request then gets its own answer either way).
func TestBackendAnswerEdges(t *testing.T) {
	tests := []struct {
		name, raw  string
		closeAfter bool
		status     int
		body       string
		reused     bool
	}{
		{"switching protocols unasked", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\nRAW", false, 502, `{"error":"backend unavailable"}` + "\n", false},
		{"informational answer with a length", "HTTP/1.1 102 Processing\r\nContent-Length: 5\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false, 200, "ok", true},
		{"five informational answers", strings.Repeat("HTTP/1.1 103 Early Hints\r\nX-H: 1\r\n\r\n", 5) + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false, 200, "ok", true},
		{"fifty informational answers", strings.Repeat("HTTP/1.1 103 Early Hints\r\nX-H: 1\r\n\r\n", 50) + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false, 502, `{"error":"backend unavailable"}` + "\n", false},
		{"bare CR in the reason", "HTTP/1.1 200 OK\rX-Injected: 1\r\nContent-Length: 2\r\n\r\nok", false, 200, "ok", true},
		{"no reason", "HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok", false, 200, "ok", true},
		{"bare LF lines", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", false, 200, "ok", true},
		{"leading zeros in Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 0002\r\n\r\nok", false, 200, "ok", true},
		{"chunked in capitals", "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", false, 200, "ok", true},
		{"obs-text in a value", "HTTP/1.1 200 OK\r\nX-A: \x80\xff\r\nContent-Length: 2\r\n\r\nok", false, 200, "ok", true},
		{"HTTP/1.0 until the close", "HTTP/1.0 200 OK\r\n\r\nok", true, 200, "ok", false},
		{"HTTP/1.0 keep-alive is not kept", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", false, 200, "ok", false},
		{"Connection: close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", false, 200, "ok", false},
		{"Content-Length as a list", "HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok", false, 502, `{"error":"backend unavailable"}` + "\n", false},
		{"Content-Length of 19 digits", "HTTP/1.1 200 OK\r\nContent-Length: 1000000000000000000\r\n\r\nok", false, 502, `{"error":"backend unavailable"}` + "\n", false},
		{"chunked on HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", false, 502, `{"error":"backend unavailable"}` + "\n", false},
		{"space in the status code", "HTTP/1.1 20 0 OK\r\nContent-Length: 2\r\n\r\nok", false, 502, `{"error":"backend unavailable"}` + "\n", false},
		{"HTTP/1.2", "HTTP/1.2 200 OK\r\nContent-Length: 2\r\n\r\nok", false, 502, `{"error":"backend unavailable"}` + "\n", false},
		{"colon first in a field", "HTTP/1.1 200 OK\r\n: x\r\nContent-Length: 2\r\n\r\nok", false, 502, `{"error":"backend unavailable"}` + "\n", false},
		{"CR inside a field", "HTTP/1.1 200 OK\r\nX-A: a\rSet-Cookie: s=1\r\nContent-Length: 2\r\n\r\nok", false, 502, `{"error":"backend unavailable"}` + "\n", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newRawBackend(t, func(n int, head string) (string, bool) {
				if n == 0 {
					return tc.raw, tc.closeAfter
				}
				return "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext", false
			})
			e := newEnv(t, proxyConfig())
			e.deploy(topo("t", svc("s", b.URL())))
			resp, body := e.get("/gateway/t/s/x", "Connection", "Upgrade", "Upgrade", "h2c")
			if resp.StatusCode != tc.status || body != tc.body {
				t.Fatalf("%d %q, want %d %q", resp.StatusCode, body, tc.status, tc.body)
			}
			for _, k := range []string{"X-Injected", "Upgrade", "X-H", "Set-Cookie"} {
				if v := resp.Header.Get(k); v != "" {
					t.Fatalf("the client got %s: %q", k, v)
				}
			}
			if resp, body := e.get("/gateway/t/s/y"); resp.StatusCode != 200 || body != "next" {
				t.Fatalf("the next request: %d %q", resp.StatusCode, body)
			}
			if reused := b.conns.Load() == 1; reused != tc.reused {
				t.Fatalf("%d backend connections for two requests, want reuse %v", b.conns.Load(), tc.reused)
			}
		})
	}
}

// A backend's trailer section reaches the client as the backend sent it,
// through both HTTP/1 fronts alike: the head keeps the head's fields (one
// the trailer declares too: a checksum announced in the head and sent
// again at the end), the trailer holds the fields the trailer brought and
// only those (not the head's values again, nor a declared field that did
// not come), declared or not: net/http's server sends undeclared trailers
// (http.TrailerPrefix), and RFC 9110 §6.6.2 makes Trailer a SHOULD, not a
// filter for the recipient.
func TestBackendTrailers(t *testing.T) {
	names := []string{"X-A", "X-B", "X-C"}
	for _, tt := range []struct {
		name          string
		head, trailer string // raw fields, each ending in CRLF
		wantHead      http.Header
		wantTrailer   http.Header
	}{
		{"declared, in the head too",
			"X-A: head\r\nTrailer: X-A\r\n", "X-A: end\r\n",
			http.Header{"X-A": {"head"}}, http.Header{"X-A": {"end"}}},
		{"declared, in the head, not sent",
			"X-A: head\r\nTrailer: X-A\r\n", "",
			http.Header{"X-A": {"head"}}, http.Header{}},
		{"another sent than declared",
			"Trailer: X-A\r\n", "X-B: 1\r\n",
			http.Header{}, http.Header{"X-B": {"1"}}},
		{"two declared, one of them and another sent",
			"Trailer: X-A, X-B\r\n", "X-B: 2\r\nX-C: 3\r\n",
			http.Header{}, http.Header{"X-B": {"2"}, "X-C": {"3"}}},
		{"declared in the head, sent with an undeclared one",
			"X-A: head\r\nTrailer: X-A\r\n", "X-A: end\r\nX-B: 1\r\n",
			http.Header{"X-A": {"head"}}, http.Header{"X-A": {"end"}, "X-B": {"1"}}},
		{"none declared",
			"", "X-B: 1\r\nX-B: 2\r\n",
			http.Header{}, http.Header{"X-B": {"1", "2"}}},
		{"undeclared, in the head too",
			"X-B: head\r\n", "X-B: end\r\n",
			http.Header{"X-B": {"head"}}, http.Header{"X-B": {"end"}}},
	} {
		raw := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n" + tt.head + "\r\n2\r\nok\r\n0\r\n" + tt.trailer + "\r\n"
		b := newRawBackend(t, func(int, string) (string, bool) { return raw, false })
		for _, kind := range []string{frontend.KindLean, frontend.KindNetHTTP} {
			t.Run(tt.name+"/"+kind, func(t *testing.T) {
				e := frontTo(t, kind, b.URL())
				_, br := dialWrite(t, e.addr(), "GET /gateway/t/s/x HTTP/1.1\r\nHost: gw\r\nTE: trailers\r\n\r\n")
				resp := readOK(t, br)
				gotHead, gotTrailer := http.Header{}, http.Header{}
				for _, k := range names {
					if v := resp.Header[k]; len(v) > 0 {
						gotHead[k] = v
					}
					if v := resp.Trailer[k]; len(v) > 0 { // a declared name that did not come is nil
						gotTrailer[k] = v
					}
				}
				if !reflect.DeepEqual(gotHead, tt.wantHead) || !reflect.DeepEqual(gotTrailer, tt.wantTrailer) {
					t.Fatalf("head %v trailer %v, want head %v trailer %v", gotHead, gotTrailer, tt.wantHead, tt.wantTrailer)
				}
			})
		}
	}
}

// A backend may send a few informational answers before its final one
// (early hints are relayed to an HTTP/1.1 client); one that goes on
// sending them past maxInformational (net/http's Transport stops at 5)
// gets the client a 502, its connection is not reused, and at most that
// many hints reached the client before it.
func TestTooManyInformationalAnswers(t *testing.T) {
	hints := func(n int) string {
		return strings.Repeat("HTTP/1.1 103 Early Hints\r\nX-Hint: 1\r\n\r\n", n)
	}
	for _, tt := range []struct {
		name   string
		hints  int
		status int
	}{
		{"five hints", 5, http.StatusOK},
		{"six hints", 6, http.StatusBadGateway},
		{"a flood", 10_000, http.StatusBadGateway},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := newRawBackend(t, func(n int, head string) (string, bool) {
				if strings.HasPrefix(head, "GET /hints ") {
					return hints(tt.hints) + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false
				}
				return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false
			})
			e := newEnv(t, proxyConfig())
			e.deploy(topo("t", svc("s", b.URL())))
			_, br := dialWrite(t, e.addr(), "GET /gateway/t/s/hints HTTP/1.1\r\nHost: gw\r\n\r\n")
			relayed := 0
			var (
				resp *http.Response
				err  error
			)
			for {
				// http.ReadResponse returns each 1xx as it comes.
				if resp, err = http.ReadResponse(br, nil); err != nil {
					t.Fatalf("after %d hints: %v", relayed, err)
				}
				if resp.StatusCode != http.StatusEarlyHints {
					break
				}
				relayed++
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || relayed > proxy.MaxInformational {
				t.Fatalf("%d %q after %d hints relayed, want %d after at most %d", resp.StatusCode, body, relayed, tt.status, proxy.MaxInformational)
			}
			if tt.status == http.StatusBadGateway && strings.Contains(string(body), "127.0.0.1") {
				t.Fatalf("the 502 names the backend: %q", body)
			}
			// The next request is served on a connection of its own when
			// the flooding one was dropped (its bytes are no answer).
			before := b.conns.Load()
			if resp, body := e.get("/gateway/t/s/next"); resp.StatusCode != 200 || body != "ok" {
				t.Fatalf("next request: %d %q", resp.StatusCode, body)
			}
			if fresh := b.conns.Load() - before; tt.status == http.StatusBadGateway && fresh != 1 || tt.status == http.StatusOK && fresh != 0 {
				t.Fatalf("the next request dialled %d new backend connections", fresh)
			}
		})
	}
}

// A WebSocket backend's informational answers before its 101 are read
// past, not relayed (the client waits for the handshake's answer); more
// than the bound fail the handshake with 502, as on the HTTP path.
func TestInformationalAnswersBeforeWebSocket101(t *testing.T) {
	for _, tt := range []struct {
		name   string
		hints  int
		status int
	}{
		{"two hints", 2, http.StatusSwitchingProtocols},
		{"a flood", 50, http.StatusBadGateway},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := newRawBackend(t, func(n int, head string) (string, bool) {
				var key string
				for _, line := range strings.Split(head, "\r\n") {
					if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Sec-WebSocket-Key") {
						key = strings.TrimSpace(v)
					}
				}
				sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
				return strings.Repeat("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n", tt.hints) +
					"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
					base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n", true // the handshake is all this test needs
			})
			e := newEnv(t, proxyConfig())
			e.deploy(topo("t", wsService("ws", b.URL(), nil)))
			c, resp, err := websocket.DefaultDialer.Dial(wsURL(e, "/gateway/t/ws/x"), nil)
			if c != nil {
				defer c.Close()
			}
			if resp == nil || resp.StatusCode != tt.status {
				t.Fatalf("handshake: %v %v, want %d", resp, err, tt.status)
			}
			if tt.status == http.StatusSwitchingProtocols && err != nil {
				t.Fatalf("handshake: %v", err)
			}
		})
	}
}

// A backend that ends a kept-alive connection after its answer, closing
// it or only its sending side (and reading on): the gateway's next request
// on that connection gets no answer there, and is sent again on a new
// connection at once, not after the answer timeout. (A bodyless request
// is sent from inside the wait for its answer, h1.FlushOnRead: the end of
// the connection seen before that wait began must still count.)
func TestBackendEndingIdleConnectionCostsNoTimeout(t *testing.T) {
	for _, halfClose := range []bool{false, true} {
		t.Run(fmt.Sprintf("half-close=%v", halfClose), func(t *testing.T) {
			ended := make(chan struct{}, 3) // the backend ended (its side of) a connection
			opts := []rawOption{endsTo(ended)}
			if halfClose {
				opts = append(opts, halfClosing())
			}
			b := newRawBackend(t, func(int, string) (string, bool) {
				return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true
			}, opts...)
			e := newEnv(t, proxyConfig())
			s := svc("s", b.URL())
			s.Dispatch = &topology.Dispatch{ResponseHeaderTimeout: topology.Duration(time.Minute)}
			e.deploy(topo("t", s))
			for i := 0; i < 3; i++ {
				start := time.Now()
				resp, body := e.get("/gateway/t/s/x")
				if took := time.Since(start); resp.StatusCode != 200 || body != "ok" || took > 10*time.Second {
					t.Fatalf("request %d: %d %q after %v", i+1, resp.StatusCode, body, took)
				}
				<-ended // before the next request, which the gateway sends on this connection first
			}
			if b.conns.Load() != 3 || b.reqs.Load() != 3 {
				t.Fatalf("%d connections, %d answers for 3 requests", b.conns.Load(), b.reqs.Load())
			}
		})
	}
}
