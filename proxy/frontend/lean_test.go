package frontend_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/securegw/gateway/internal/testlog"
	"github.com/securegw/gateway/proxy/frontend"
)

// kinds are the fronts every behaviour test runs against.
var kinds = []string{frontend.KindLean, frontend.KindNetHTTP}

// newFront builds a front of kind serving h and a loopback listener for
// it, not yet served.
func newFront(t *testing.T, kind string, h http.Handler, o frontend.ServerOptions) (*frontend.Front, net.Listener) {
	t.Helper()
	f, err := frontend.NewFront(h, o, kind)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return f, ln
}

// serveFront starts a front of kind serving h on a loopback port and
// returns the front and its address.
func serveFront(t *testing.T, kind string, h http.Handler, o frontend.ServerOptions) (*frontend.Front, string) {
	t.Helper()
	f, ln := newFront(t, kind, h, o)
	served := make(chan error, 1)
	go func() { served <- f.Serve(ln) }()
	t.Cleanup(func() {
		f.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return f, ln.Addr().String()
}

// forKinds runs f once per front kind.
func forKinds(t *testing.T, f func(t *testing.T, kind string)) {
	for _, k := range kinds {
		t.Run(k, func(t *testing.T) { f(t, k) })
	}
}

// exchange sends raw bytes on a new connection and reads every answer
// until the server closes the connection or goes quiet; it returns the
// statuses and whether the server closed.
func exchange(t *testing.T, addr, raw string) (statuses []int, bodies []string, closed bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go io.WriteString(c, raw)
	br := bufio.NewReader(c)
	for {
		c.SetReadDeadline(time.Now().Add(time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return statuses, bodies, false
			}
			return statuses, bodies, true
		}
		b, _ := io.ReadAll(resp.Body)
		statuses = append(statuses, resp.StatusCode)
		bodies = append(bodies, string(b))
	}
}

// echo answers with what it parsed: method, Host, path, body.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, "%s %s %s %q", r.Method, r.Host, r.URL.Path, b)
})

// The same raw requests get the same answers from both fronts: framing
// and smuggling shapes, Host rules, field validation, keep-alive rules.
func TestRawRequestsBothFronts(t *testing.T) {
	tests := []struct {
		name     string
		raw      string
		statuses []int
		body0    string // the first answer's body, when checked
		closed   bool   // the server closes after the answers
	}{
		{"keep-alive GET", "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", []int{200}, `GET x /a ""`, false},
		{"pipelined", "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: y\r\n\r\n", []int{200, 200}, `GET x /a ""`, false},
		{"bare LF lines", "GET /a HTTP/1.1\nHost: x\n\n", []int{200}, `GET x /a ""`, false},
		{"missing Host", "GET /a HTTP/1.1\r\n\r\n", []int{400}, "", true},
		{"absolute form without Host", "GET http://x/a HTTP/1.1\r\n\r\n", []int{400}, "", true},
		{"two Host fields", "GET /a HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", []int{400}, "", true},
		{"Host field in lower case", "GET /a HTTP/1.1\r\nhost: x\r\n\r\n", []int{200}, `GET x /a ""`, false},
		{"malformed Host", "GET /a HTTP/1.1\r\nHost: x y\r\n\r\n", []int{400}, "", true},
		{"folded Host", "GET /a HTTP/1.1\r\nHost: x\r\n y\r\n\r\n", []int{400}, "", true},
		// Only spaces and tabs around a value are white space (textproto):
		// a Host with other Unicode spaces around it is malformed.
		{"Host with U+0085 after it", "GET /a HTTP/1.1\r\nHost: x\xc2\x85\r\n\r\n", []int{400}, "", true},
		{"Host with U+00A0 before it", "GET /a HTTP/1.1\r\nHost: \xc2\xa0x\r\n\r\n", []int{400}, "", true},
		{"Host folded after an empty value", "GET /a HTTP/1.1\r\nHost:\r\n x\r\n\r\n", []int{200}, `GET x /a ""`, false},
		{"HTTP/1.0 without Host closes", "GET /a HTTP/1.0\r\n\r\n", []int{200}, `GET  /a ""`, true},
		{"HTTP/1.0 keep-alive", "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", []int{200}, `GET  /a ""`, false},
		{"Connection: close", "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n", []int{200}, "", true},
		{"space before colon", "GET /a HTTP/1.1\r\nHost: x\r\nX-A : b\r\n\r\n", []int{400}, "", true},
		{"control byte in a value", "GET /a HTTP/1.1\r\nHost: x\r\nX-A: b\x01c\r\n\r\n", []int{400}, "", true},
		{"malformed request line", "GET /a\r\nHost: x\r\n\r\n", []int{400}, "", true},
		{"target not a path", "GET a/b HTTP/1.1\r\nHost: x\r\n\r\n", []int{400}, "", true},
		{"bad escape in the target", "GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n", []int{400}, "", true},
		{"unknown version", "GET /a HTTP/3.1\r\nHost: x\r\n\r\n", []int{505}, "", true},
		{"CL and TE: chunked wins",
			"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", []int{200}, `POST x /a "abc"`, false},
		{"two Content-Lengths",
			"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", []int{400}, "", true},
		{"same Content-Length twice",
			"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", []int{200}, `POST x /a "abc"`, false},
		{"signed Content-Length", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc", []int{400}, "", true},
		{"unknown transfer coding", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", []int{501}, "", true},
		{"two TE fields", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", []int{501}, "", true},
		{"bad chunk size", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", []int{400}, "", true},
		{"body then next request",
			"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\nHost: x\r\n\r\n", []int{200, 200}, `POST x /a "abc"`, false},
		{"CRLF after a POST body (RFC 9112 §2.2)",
			"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n", []int{200, 200}, `POST x /a "abc"`, false},
		{"HTTP/1.0 Expect: 100-continue is ignored (RFC 9110 §10.1.1)",
			"POST /a HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc", []int{200}, `POST  /a "abc"`, true},
		{"unknown Expect", "GET /a HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n", []int{417}, "", true},
		// net/http's server reads the first Expect field only, and finds
		// the token between spaces too.
		{"unknown Expect, then 100-continue",
			"GET /a HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nExpect: 100-continue\r\n\r\n", []int{417}, "", true},
		{"100-continue among other words", "GET /a HTTP/1.1\r\nHost: x\r\nExpect: teapot 100-Continue\r\n\r\n", []int{200}, `GET x /a ""`, false},
		{"HEAD", "HEAD /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n", []int{200, 200}, "", false},
	}
	for _, kind := range kinds {
		_, addr := serveFront(t, kind, echo, frontend.ServerOptions{})
		for _, tc := range tests {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				raw := tc.raw
				if tc.name == "HEAD" {
					// http.ReadResponse cannot tell a HEAD answer has no
					// body: checked apart (TestHead).
					raw = strings.Replace(raw, "HEAD", "GET", 1)
				}
				st, bodies, closed := exchange(t, addr, raw)
				if fmt.Sprint(st) != fmt.Sprint(tc.statuses) || closed != tc.closed {
					t.Fatalf("statuses %v closed %v (bodies %q), want %v closed %v", st, closed, bodies, tc.statuses, tc.closed)
				}
				if tc.body0 != "" && bodies[0] != tc.body0 {
					t.Fatalf("first body %q, want %q", bodies[0], tc.body0)
				}
			})
		}
	}
}

// A HEAD answer has the head a GET would get and no body.
func TestHead(t *testing.T) {
	forKinds(t, func(t *testing.T, kind string) {
		_, addr := serveFront(t, kind, echo, frontend.ServerOptions{})
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "HEAD /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(c)
		head, err := http.ReadResponse(br, &http.Request{Method: http.MethodHead})
		if err != nil || head.StatusCode != 200 {
			t.Fatal(head, err)
		}
		get, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(get.Body)
		if string(b) != `GET x /b ""` {
			t.Fatalf("the answer after HEAD: %q (a HEAD body was sent?)", b)
		}
	})
}

// Answers: a small body of unknown length gets a Content-Length, a large
// or flushed one is chunked, with trailers (declared and prefixed); an
// event stream arrives event by event.
func TestAnswerFraming(t *testing.T) {
	next := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/small":
			io.WriteString(w, "small")
		case "/large":
			io.WriteString(w, strings.Repeat("x", 10000))
		case "/trailers":
			w.Header().Set("Trailer", "X-Sum")
			io.WriteString(w, "body")
			w.Header().Set("X-Sum", "4")
			w.Header().Set(http.TrailerPrefix+"X-Late", "yes")
		case "/events":
			w.Header().Set("Content-Type", "text/event-stream")
			for i := 0; i < 2; i++ {
				fmt.Fprintf(w, "data: %d\n\n", i)
				w.(http.Flusher).Flush()
				<-next
			}
		case "/nocontent":
			w.WriteHeader(http.StatusNoContent)
			if _, err := w.Write([]byte("x")); !errors.Is(err, http.ErrBodyNotAllowed) {
				panic(fmt.Sprintf("write after 204: %v", err))
			}
		case "/length":
			w.Header().Set("Content-Length", "3")
			io.WriteString(w, "abc")
			if _, err := io.WriteString(w, "d"); !errors.Is(err, http.ErrContentLength) {
				panic(fmt.Sprintf("write past Content-Length: %v", err))
			}
		}
	})
	forKinds(t, func(t *testing.T, kind string) {
		_, addr := serveFront(t, kind, h, frontend.ServerOptions{})
		client := &http.Client{Transport: &http.Transport{}}
		defer client.CloseIdleConnections()
		get := func(path string) (*http.Response, string) {
			t.Helper()
			resp, err := client.Get("http://" + addr + path)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			return resp, string(b)
		}
		if resp, b := get("/small"); resp.ContentLength != 5 || b != "small" || resp.Header.Get("Date") == "" {
			t.Fatalf("small: %d %q %v", resp.ContentLength, b, resp.Header)
		}
		if resp, b := get("/large"); resp.ContentLength != -1 || len(resp.TransferEncoding) != 1 || len(b) != 10000 {
			t.Fatalf("large: %d %v %d", resp.ContentLength, resp.TransferEncoding, len(b))
		}
		if resp, b := get("/trailers"); b != "body" || resp.Trailer.Get("X-Sum") != "4" || resp.Trailer.Get("X-Late") != "yes" || resp.Header.Get("X-Sum") != "" {
			t.Fatalf("trailers: %q header %v trailer %v", b, resp.Header, resp.Trailer)
		}
		if resp, b := get("/nocontent"); resp.StatusCode != 204 || b != "" {
			t.Fatalf("204: %d %q", resp.StatusCode, b)
		}
		if resp, b := get("/length"); resp.ContentLength != 3 || b != "abc" {
			t.Fatalf("length: %d %q", resp.ContentLength, b)
		}
		resp, err := client.Get("http://" + addr + "/events")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		for i := 0; i < 2; i++ {
			line, err := br.ReadString('\n')
			if err != nil || line != fmt.Sprintf("data: %d\n", i) {
				t.Fatalf("event %d: %q %v", i, line, err)
			}
			br.ReadString('\n')
			next <- struct{}{} // the event came before the handler went on
		}
	})
}

// Expect: 100-continue: the 100 goes out when the handler reads the body,
// never when it answers without reading (then the connection closes).
func TestExpectContinue(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/refuse":
			http.Error(w, "no", http.StatusForbidden)
			return
		case "/early":
			// The answer's head goes out after 100 Continue, before the
			// body's end is read (a proxy's backend answering on seeing
			// the last bytes): the body comes, the connection stays.
			one := make([]byte, 1)
			io.ReadFull(r.Body, one)
			w.Write(one)
			w.(http.Flusher).Flush()
			rest, _ := io.ReadAll(r.Body)
			w.Write(rest)
			return
		}
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	})
	forKinds(t, func(t *testing.T, kind string) {
		_, addr := serveFront(t, kind, h, frontend.ServerOptions{})
		for _, tc := range []struct {
			path, expect string
			continue100  bool
			status       int
		}{
			{"/read", "100-continue", true, 200},
			{"/refuse", "100-continue", false, 403},
			{"/early", "100-continue", true, 200},
			// The token among others, as net/http's server reads it.
			{"/read", "x 100-Continue", true, 200},
		} {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, "PUT "+tc.path+" HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: "+tc.expect+"\r\n\r\n")
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.StatusCode == 100; got != tc.continue100 {
				t.Fatalf("%s: first answer %d", tc.path, resp.StatusCode)
			}
			if tc.continue100 {
				io.WriteString(c, "abc")
				if resp, err = http.ReadResponse(br, nil); err != nil {
					t.Fatal(err)
				}
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || tc.status == 200 && string(b) != "abc" {
				t.Fatalf("%s: %d %q", tc.path, resp.StatusCode, b)
			}
			if !tc.continue100 && !resp.Close {
				t.Fatalf("%s: the connection stays open for a body the client may send", tc.path)
			}
			if tc.continue100 && resp.Close && kind == frontend.KindLean {
				// (net/http's server closes when the body's end was not
				// read before the answer's head, 100 Continue sent or not.)
				t.Fatalf("%s: the connection closes although 100 Continue went out and the body came", tc.path)
			}
		}
	})
}

// The request context ends when the client goes away while the handler
// waits on it.
func TestClientGoneCancels(t *testing.T) {
	forKinds(t, func(t *testing.T, kind string) {
		waiting, ended := make(chan struct{}), make(chan error, 1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			close(waiting)
			select {
			case <-r.Context().Done():
				ended <- r.Context().Err()
			case <-time.After(10 * time.Second):
				ended <- errors.New("not canceled")
			}
		})
		_, addr := serveFront(t, kind, h, frontend.ServerOptions{})
		postThenLeave(t, addr, waiting, ended)
	})
}

// postThenLeave sends a POST with a 2-byte body to addr, closes the
// connection once the handler read it (waiting closed), and fails t
// unless the handler then saw its context canceled (on ended).
func postThenLeave(t *testing.T, addr string, waiting <-chan struct{}, ended <-chan error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
	<-waiting
	c.Close()
	if err := <-ended; !errors.Is(err, context.Canceled) {
		t.Fatalf("context: %v", err)
	}
}

// A request after a handler that watched its context (the watch read
// ahead nothing, or the next request's first byte) is served.
func TestWatchThenNextRequest(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(50 * time.Millisecond):
		}
		io.WriteString(w, r.URL.Path)
	})
	forKinds(t, func(t *testing.T, kind string) {
		_, addr := serveFront(t, kind, h, frontend.ServerOptions{})
		st, bodies, closed := exchange(t, addr, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
		if fmt.Sprint(st) != "[200 200]" || closed || bodies[1] != "/b" {
			t.Fatalf("%v %q closed %v", st, bodies, closed)
		}
	})
}

// Hijack hands over the connection with the bytes the server buffered.
func TestHijack(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		defer c.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		rw.Flush()
		line, _ := rw.ReadString('\n')
		rw.WriteString("echo: " + line)
		rw.Flush()
	})
	forKinds(t, func(t *testing.T, kind string) {
		_, addr := serveFront(t, kind, h, frontend.ServerOptions{})
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		// The first line after the head comes in the same write: the
		// server has it buffered.
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nhello\n")
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 101 {
			t.Fatal(resp, err)
		}
		if line, err := br.ReadString('\n'); line != "echo: hello\n" {
			t.Fatalf("%q %v", line, err)
		}
	})
}

// A panicking handler is logged and its connection closed; one that
// panics with http.ErrAbortHandler is not logged.
func TestPanics(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/abort" {
			panic(http.ErrAbortHandler)
		}
		panic("boom")
	})
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			logs := &testlog.Buffer{}
			_, addr := serveFront(t, kind, h, frontend.ServerOptions{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
			for _, path := range []string{"/abort", "/boom"} {
				st, _, closed := exchange(t, addr, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
				if len(st) != 0 || !closed {
					t.Fatalf("%s: %v closed %v", path, st, closed)
				}
			}
			deadline := time.Now().Add(5 * time.Second)
			for !strings.Contains(logs.String(), "boom") {
				if time.Now().After(deadline) {
					t.Fatalf("panic not logged: %s", logs)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if strings.Contains(logs.String(), "abort Handler") {
				t.Fatalf("ErrAbortHandler logged: %s", logs)
			}
		})
	}
}

// Shutdown closes idle connections at once, lets a request in flight
// finish (its answer says the connection closes), and refuses new ones.
func TestShutdown(t *testing.T) {
	forKinds(t, func(t *testing.T, kind string) {
		inFlight, release := make(chan struct{}), make(chan struct{})
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				close(inFlight)
				<-release
			}
			io.WriteString(w, "done")
		})
		f, addr := serveFront(t, kind, h, frontend.ServerOptions{})
		idle, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer idle.Close()
		io.WriteString(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		ibr := bufio.NewReader(idle)
		if resp, err := http.ReadResponse(ibr, nil); err != nil || resp.StatusCode != 200 {
			t.Fatal(resp, err)
		} else {
			io.Copy(io.Discard, resp.Body)
		}
		busy, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer busy.Close()
		io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
		<-inFlight
		shut := make(chan error, 1)
		go func() { shut <- f.Shutdown(context.Background()) }()
		idle.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := ibr.ReadByte(); err == nil || isTimeout(err) {
			t.Fatalf("idle connection not closed: %v", err)
		}
		select {
		case err := <-shut:
			t.Fatalf("Shutdown returned with a request in flight: %v", err)
		default:
		}
		close(release)
		busy.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(busy), nil)
		if err != nil || resp.StatusCode != 200 || !resp.Close {
			t.Fatalf("in-flight answer: %v %v", resp, err)
		}
		if err := <-shut; err != nil {
			t.Fatal(err)
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Fatal("new connections accepted after Shutdown")
		}
	})
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// A head larger than the pooled buffer is read whole (up to the limit),
// and the connection goes on serving.
func TestLargeHead(t *testing.T) {
	forKinds(t, func(t *testing.T, kind string) {
		_, addr := serveFront(t, kind, echo, frontend.ServerOptions{})
		big := "GET /a HTTP/1.1\r\nHost: x\r\nCookie: " + strings.Repeat("c", 20<<10) + "\r\n\r\n"
		st, _, closed := exchange(t, addr, big+"GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
		if fmt.Sprint(st) != "[200 200]" || closed {
			t.Fatalf("%v closed %v", st, closed)
		}
	})
}

// On a TLS front, a client offering HTTP/2 gets HTTP/2 (net/http's
// server) and one offering only HTTP/1.1 gets the front's HTTP/1.1; both
// see the TLS state.
func TestTLSFrontProtocols(t *testing.T) {
	cfg, ca := serverTLS(t)
	var sawTLS atomic.Bool
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawTLS.Store(r.TLS != nil && r.TLS.HandshakeComplete)
		io.WriteString(w, r.Proto)
	})
	forKinds(t, func(t *testing.T, kind string) {
		_, addr := serveFront(t, kind, h, frontend.ServerOptions{TLSConfig: cfg})
		for _, tc := range []struct {
			h2   bool
			want string
		}{{true, "HTTP/2.0"}, {false, "HTTP/1.1"}} {
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: tc.h2}
			if !tc.h2 {
				tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
			}
			for i := 0; i < 2; i++ { // the second request reuses the connection
				resp, err := (&http.Client{Transport: tr}).Get("https://" + addr + "/")
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != tc.want || resp.Proto != tc.want || !sawTLS.Load() {
					t.Fatalf("served %q over %s (TLS seen %v), want %s", b, resp.Proto, sawTLS.Load(), tc.want)
				}
			}
			tr.CloseIdleConnections()
		}
	})
}

// A proxied body of known length goes to ReadFrom as the rest of it on
// the backend connection, under an io.LimitedReader, after the part that
// was buffered: the client gets all of it, the limited reader counts what
// was taken, and nothing after the body is read from the backend
// connection (the next answer on it stays there).
func TestReadFromLimitedConn(t *testing.T) {
	forKinds(t, func(t *testing.T, kind string) {
		const prefix, rest = 1000, 3<<20 + 5
		bln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { bln.Close() })
		go func() {
			c, err := bln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			_, _ = c.Write([]byte(strings.Repeat("b", rest) + "NEXT"))
			_, _ = io.Copy(io.Discard, c) // until the test closes its end
		}()
		backend, err := net.Dial("tcp", bln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { backend.Close() })
		type result struct {
			n, left int64
			err     error
			next    string
		}
		done := make(chan result, 1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(prefix+rest))
			_, _ = w.Write([]byte(strings.Repeat("a", prefix)))
			lr := &io.LimitedReader{R: backend, N: rest}
			n, err := w.(io.ReaderFrom).ReadFrom(lr)
			next := make([]byte, 4)
			_ = backend.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, _ = io.ReadFull(backend, next)
			done <- result{n, lr.N, err, string(next)}
		})
		_, addr := serveFront(t, kind, h, frontend.ServerOptions{})
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || len(body) != prefix+rest || string(body[prefix-1:prefix+1]) != "ab" || body[len(body)-1] != 'b' {
			t.Fatalf("client got %d bytes (%v), want %d", len(body), err, prefix+rest)
		}
		res := <-done
		if res.err != nil || res.n != rest || res.left != 0 {
			t.Fatalf("ReadFrom = %d, %v with %d left in the limited reader; want %d, nil, 0", res.n, res.err, res.left, rest)
		}
		if res.next != "NEXT" {
			t.Fatalf("the backend connection's next bytes = %q, want NEXT (ReadFrom read past the body)", res.next)
		}
	})
}

// flakyListener fails its first Accepts with a temporary error, as a
// listener out of descriptors does (EMFILE).
type flakyListener struct {
	net.Listener
	fails atomic.Int32
}

type temporaryErr struct{}

func (temporaryErr) Error() string   { return "accept: too many open files" }
func (temporaryErr) Temporary() bool { return true }
func (temporaryErr) Timeout() bool   { return false }

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.fails.Add(-1) >= 0 {
		return nil, temporaryErr{}
	}
	return l.Listener.Accept()
}

// Accept errors such as running out of descriptors are waited out: the
// front keeps serving once accepting works again.
func TestAcceptErrorsRetried(t *testing.T) {
	forKinds(t, func(t *testing.T, kind string) {
		f, ln := newFront(t, kind, echo, frontend.ServerOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		fl := &flakyListener{Listener: ln}
		fl.fails.Store(3)
		served := make(chan error, 1)
		go func() { served <- f.Serve(fl) }()
		defer func() {
			f.Close()
			if err := <-served; !errors.Is(err, http.ErrServerClosed) {
				t.Errorf("serve: %v", err)
			}
		}()
		st, _, _ := exchange(t, ln.Addr().String(), "GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
		if fmt.Sprint(st) != "[200]" {
			t.Fatalf("after accept errors: %v", st)
		}
	})
}

// WriteTimeout bounds the answer: a handler slower than it gets its
// connection closed.
func TestWriteTimeout(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, strings.Repeat("x", 1<<20))
	})
	forKinds(t, func(t *testing.T, kind string) {
		_, addr := serveFront(t, kind, h, frontend.ServerOptions{WriteTimeout: 100 * time.Millisecond})
		resp, err := http.Get("http://" + addr + "/")
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if err == nil {
			t.Fatal("an answer past WriteTimeout arrived whole")
		}
	})
}

// A handler that reads the body in a goroutine (a proxy's upload) can
// write its answer while that read waits for the client: the answer is
// not held until more of the body comes.
func TestAnswerWhileBodyReadWaits(t *testing.T) {
	forKinds(t, func(t *testing.T, kind string) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_ = http.NewResponseController(w).EnableFullDuplex()
			got, reading := make(chan string, 1), make(chan struct{})
			go func() {
				b := make([]byte, 2)
				_, _ = io.ReadFull(r.Body, b)
				close(reading)
				rest, _ := io.ReadAll(r.Body)
				got <- string(b) + string(rest)
			}()
			<-reading
			// The goroutine's next read now blocks on the client; give it
			// the moment to start (the answer must not wait for it either
			// way: this only makes the hold, if any, certain).
			time.Sleep(20 * time.Millisecond)
			io.WriteString(w, "early")
			w.(http.Flusher).Flush()
			fmt.Fprintf(w, " %s", <-got)
		})
		_, addr := serveFront(t, kind, h, frontend.ServerOptions{})
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab")
		br := bufio.NewReader(c)
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("no answer while the body read waits: %v", err)
		}
		io.WriteString(c, "cd")
		b, err := io.ReadAll(resp.Body)
		if err != nil || string(b) != "early abcd" {
			t.Fatalf("body %q, %v", b, err)
		}
	})
}

// A connection that read one large head goes back to a pooled buffer
// once idle: it does not keep a buffer of MaxHeaderBytes.
func TestLargeHeadBufferReleased(t *testing.T) {
	_, addr := serveFront(t, frontend.KindLean, echo, frontend.ServerOptions{})
	big := "GET /a HTTP/1.1\r\nHost: x\r\nCookie: " + strings.Repeat("c", 20<<10) + "\r\n\r\n"
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for _, raw := range []string{big, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n"} {
		io.WriteString(c, raw)
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
	}
	for deadline := time.Now().Add(2 * time.Second); frontend.LargeReaders() != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections keep a large head buffer while idle", frontend.LargeReaders())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A connection that closes after the answer says so, whatever Connection
// field the handler set: a client must not send another request on it.
func TestCloseAnnouncedOverHandlerConnection(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "keep-alive")
		io.WriteString(w, "ok")
	})
	forKinds(t, func(t *testing.T, kind string) {
		_, addr := serveFront(t, kind, h, frontend.ServerOptions{})
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		if v := resp.Header.Values("Connection"); strings.Contains(strings.ToLower(strings.Join(v, ",")), "keep-alive") {
			t.Fatalf("the connection closes but the answer says Connection %q", v)
		}
	})
}

// A framing field declared as a trailer stays in the head: an answer
// that lost its Content-Length would run into the next one.
func TestTrailerCannotTakeFraming(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "Content-Length, X-Bad\r\nInjected")
		w.Header().Set("Content-Length", "3")
		io.WriteString(w, "abc")
	})
	forKinds(t, func(t *testing.T, kind string) {
		_, addr := serveFront(t, kind, h, frontend.ServerOptions{})
		st, bodies, closed := exchange(t, addr, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
		if fmt.Sprint(st) != "[200 200]" || closed || bodies[0] != "abc" {
			t.Fatalf("statuses %v closed %v bodies %q, want two answers of abc", st, closed, bodies)
		}
	})
}

// getOK sends GET / on a new connection to addr and returns the answer,
// its body ("ok", else t fails) read: its Trailer is filled.
func getOK(t *testing.T, addr string) *http.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || string(body) != "ok" {
		t.Fatalf("body %q %v", body, err)
	}
	return resp
}

// A name the Trailer header declares that is no valid field name (CR and
// LF in it) is written neither in the head nor in the trailer, whatever
// the header holds under it: net/http's server leaves such names out, and
// written as they are they would add fields of the handler's choosing to
// the answer.
func TestDeclaredTrailerNotAFieldName(t *testing.T) {
	const bad = "X-Bad: 1\r\nInjected"
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Trailer"] = []string{bad + ", X-Sum"}
		w.Header()[bad] = []string{"head"}
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "ok")
		w.Header()[bad] = []string{"end"}
		w.Header().Set("X-Sum", "end")
	})
	forKinds(t, func(t *testing.T, kind string) {
		_, addr := serveFront(t, kind, h, frontend.ServerOptions{})
		resp := getOK(t, addr)
		if v := resp.Header["Injected"]; v != nil {
			t.Errorf("the head has Injected: %q", v)
		}
		if v := resp.Trailer["Injected"]; v != nil {
			t.Errorf("the trailer has Injected: %q", v)
		}
		if v := resp.Trailer["X-Sum"]; !slices.Equal(v, []string{"end"}) {
			t.Errorf("X-Sum %q in the trailer, want [end]", v)
		}
	})
}

// A field the Trailer header declares goes out in the head with the value
// it had when the head was written (WriteHeader, or the first write), and
// in the trailer with its value at the handler's end, on both fronts alike
// (net/http's server copies the header at WriteHeader): the lean front
// writes its head later, and used to leave such a field out of it.
func TestDeclaredTrailerInTheHead(t *testing.T) {
	for _, tt := range []struct {
		name                  string
		handler               http.HandlerFunc
		wantHead, wantTrailer []string // X-Sum's values
	}{
		{"set before the head, again after the body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-Sum")
			w.Header().Set("X-Sum", "head")
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, "ok")
			w.Header().Set("X-Sum", "end")
		}, []string{"head"}, []string{"end"}},
		{"set before the first write, deleted after it", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-Sum")
			w.Header().Set("X-Sum", "head")
			io.WriteString(w, "ok")
			w.Header().Del("X-Sum")
		}, []string{"head"}, nil},
		{"set after the first write only", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-Sum")
			io.WriteString(w, "ok")
			w.Header().Set("X-Sum", "end")
		}, nil, []string{"end"}},
		{"changed between WriteHeader and the first write", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-Sum")
			w.Header().Set("X-Sum", "head")
			w.WriteHeader(http.StatusOK)
			w.Header().Add("X-Sum", "later")
			io.WriteString(w, "ok")
		}, []string{"head"}, []string{"head", "later"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			forKinds(t, func(t *testing.T, kind string) {
				_, addr := serveFront(t, kind, tt.handler, frontend.ServerOptions{})
				resp := getOK(t, addr)
				if head, trailer := resp.Header["X-Sum"], resp.Trailer["X-Sum"]; !slices.Equal(head, tt.wantHead) || !slices.Equal(trailer, tt.wantTrailer) {
					t.Fatalf("X-Sum %q in the head, %q in the trailer, want %q and %q", head, trailer, tt.wantHead, tt.wantTrailer)
				}
			})
		})
	}
}

// A head the handler set before it hijacked goes out first (net/http's
// Hijack flushes it too): a 101 written with WriteHeader is not lost.
func TestHijackAfterWriteHeader(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Upgrade", "echo")
		w.Header().Set("Connection", "Upgrade")
		w.WriteHeader(http.StatusSwitchingProtocols)
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		defer c.Close()
		brw.WriteString("hello")
		brw.Flush()
	})
	forKinds(t, func(t *testing.T, kind string) {
		_, addr := serveFront(t, kind, h, frontend.ServerOptions{})
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET /a HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("answer before the hijacked bytes: %v %v", resp, err)
		}
		if b, err := io.ReadAll(br); string(b) != "hello" {
			t.Fatalf("after the 101: %q %v", b, err)
		}
	})
}

// The request body's WriteTo (io.Copy uses it) into a TCP connection
// gives the writer exactly the body: the lean front splices a large body
// of known length, copies a chunked one or a body mostly buffered with
// its head, and a request pipelined after the body is served; net/http's
// front copies them all the same.
func TestBodyWriteTo(t *testing.T) {
	forKinds(t, func(t *testing.T, kind string) {
		sinks, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sinks.Close() })
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/next" {
				io.WriteString(w, "next")
				return
			}
			out, err := net.Dial("tcp", sinks.Addr().String())
			if err != nil {
				t.Error(err)
				return
			}
			in, err := sinks.Accept()
			if err != nil {
				t.Error(err)
				return
			}
			defer in.Close()
			got := make(chan []byte, 1)
			go func() { b, _ := io.ReadAll(in); got <- b }()
			n, err := io.Copy(out, r.Body)
			out.Close()
			b := <-got
			fmt.Fprintf(w, "%d %v %d %v", n, err, len(b), strings.Trim(string(b), "x") == "")
		})
		_, addr := serveFront(t, kind, h, frontend.ServerOptions{})
		for _, tc := range []struct {
			name, head string
			body       string
			want       string
		}{
			{"large, known length", "Content-Length: 3145728", strings.Repeat("x", 3<<20), "3145728 <nil> 3145728 true"},
			{"just over 64 KiB", "Content-Length: 66560", strings.Repeat("x", 65<<10), "66560 <nil> 66560 true"},
			{"chunked", "Transfer-Encoding: chunked", "30000\r\n" + strings.Repeat("x", 3<<16) + "\r\n0\r\n\r\n", "196608 <nil> 196608 true"},
		} {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(20 * time.Second)) // the server closes after /next
			go io.WriteString(c, "POST /up HTTP/1.1\r\nHost: x\r\n"+tc.head+"\r\n\r\n"+tc.body+"GET /next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			br := bufio.NewReader(c)
			var statuses []int
			var bodies []string
			for {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					break
				}
				b, _ := io.ReadAll(resp.Body)
				statuses, bodies = append(statuses, resp.StatusCode), append(bodies, string(b))
			}
			c.Close()
			if len(statuses) != 2 || statuses[0] != 200 || bodies[0] != tc.want || statuses[1] != 200 || bodies[1] != "next" {
				t.Errorf("%s: %v %q, want 200 %q then 200 \"next\"", tc.name, statuses, bodies, tc.want)
			}
		}
	})
}

// A handler that answers without reading a large body gets its answer to
// a client that waits for it before sending the rest: the server does not
// wait for the 1 MiB that is not coming (more than 256 KiB are left), it
// answers and closes, as net/http's server does.
func TestAnswerWithoutWaitingForUnsentBody(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "refused", http.StatusForbidden)
	})
	forKinds(t, func(t *testing.T, kind string) {
		_, addr := serveFront(t, kind, h, frontend.ServerOptions{})
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		head := "PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n"
		if _, err := c.Write(append([]byte(head), make([]byte, 10<<10)...)); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("no answer while the body waits: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || string(body) != "refused\n" {
			t.Fatalf("%d %q, want 403 refused", resp.StatusCode, body)
		}
		if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
			t.Fatalf("after the answer: %q %v, want the connection closed", rest, err)
		}
	})
}

// A backend that answers on seeing the last byte of a spliced upload may
// answer before the goroutine that spliced it has returned (the hook holds
// it there): the client keeps its connection (no Connection: close) and
// its next request is served on it.
func TestAnswerWhileSpliceReturns(t *testing.T) {
	const size = 4 << 20
	taken := make(chan struct{}, 1)
	release := make(chan struct{})
	restore := frontend.SetBodyTakenHook(func() {
		taken <- struct{}{}
		<-release
	})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	defer restore()
	defer unblock()

	sink, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	go func() {
		for {
			c, err := sink.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/up" {
			_, _ = io.WriteString(w, "next")
			return
		}
		sc, err := net.Dial("tcp", sink.Addr().String())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		go func() {
			defer sc.Close()
			_, _ = io.Copy(sc, r.Body) // the body's WriteTo: spliced into sc
		}()
		select {
		case <-taken: // the whole body left the client connection
		case <-time.After(10 * time.Second):
			http.Error(w, "body not taken", http.StatusGatewayTimeout)
			return
		}
		_, _ = io.WriteString(w, "stored")
	})
	_, addr := serveFront(t, frontend.KindLean, h, frontend.ServerOptions{})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	go func() {
		_, _ = fmt.Fprintf(c, "PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size)
		_, _ = c.Write(make([]byte, size))
	}()
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "stored" || resp.Close {
		t.Fatalf("upload: %d %q, close %v; want 200 stored, the connection kept", resp.StatusCode, body, resp.Close)
	}
	// The splicing goroutine has not returned yet: the next request is
	// served all the same.
	if _, err := io.WriteString(c, "GET /next HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("next request on the connection: %v", err)
	}
	body, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "next" {
		t.Fatalf("next request: %d %q", resp.StatusCode, body)
	}
	unblock()
}

// Close while connections finish their TLS handshakes, and Serve started
// after Close: Close closes each connection as accepted, never the field
// the handshake replaces (the race detector caught Close reading it), and
// a Serve that comes too late closes its listener (a client is refused,
// not left waiting).
func TestCloseDuringTLSHandshakes(t *testing.T) {
	cfg, ca := serverTLS(t)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	for i := 0; i < 10; i++ {
		f, addr := serveFront(t, frontend.KindLean, h, frontend.ServerOptions{TLSConfig: cfg})
		var wg sync.WaitGroup
		for j := 0; j < 8; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d := &net.Dialer{Timeout: 10 * time.Second, Deadline: time.Now().Add(10 * time.Second)}
				c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{RootCAs: ca.Pool()})
				if err == nil {
					c.Close()
				} else if isTimeout(err) {
					t.Errorf("a client waited out its deadline: %v", err)
				}
			}()
		}
		f.Close()
		wg.Wait()
	}
}

// A connection quiet for a while gives its reader and writer back and
// waits for the next request without them: a request that comes then, in
// one piece, split after its first byte, or pipelined after another, is
// served as any, over plain TCP and TLS; the idle timeout still counts from
// the last answer, and Shutdown still closes such a connection at once.
func TestIdleConnectionReleasesBuffers(t *testing.T) {
	defer frontend.SetIdleRelease(20 * time.Millisecond)()
	cfg, ca := serverTLS(t)
	settled(t)
	base := 0
	const idle = 400 * time.Millisecond
	f, addr := serveFront(t, frontend.KindLean, echo, frontend.ServerOptions{IdleTimeout: idle})
	_, tlsAddr := serveFront(t, frontend.KindLean, echo, frontend.ServerOptions{IdleTimeout: idle, TLSConfig: cfg})
	waitHeld := func(want int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); frontend.HeldBuffers() != want; time.Sleep(2 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("connections hold %d pooled buffers, want %d", frontend.HeldBuffers(), want)
			}
		}
	}
	type client struct {
		c  net.Conn
		br *bufio.Reader
	}
	var cs []client
	for i := 0; i < 6; i++ {
		var c net.Conn
		var err error
		if i%2 == 0 {
			c, err = net.Dial("tcp", addr)
		} else {
			c, err = tls.Dial("tcp", tlsAddr, &tls.Config{RootCAs: ca.Pool(), NextProtos: []string{"http/1.1"}})
		}
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cs = append(cs, client{c, bufio.NewReader(c)})
	}
	read := func(cl client, path string) {
		t.Helper()
		cl.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(cl.br, nil)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(b) != "GET x "+path+` ""` {
			t.Fatalf("%s: %d %q", path, resp.StatusCode, b)
		}
	}
	for _, cl := range cs {
		io.WriteString(cl.c, "GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
		read(cl, "/first")
	}
	waitHeld(base)
	for i, cl := range cs {
		switch i % 3 {
		case 0:
			io.WriteString(cl.c, "GET /whole HTTP/1.1\r\nHost: x\r\n\r\n")
			read(cl, "/whole")
		case 1:
			io.WriteString(cl.c, "G")
			waitHeld(base + 1) // the byte came: the connection took a reader again
			io.WriteString(cl.c, "ET /split HTTP/1.1\r\nHost: x\r\n\r\n")
			read(cl, "/split")
		case 2:
			io.WriteString(cl.c, "GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n")
			read(cl, "/one")
			read(cl, "/two")
		}
	}
	waitHeld(base)
	// The idle timeout counts from the last answer, not from the release.
	last := time.Now()
	cl := cs[0]
	io.WriteString(cl.c, "GET /last HTTP/1.1\r\nHost: x\r\n\r\n")
	read(cl, "/last")
	cl.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := cl.br.ReadByte(); err == nil || isTimeout(err) {
		t.Fatalf("idle connection not closed at the idle timeout: %v", err)
	}
	if d := time.Since(last); d < idle {
		t.Fatalf("idle connection closed after %v, before the idle timeout (%v)", d, idle)
	}
	// Shutdown closes a connection waiting without buffers.
	cl = cs[2]
	waitHeld(base)
	if err := f.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	cl.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := cl.br.ReadByte(); err == nil || isTimeout(err) {
		t.Fatalf("idle connection not closed by Shutdown: %v", err)
	}
}

// The empty line some clients send after a POST body (ignored, as
// net/http's server does) costs nothing around an idle release: one sent
// with the body leaves the connection idle under the idle timeout (not
// the header one) and gives its buffers back; one sent with the next
// request after the release, whose first byte alone the wait reads, is
// dropped whole, not taken for the start of a malformed request.
func TestPostEmptyLineAroundIdleRelease(t *testing.T) {
	defer frontend.SetIdleRelease(20 * time.Millisecond)()
	settled(t)
	base := 0
	_, addr := serveFront(t, frontend.KindLean, echo, frontend.ServerOptions{ReadHeaderTimeout: 200 * time.Millisecond, IdleTimeout: 10 * time.Second})
	for _, tc := range []struct{ name, after, next string }{
		{"with the body", "\r\n", "GET /next HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"with the next request", "", "\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, read := keepAlive(t, addr)
			io.WriteString(c, "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"+tc.after)
			read(`POST x /p "hi"`)
			// Idle past the header timeout, its buffers given back.
			for deadline := time.Now().Add(5 * time.Second); frontend.HeldBuffers() != base; time.Sleep(2 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("the idle connection holds %d pooled buffers, want %d", frontend.HeldBuffers(), base)
				}
			}
			for start := time.Now(); time.Since(start) < 300*time.Millisecond; time.Sleep(10 * time.Millisecond) {
				if frontend.HeldBuffers() != base {
					t.Fatal("the idle connection took buffers again")
				}
			}
			io.WriteString(c, tc.next)
			read(`GET x /next ""`)
		})
	}
}

// putEarly dials addr, sends the head of a PUT of length bytes and the
// body's first bytes only, and reads the answer, which must be want with
// the connection closing (the rest of the body is not read): the answer a
// handler gives while a straggler still reads the body. It returns the
// connection (10 s deadline, closed at cleanup).
func putEarly(t *testing.T, addr string, length int, first []byte, want int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	head := fmt.Sprintf("PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", length)
	if _, err := c.Write(append([]byte(head), first...)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != want || !resp.Close {
		t.Fatalf("%d, close %v; want %d and the connection closed", resp.StatusCode, resp.Close, want)
	}
	return c
}

// A body reader that outlives its handler (the proxy's writer of a body
// to a backend that answered before it had all of it) may be inside the
// connection's reader when the connection closes: that reader must not go
// back to the pool, where another connection would take it while the
// straggler still writes into it (a data race under -race).
func TestStragglerKeepsReaderOutOfPool(t *testing.T) {
	settled(t)
	pooled := frontend.TrackPooledReaders(t)
	readErr := make(chan error, 1)
	var held any
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		held = frontend.BodyConnReader(r.Body)
		first := make(chan struct{})
		go func() {
			buf := make([]byte, 64)
			_, err := r.Body.Read(buf)
			close(first)
			for err == nil {
				_, err = r.Body.Read(buf) // waits for bytes that never come
			}
			readErr <- err
		}()
		<-first
		// Return once the straggler is back in a read, holding the body.
		for deadline := time.Now().Add(10 * time.Second); !frontend.BodyHeld(r.Body); {
			if time.Now().After(deadline) {
				t.Error("the body's reader did not read again")
				return
			}
		}
		w.WriteHeader(http.StatusRequestEntityTooLarge)
	})
	_, addr := serveFront(t, frontend.KindLean, h, frontend.ServerOptions{})
	// The client sends nothing more and keeps its end open: the straggler's
	// read ends only when the server gives up waiting for it to let go of
	// the body (closeLingering's bound) and closes the connection.
	putEarly(t, addr, 1000000, []byte("first part"), http.StatusRequestEntityTooLarge)
	select {
	case err := <-readErr:
		if err == nil || err == io.EOF {
			t.Fatalf("the straggler's read ended with %v, want an error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the straggler's read did not end when the connection closed")
	}
	settled(t) // the connection released its buffers
	if pooled(held) {
		t.Fatal("the reader a straggler used went back to the pool")
	}
}

// heldWriter is the backend connection of a straggler's WriteTo: its
// Write (the body's bytes the connection buffered with the head) says so
// on inWrite and returns once resume is closed; its ReadFrom (the rest,
// spliced) drops what it reads.
type heldWriter struct {
	inWrite, resume chan struct{}
	wrote           int
}

func (w *heldWriter) Write(p []byte) (int, error) {
	close(w.inWrite)
	<-w.resume
	w.wrote += len(p)
	return len(p), nil
}

func (w *heldWriter) ReadFrom(r io.Reader) (int64, error) { return io.Copy(io.Discard, r) }

// A straggler in the body's WriteTo (the proxy's writer of a body to a
// backend that answered before it had all of it) may still be sending the
// bytes the connection's reader buffered with the head when the
// connection closes and gives its buffers back: it keeps the reader it
// took them from, and the rest of the body fails with the closed
// connection. It used to read the connection's reader anew, which the
// release had cleared: a nil dereference outside any handler took the
// whole process down.
func TestStragglerWriteToOutlivesConnection(t *testing.T) {
	settled(t)
	const part = "first part of the body"
	w := &heldWriter{inWrite: make(chan struct{}), resume: make(chan struct{})}
	var once sync.Once
	resume := func() { once.Do(func() { close(w.resume) }) }
	defer resume()
	wrote := make(chan error, 1)
	h := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		go func() {
			_, err := r.Body.(io.WriterTo).WriteTo(w)
			wrote <- err
		}()
		select {
		case <-w.inWrite:
		case <-time.After(10 * time.Second):
			t.Error("the straggler did not write the buffered bytes")
		}
		rw.WriteHeader(http.StatusForbidden)
	})
	_, addr := serveFront(t, frontend.KindLean, h, frontend.ServerOptions{})
	// The head and the body's first bytes in one write: the connection's
	// reader buffers them; the rest (over spliceMin) is not sent.
	c := putEarly(t, addr, 1000000, []byte(part), http.StatusForbidden)
	_ = c.(*net.TCPConn).CloseWrite() // the server's lingering read ends at once
	settled(t)                        // the connection ended and gave its buffers back
	resume()
	select {
	case err := <-wrote:
		if err == nil {
			t.Fatal("the straggler's WriteTo ended without error, want the closed connection's")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the straggler's WriteTo did not end when the connection closed")
	}
	if w.wrote != len(part) {
		t.Fatalf("the straggler wrote %d buffered bytes, want %d", w.wrote, len(part))
	}
}

// A head larger than the pooled reader that comes after an idle release
// (the wait read its first byte alone) is read whole on the large head's
// reader, which the connection gives up again once it is served.
func TestLargeHeadAfterIdleRelease(t *testing.T) {
	defer frontend.SetIdleRelease(20 * time.Millisecond)()
	settled(t)
	base, large := 0, 0
	_, addr := serveFront(t, frontend.KindLean, echo, frontend.ServerOptions{IdleTimeout: 10 * time.Second})
	c, read := keepAlive(t, addr)
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(2 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d pooled buffers held, %d large readers", what, frontend.HeldBuffers(), frontend.LargeReaders())
			}
		}
	}
	io.WriteString(c, "GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
	read(`GET x /first ""`)
	waitFor("released", func() bool { return frontend.HeldBuffers() == base })
	big := "GET /big HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 20<<10) + "\r\n\r\n"
	io.WriteString(c, big+"GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
	read(`GET x /big ""`)
	read(`GET x /after ""`)
	waitFor("released after the large head", func() bool {
		return frontend.HeldBuffers() == base && frontend.LargeReaders() == large
	})
}

// A POST with a head larger than the pooled reader, its body followed by
// the empty line some clients send: the connection gives the large head's
// reader up once it is served, as after any large head.
func TestPostEmptyLineAfterLargeHead(t *testing.T) {
	defer frontend.SetIdleRelease(time.Minute)() // no idle release: the wait itself must not hold it
	settled(t)
	large := 0
	_, addr := serveFront(t, frontend.KindLean, echo, frontend.ServerOptions{IdleTimeout: 10 * time.Second})
	c, read := keepAlive(t, addr)
	io.WriteString(c, "POST /big HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("b", 20<<10)+"\r\nContent-Length: 2\r\n\r\nhi\r\n")
	read(`POST x /big "hi"`)
	for deadline := time.Now().Add(5 * time.Second); frontend.LargeReaders() != large; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the idle connection holds a large head's reader (%d, want %d)", frontend.LargeReaders(), large)
		}
	}
	io.WriteString(c, "GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
	read(`GET x /next ""`)
}

// settled waits until no connection of an earlier test holds a pooled or
// large buffer (their servers closed them at cleanup, asynchronously): the
// counters of the buffers connections hold start from zero.
func settled(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); frontend.HeldBuffers() != 0 || frontend.LargeReaders() != 0; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("earlier connections hold %d pooled buffers and %d large readers", frontend.HeldBuffers(), frontend.LargeReaders())
		}
	}
}

// keepAlive dials addr and returns the connection (closed at cleanup) and
// read, which reads the next answer and fails the test unless it is 200
// with body want.
func keepAlive(t *testing.T, addr string) (net.Conn, func(want string)) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	br := bufio.NewReader(c)
	return c, func(want string) {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: %v", want, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(b) != want {
			t.Fatalf("%d %q, want 200 %q", resp.StatusCode, b, want)
		}
	}
}

// cutListener hands out connections whose reads stop once at a given
// offset of the stream (the next value of cuts, one per connection): the
// server reads the bytes before the cut, then those after, whatever the
// timing; the connections are no *net.TCPConn (no splice), the parsing is
// the same.
type cutListener struct {
	net.Listener
	cuts chan int
}

func (l cutListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &cutConn{Conn: c, cut: <-l.cuts}, nil
}

type cutConn struct {
	net.Conn
	cut, n int
}

func (c *cutConn) Read(p []byte) (int, error) {
	if c.n < c.cut && len(p) > c.cut-c.n {
		p = p[:c.cut-c.n]
	}
	k, err := c.Conn.Read(p)
	c.n += k
	return k, err
}

// Pipelines split at every byte get the answers they get whole, from both
// fronts, with and without the idle release at every wait for a request
// (the wait then reads the next request's first byte alone): heads, bodies
// of both framings, trailers, the empty lines after a POST, HTTP/1.0
// keep-alive, Expect with the body sent at once, heads larger than the
// pooled reader, and refused fields (a bad Host, NUL, a bare CR, obs-text
// passes).
func TestRequestsSplitAtEveryByte(t *testing.T) {
	big := strings.Repeat("b", 5000)
	tests := []struct {
		name, raw string
		want      []string // the answers, then the server closes
	}{
		{"mixed pipeline",
			"GET /a HTTP/1.1\r\nHost: x\r\n\r\n" +
				"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\r\n" +
				"PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n3;e=1\r\nabc\r\n0\r\nX-T: 1\r\n\r\n" +
				"GET /d HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" +
				"POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi" +
				"POST /g HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n" +
				"\r\n\r\nGET /f HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			[]string{`200 GET x /a ""`, `200 POST x /b "hello"`, `200 PUT x /c "abc"`, `200 GET  /d ""`, `100 `,
				`200 POST x /e "hi"`, `200 POST x /g ""`, `200 GET x /f ""`}},
		{"bare LF lines", "GET /a HTTP/1.1\nHost: x\n\nPOST /b HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n2\r\nhi\r\n0\r\n\r\n" +
			"GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			[]string{`200 GET x /a ""`, `200 POST x /b "hi"`, `200 GET x /c ""`}},
		{"folded field, then two Hosts", "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n" +
			"GET /c HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
			[]string{`200 GET x /a ""`, `200 GET x /b ""`, `400 400 Bad Request`}},
		{"CL and TE", "GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" +
			"GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			[]string{`200 GET x /a ""`, `200 POST x /b "abc"`, `200 GET x /c ""`}},
		{"HTTP/1.0 keep-alive", "POST /a HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi\r\nGET /b HTTP/1.0\r\n\r\n",
			[]string{`200 POST  /a "hi"`, `200 GET  /b ""`}},
		{"large heads", "GET /big HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\nPOST /n HTTP/1.1\r\nHost: x\r\nX-Big: " + big +
			"\r\nContent-Length: 2\r\n\r\nhi\r\nGET /z HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			[]string{`200 GET x /big ""`, `200 POST x /n "hi"`, `200 GET x /z ""`}},
		{"obs-text passes, NUL refused", "GET /a HTTP/1.1\r\nHost: x\r\nX-A: \x80\xff\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nX-B: a\x00b\r\n\r\n",
			[]string{`200 GET x /a ""`, `400 400 Bad Request`}},
		{"bare CR refused", "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n",
			[]string{`200 GET x /a ""`, `400 400 Bad Request`}},
	}
	answers := func(t *testing.T, addr, raw string) string {
		t.Helper()
		got, open := rawAnswers(t, addr, raw)
		if open {
			got = append(got, "(still open)")
		}
		return strings.Join(got, " | ")
	}
	for _, release := range []time.Duration{time.Minute, time.Nanosecond} {
		t.Run("idle release after "+release.String(), func(t *testing.T) {
			forKinds(t, func(t *testing.T, kind string) {
				defer frontend.SetIdleRelease(release)()
				f, ln := newFront(t, kind, echo, frontend.ServerOptions{})
				cuts := make(chan int, 1)
				served := make(chan error, 1)
				go func() { served <- f.Serve(cutListener{ln, cuts}) }()
				defer func() { f.Close(); <-served }()
				addr := ln.Addr().String()
				for _, tc := range tests {
					want := strings.Join(tc.want, " | ")
					stride := 1
					if len(tc.raw) > 2000 {
						stride = 37
					}
					for i := 1; i <= len(tc.raw); i += stride {
						cuts <- i
						if got := answers(t, addr, tc.raw); got != want {
							t.Fatalf("%s cut at %d (%q|%q):\n got %s\nwant %s", tc.name, i,
								tc.raw[max(0, i-12):i], tc.raw[i:min(len(tc.raw), i+12)], got, want)
						}
					}
				}
			})
		})
	}
}

// byteReads hands out connections whose every read returns at most one
// byte: what a client that sends its head a byte at a time, each in its own
// segment, makes the server do.
type byteReads struct{ net.Listener }

func (l byteReads) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return oneByteConn{c}, nil
}

type oneByteConn struct{ net.Conn }

func (c oneByteConn) Read(p []byte) (int, error) { return c.Conn.Read(p[:min(len(p), 1)]) }

// processCPU is the CPU time the test process used so far.
func processCPU(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// A head that comes a byte at a time (a client sending each byte in its
// own segment, within the header timeout) costs the lean front about what
// it costs net/http's, whose parser reads it once: the search for the
// head's end goes on where it stopped instead of scanning the head again
// for every byte (60 KiB of short lines cost 2.5 s of CPU so, 17 times
// net/http's).
func TestHeadTrickledByteByByte(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("GET /a HTTP/1.1\r\nHost: x\r\n")
	for sb.Len() < 60<<10 {
		sb.WriteString("A: b\r\n")
	}
	sb.WriteString("\r\n")
	head := sb.String()
	// Each front's cost is the least of three runs: the process's CPU
	// counts whatever else runs in it meanwhile (other tests' leftovers).
	cost := map[string]time.Duration{}
	forKinds(t, func(t *testing.T, kind string) {
		f, ln := newFront(t, kind, echo, frontend.ServerOptions{ReadHeaderTimeout: time.Minute})
		served := make(chan error, 1)
		go func() { served <- f.Serve(byteReads{ln}) }()
		defer func() { f.Close(); <-served }()
		for run := 0; run < 3; run++ {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(time.Minute))
			start := processCPU(t)
			go c.Write([]byte(head))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			took := processCPU(t) - start
			c.Close()
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("%v %v", resp, err)
			}
			if prev, ok := cost[kind]; !ok || took < prev {
				cost[kind] = took
			}
		}
		t.Logf("%s: %v of CPU (least of 3)", kind, cost[kind])
	})
	if lean, std := cost[frontend.KindLean], cost[frontend.KindNetHTTP]; lean > 4*std+100*time.Millisecond {
		t.Fatalf("the lean front took %v of CPU for the trickled head, net/http's %v", lean, std)
	}
}

// A body reader that outlived its handler (it held the body when the
// answer ended, short of the body's end) and the server's lingering
// discard after the half-close do not read the connection side by side:
// the bytes the reader sends on (here to another goroutine, as the proxy
// sends them to the backend between its reads) are the body's, in order,
// without a gap where the discard took some. Its read in progress is its
// last; the discard takes the rest. Several connections: without the
// rule, the two readers' turns interleave on some of them.
func TestStragglerReadsNoGapBesideLingering(t *testing.T) {
	const first, more = 300 << 10, 256 << 10 // over maxDiscard: the connection closes
	pattern := func(from, n int) []byte {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte((from + i) % 251)
		}
		return p
	}
	done := make(chan []byte, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var total atomic.Int64
		sent := make(chan []byte) // the reader's "backend": a handover per read
		go func() {
			var got []byte
			for p := range sent {
				got = append(got, p...)
			}
			done <- got
		}()
		go func() {
			defer close(sent)
			buf := make([]byte, 4<<10)
			for {
				n, err := r.Body.Read(buf)
				total.Add(int64(n))
				sent <- append([]byte(nil), buf[:n]...)
				if err != nil {
					return
				}
			}
		}()
		// Answer once the reader took what came and waits in a read for
		// more: it holds the body when the answer ends.
		for deadline := time.Now().Add(10 * time.Second); total.Load() < first || !frontend.BodyHeld(r.Body); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Error("the reader did not take the first part and wait for more")
				break
			}
		}
		w.WriteHeader(http.StatusForbidden)
	})
	_, addr := serveFront(t, frontend.KindLean, h, frontend.ServerOptions{})
	for round := 0; round < 10; round++ {
		c := putEarly(t, addr, 1<<20, pattern(0, first), http.StatusForbidden)
		// More of the body, in pieces: both the reader's last read and
		// the lingering discard want them.
		for off := first; off < first+more; off += 4 << 10 {
			if _, err := c.Write(pattern(off, 4<<10)); err != nil {
				break // the server closed
			}
		}
		_ = c.(*net.TCPConn).CloseWrite()
		var got []byte
		select {
		case got = <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: the reader did not end", round)
		}
		if len(got) < first {
			t.Fatalf("round %d: the reader got %d bytes, want at least the %d sent before the answer", round, len(got), first)
		}
		if want := pattern(0, len(got)); !bytes.Equal(got, want) {
			i := 0
			for i < len(want) && got[i] == want[i] {
				i++
			}
			t.Fatalf("round %d: the reader's %d bytes are not the body's from byte %d on (the discard took bytes beside it)", round, len(got), i)
		}
		c.Close()
	}
}

// A body reader that outlives its handler on a connection that closes
// after the answer (here the client's Connection: close), the answer's
// head having gone out before the handler returned (a streamed answer):
// the body is closed with the answer as on a kept connection, so that the
// reader reads no more of the connection's reader, which goes back to the
// pool at the close (a later read found it reset: a nil reader, and the
// process panicked; or another connection's, whose bytes it sent on as
// this body's); and a reader still in a read then keeps it out of the
// pool. So too after a handler that panicked once its answer began
// (http.ErrAbortHandler: the proxy's answer broke off while its upload's
// writer still read the body).
func TestStragglerOfClosingAnswer(t *testing.T) {
	for _, tc := range []struct{ inRead, panics bool }{{false, false}, {true, false}, {false, true}} {
		inRead := tc.inRead
		t.Run(fmt.Sprintf("in read %v, panics %v", inRead, tc.panics), func(t *testing.T) {
			settled(t)
			pooled := frontend.TrackPooledReaders(t)
			readErr := make(chan error, 1)
			resume := make(chan struct{})
			var held any
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				held = frontend.BodyConnReader(r.Body)
				first := make(chan struct{})
				go func() {
					defer func() {
						if v := recover(); v != nil {
							readErr <- fmt.Errorf("the read panicked: %v", v)
						}
					}()
					buf := make([]byte, 64)
					_, err := r.Body.Read(buf)
					close(first)
					if !inRead {
						<-resume // sending the first bytes on
					}
					for err == nil {
						_, err = r.Body.Read(buf)
					}
					readErr <- err
				}()
				<-first
				for deadline := time.Now().Add(10 * time.Second); inRead && !frontend.BodyHeld(r.Body); {
					if time.Now().After(deadline) {
						t.Error("the body's reader did not read again")
						return
					}
					time.Sleep(time.Millisecond)
				}
				w.WriteHeader(http.StatusTemporaryRedirect)
				_ = http.NewResponseController(w).Flush()
				if tc.panics {
					panic(http.ErrAbortHandler)
				}
			})
			_, addr := serveFront(t, frontend.KindLean, h, frontend.ServerOptions{})
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.WriteString(c, "PUT /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 1000000\r\n\r\nfirst part"); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != http.StatusTemporaryRedirect || !resp.Close {
				t.Fatalf("answer %v %v, want 307 closing", resp, err)
			}
			if _, err := io.Copy(io.Discard, br); err != nil {
				t.Fatalf("the connection did not close: %v", err)
			}
			close(resume)
			select {
			case err := <-readErr:
				if !inRead && !errors.Is(err, http.ErrBodyReadAfterClose) {
					t.Fatalf("a read after the handler and the close: %v, want %v", err, http.ErrBodyReadAfterClose)
				}
				if err == nil || err == io.EOF {
					t.Fatalf("the straggler's read ended with %v, want an error", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the straggler's read did not end")
			}
			settled(t) // the connection released its buffers
			// A reader not in a read at the close lets go of the connection's
			// reader, which goes back to the pool; one in a read keeps it out.
			if got := pooled(held); got != !inRead {
				t.Fatalf("the connection's reader back in the pool: %v, want %v", got, !inRead)
			}
		})
	}
}
