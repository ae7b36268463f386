package frontend_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/securegw/gateway/proxy/frontend"
)

// versioned answers "ok" (a length the server computes), or streams an
// answer of no length (/stream), says close itself (/close), or sends a
// 103 first (/early).
var versioned = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	switch r.URL.Path {
	case "/stream":
		_, _ = io.WriteString(w, "part")
		w.(http.Flusher).Flush()
	case "/close":
		w.Header().Set("Connection", "close")
	case "/early":
		w.WriteHeader(http.StatusEarlyHints)
	}
	_, _ = io.WriteString(w, "ok")
})

// answerHeads writes raw, then an HTTP/1.0 request that closes, on a new
// connection, and returns each answer's status line and Connection field
// up to the close ("HTTP/1.0 200 [keep-alive]", "HTTP/1.0 200 [] (close)"
// when a client reads it as closing): the version each answer is in, what
// it says of the connection, and whether the connection was kept (then
// the last request is answered). A first request of raw that
// is a HEAD is read as one.
func answerHeads(t *testing.T, addr, raw string) []string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw+"GET /end HTTP/1.0\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var heads []string
	for {
		req := &http.Request{Method: http.MethodGet}
		if len(heads) == 0 && strings.HasPrefix(raw, "HEAD ") {
			req.Method = http.MethodHead
		}
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			if isTimeout(err) {
				t.Fatalf("after %q: the server neither answered nor closed", heads)
			}
			return heads
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			t.Fatalf("after %q: body: %v", heads, err)
		}
		head := fmt.Sprintf("%s %d %v", resp.Proto, resp.StatusCode, resp.Header["Connection"])
		if resp.Close {
			head += " (close)" // (ReadResponse takes an HTTP/1.1 Connection: close away)
		}
		heads = append(heads, head)
	}
}

// An answer to an HTTP/1.0 request is in HTTP/1.0, and the connection is
// kept or closed, and the answer says so: an HTTP/1.0 request whose first
// Connection field holds keep-alive keeps it when the answer has a length
// (net/http's wantsHttp10KeepAlive), unless a close option stands beside
// it or in any field (RFC 9112 §9.6: the close is honoured, which Go's
// server alone does not do; then the answer says close); a closing
// HTTP/1.0 answer to a request without the option says nothing of it
// (1.0's default). Both fronts, the heads simpleRequest reads and those it
// leaves to http.ReadRequest.
func TestHTTP10Answers(t *testing.T) {
	const end = "HTTP/1.0 200 [] (close)" // the closing request's answer: the connection was kept
	tests := []struct {
		name string
		raw  string
		want []string
	}{
		{"HTTP/1.0 closes", "GET /a HTTP/1.0\r\n\r\n", []string{"HTTP/1.0 200 [] (close)"}},
		{"HTTP/1.0 with Host closes", "GET /a HTTP/1.0\r\nHost: x\r\n\r\n", []string{"HTTP/1.0 200 [] (close)"}},
		{"HTTP/1.0 keep-alive", "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", []string{"HTTP/1.0 200 [keep-alive]", end}},
		{"HTTP/1.0 pipelined", "GET /a HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\nGET /b HTTP/1.0\r\nHost: x\r\nconnection: keep-alive\r\n\r\n",
			[]string{"HTTP/1.0 200 [keep-alive]", "HTTP/1.0 200 [keep-alive]", end}},
		{"HTTP/1.1 stays HTTP/1.1", "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", []string{"HTTP/1.1 200 []", end}},
		{"HTTP/1.1 keep-alive, close closes", "GET /a HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, close\r\n\r\n", []string{"HTTP/1.1 200 [] (close)"}},
		{"HTTP/1.0 Keep-Alive, close closes", "GET /a HTTP/1.0\r\nConnection: Keep-Alive, close\r\n\r\n", []string{"HTTP/1.0 200 [close] (close)"}},
		{"HTTP/1.0 close, keep-alive closes", "GET /a HTTP/1.0\r\nConnection: close, keep-alive\r\n\r\n", []string{"HTTP/1.0 200 [close] (close)"}},
		{"HTTP/1.0 keep-alive, then a close field, closes", "GET /a HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
			[]string{"HTTP/1.0 200 [close] (close)"}},
		{"HTTP/1.0 close, then a keep-alive field, closes", "GET /a HTTP/1.0\r\nConnection: close\r\nConnection: keep-alive\r\n\r\n",
			[]string{"HTTP/1.0 200 [close] (close)"}},
		{"HTTP/1.0 close closes", "GET /a HTTP/1.0\r\nConnection: close\r\n\r\n", []string{"HTTP/1.0 200 [close] (close)"}},
		{"HTTP/1.0 keep-alive in a later field closes", "GET /a HTTP/1.0\r\nConnection: x-a\r\nConnection: keep-alive\r\n\r\n",
			[]string{"HTTP/1.0 200 [] (close)"}},
		{"HTTP/1.0 keep-alive, close with a body (ReadRequest's head)",
			"POST /a HTTP/1.0\r\nConnection: keep-alive, close\r\nContent-Length: 3\r\n\r\nabc", []string{"HTTP/1.0 200 [close] (close)"}},
		{"HTTP/1.0 keep-alive, close, answer of no length", "GET /stream HTTP/1.0\r\nConnection: Keep-Alive, close\r\n\r\n",
			[]string{"HTTP/1.0 200 [close] (close)"}},
		{"HTTP/1.0 keep-alive, close, HEAD", "HEAD /a HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", []string{"HTTP/1.0 200 [close] (close)"}},
		{"HTTP/1.0 keep-alive, the handler closes", "GET /close HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", []string{"HTTP/1.0 200 [close] (close)"}},
		{"HTTP/1.0 gets no 103", "GET /early HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", []string{"HTTP/1.0 200 [keep-alive]", end}},
		{"HTTP/1.1 gets the 103", "GET /early HTTP/1.1\r\nHost: x\r\n\r\n", []string{"HTTP/1.1 103 []", "HTTP/1.1 200 []", end}},
		{"HTTP/1.0 unknown Expect: the request's version", "GET /a HTTP/1.0\r\nExpect: teapot\r\n\r\n", []string{"HTTP/1.0 417 [close] (close)"}},
		{"HTTP/1.0 malformed Host: refused before, in HTTP/1.1", "GET /a HTTP/1.0\r\nHost: a b\r\n\r\n", []string{"HTTP/1.1 400 [] (close)"}},
	}
	forKinds(t, func(t *testing.T, kind string) {
		_, addr := serveFront(t, kind, versioned, frontend.ServerOptions{})
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				if got := answerHeads(t, addr, tc.raw); fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Fatalf("%q:\n got %q\nwant %q", tc.raw, got, tc.want)
				}
			})
		}
	})
}

// The h2c prior-knowledge preface (PRI * HTTP/2.0, cleartext HTTP/2,
// which the gateway does not speak) and every other HTTP/2 request line
// on an HTTP/1 connection (plain, or TLS whose ALPN chose http/1.1) get
// 505 and a close, on both fronts, before the handler: net/http's server would hand the preface to it (for handlers
// that take HTTP/2 over), the proxy would log it and answer it, and keep
// the connection when a field came with it.
func TestHTTP2RequestLineRefused(t *testing.T) {
	tests := []struct{ name, raw string }{
		{"h2c preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"},
		{"preface head alone", "PRI * HTTP/2.0\r\n\r\n"},
		{"preface with a field", "PRI * HTTP/2.0\r\nHost: x\r\n\r\n"},
		{"preface with a field, then a request", "PRI * HTTP/2.0\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"PRI of a path", "PRI /a HTTP/2.0\r\nHost: x\r\n\r\n"},
		{"GET in HTTP/2.0", "GET /a HTTP/2.0\r\nHost: x\r\n\r\n"},
	}
	cfg, ca := serverTLS(t)
	var handled atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handled.Add(1)
		_, _ = io.WriteString(w, "handled")
	})
	forKinds(t, func(t *testing.T, kind string) {
		_, addr := serveFront(t, kind, h, frontend.ServerOptions{})
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				handled.Store(0)
				statuses, bodies, closed := exchange(t, addr, tc.raw)
				if fmt.Sprint(statuses) != "[505]" || !closed || !strings.HasPrefix(bodies[0], "505 HTTP Version Not Supported") {
					t.Fatalf("statuses %v bodies %q closed %v, want [505] closed", statuses, bodies, closed)
				}
				if n := handled.Load(); n != 0 {
					t.Fatalf("the handler got %d requests", n)
				}
			})
		}
		t.Run("over TLS, ALPN http/1.1", func(t *testing.T) {
			handled.Store(0)
			_, tlsAddr := serveFront(t, kind, h, frontend.ServerOptions{TLSConfig: cfg})
			c, err := tls.Dial("tcp", tlsAddr, &tls.Config{RootCAs: ca.Pool(), NextProtos: []string{"http/1.1"}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.WriteString(c, "PRI * HTTP/2.0\r\nHost: x\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 505 || handled.Load() != 0 {
				t.Fatalf("%d %q, handler got %d requests; want 505 before the handler", resp.StatusCode, body, handled.Load())
			}
			if _, err := br.ReadByte(); err != io.EOF {
				t.Fatalf("after the answer: %v, want the connection closed", err)
			}
		})
	})
}

// A TLS client that offers only http/1.0 by ALPN (curl --http1.0 does)
// completes its handshake and is served HTTP/1.0 on both fronts; one that
// offers http/1.1 or h2 gets what it offered first that the server has,
// and one that offers only protocols the server lacks is refused
// (crypto/tls's no_application_protocol).
func TestTLSALPNHTTP10(t *testing.T) {
	cfg, ca := serverTLS(t)
	tests := []struct {
		offer []string
		proto string // negotiated; "-" the handshake fails
		req   string
		want  string // status line
	}{
		{[]string{"http/1.0"}, "http/1.0", "GET /a HTTP/1.0\r\n\r\n", "HTTP/1.0 200 OK"},
		{[]string{"http/1.1"}, "http/1.1", "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "HTTP/1.1 200 OK"},
		{nil, "", "GET /a HTTP/1.0\r\n\r\n", "HTTP/1.0 200 OK"},
		{[]string{"h2", "http/1.1"}, "h2", "", ""},
		{[]string{"spdy/3"}, "-", "", ""},
	}
	forKinds(t, func(t *testing.T, kind string) {
		_, addr := serveFront(t, kind, versioned, frontend.ServerOptions{TLSConfig: cfg})
		for _, tc := range tests {
			c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), NextProtos: tc.offer})
			if tc.proto == "-" {
				if err == nil {
					c.Close()
					t.Errorf("offer %q: the handshake succeeded, want it refused", tc.offer)
				}
				continue
			}
			if err != nil {
				t.Fatalf("offer %q: %v", tc.offer, err)
			}
			if got := c.ConnectionState().NegotiatedProtocol; got != tc.proto {
				t.Errorf("offer %q: negotiated %q, want %q", tc.offer, got, tc.proto)
			}
			if tc.req != "" {
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := io.WriteString(c, tc.req); err != nil {
					t.Fatal(err)
				}
				line, err := bufio.NewReader(c).ReadString('\n')
				if err != nil || strings.TrimSpace(line) != tc.want {
					t.Errorf("offer %q: answer %q (%v), want %q", tc.offer, line, err, tc.want)
				}
			}
			c.Close()
		}
	})
}
