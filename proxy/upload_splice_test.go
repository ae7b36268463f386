//go:build linux

package proxy_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/securegw/gateway/proxy"
	"github.com/securegw/gateway/proxy/frontend"
)

// earlyBackend answers POST /early at once, before it read the body, then
// reads the body and serves the next request (hold) or closes the
// connection (a reset: the body is unread); any other request's body is
// read and the path answered. It records every path it was asked for.
func earlyBackend(t *testing.T, hold bool) (string, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var paths []string
	addr := serveRaw(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			mu.Lock()
			paths = append(paths, req.URL.Path)
			mu.Unlock()
			if strings.HasSuffix(req.URL.Path, "/early") {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nearly")
				if !hold {
					return
				}
				io.Copy(io.Discard, req.Body)
				continue
			}
			n, _ := io.Copy(io.Discard, req.Body)
			answer := fmt.Sprintf("%s %d", req.URL.Path, n)
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(answer), answer)
		}
	})
	return addr, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), paths...)
	}
}

// A backend that answers before it read the request body (then holds its
// connection unread, or closes it) must not leave the client connection
// in a state where the body's bytes are read as requests: the body here is
// made of requests. After the early answer, the client's next request is
// either answered as itself or the connection is closed; the backend never
// sees a request smuggled in the body.
func TestEarlyAnswerDoesNotSmuggle(t *testing.T) {
	smuggled := "GET /gateway/t/s/smuggled HTTP/1.1\r\nHost: gw\r\n\r\n"
	for _, kind := range []string{frontend.KindLean, frontend.KindNetHTTP} {
		for _, hold := range []bool{true, false} {
			for _, size := range []int{300 << 10, 8 << 20} {
				t.Run(fmt.Sprintf("%s/hold=%v/%d", kind, hold, size), func(t *testing.T) {
					addr, seen := earlyBackend(t, hold)
					e := newEnv(t, proxyConfig())
					fe := newTestFront(t, e.p, kind)
					e.deploy(topo("t", svc("s", "http://"+addr)))
					body := bytes.Repeat([]byte(smuggled), size/len(smuggled)+1)[:size]
					c, err := net.Dial("tcp", fe.Listener.Addr().String())
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { c.Close() })
					_ = c.SetDeadline(time.Now().Add(20 * time.Second))
					wrote := make(chan error, 1)
					go func() {
						_, err := fmt.Fprintf(c, "POST /gateway/t/s/early HTTP/1.1\r\nHost: gw\r\nContent-Length: %d\r\n\r\n", size)
						if err == nil {
							_, err = c.Write(body)
						}
						wrote <- err
					}()
					br := bufio.NewReader(c)
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						t.Fatalf("early answer: %v", err)
					}
					got, _ := io.ReadAll(resp.Body)
					if string(got) != "early" && !(!hold && resp.StatusCode == http.StatusBadGateway) {
						// (A backend's reset may come before its answer is read.)
						t.Fatalf("early answer: %d %q", resp.StatusCode, got)
					}
					if err := <-wrote; err == nil {
						io.WriteString(c, "GET /gateway/t/s/after HTTP/1.1\r\nHost: gw\r\n\r\n")
						if resp, err := http.ReadResponse(br, nil); err == nil {
							got, _ := io.ReadAll(resp.Body)
							if string(got) != "/after 0" {
								t.Errorf("the next answer is %d %q, want the one of /after", resp.StatusCode, got)
							}
						}
					}
					for _, p := range seen() {
						if strings.HasSuffix(p, "/smuggled") {
							t.Fatalf("the backend was sent a request from the body: %v", seen())
						}
					}
				})
			}
		}
	}
}

// A spliced body ends exactly at its Content-Length when the body's first
// bytes, its rest and the next request come in one write (the front's
// buffer holds the head and the body's start, the kernel the rest and the
// next request), with and without Expect: 100-continue (sent anyway). The
// backend answers on the body's last byte, and the body's writer is held
// right after its last write, before it reported (as when it is
// descheduled there), until the client has both answers: the front must
// know from the body itself that it is at its end, and keep the
// connection for the pipelined request.
func TestSplicedUploadPipelined(t *testing.T) {
	addr, seen := earlyBackend(t, true)
	var cur atomic.Pointer[writerWindow]
	hookWindows(t, addr, &cur, func(event string, w *writerWindow) {
		if event == proxy.EventBodyWritten {
			w.hold()
			<-w.answered
		}
	})
	e := newEnv(t, proxyConfig())
	fe := newTestFront(t, e.p, frontend.KindLean)
	e.deploy(topo("t", svc("s", "http://"+addr)))
	c, err := net.Dial("tcp", fe.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	next := "GET /gateway/t/s/next HTTP/1.1\r\nHost: gw\r\n\r\n"
	for _, size := range []int{64 << 10, 200 << 10, 3<<20 + 1} {
		for _, expect := range []string{"", "Expect: 100-continue\r\n"} {
			body := bytes.Repeat([]byte(next), size/len(next)+1)[:size]
			msg := fmt.Sprintf("PUT /gateway/t/s/up HTTP/1.1\r\nHost: gw\r\n%sContent-Length: %d\r\n\r\n%s%s", expect, size, body, next)
			w := newWriterWindow()
			answered := sync.OnceFunc(func() { close(w.answered) })
			t.Cleanup(answered) // a failure below must not leave the writer held
			cur.Store(w)
			go c.Write([]byte(msg))
			want := []string{fmt.Sprintf("/up %d", size), "/next 0"}
			for i := 0; i < len(want); {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("size %d %q: answer %d: %v", size, expect, i, err)
				}
				got, _ := io.ReadAll(resp.Body)
				if resp.StatusCode == http.StatusContinue {
					continue
				}
				if string(got) != want[i] {
					t.Fatalf("size %d %q: answer %d: %d %q, want %q", size, expect, i, resp.StatusCode, got, want[i])
				}
				i++
			}
			answered()
			w.waitHeld(t, fmt.Sprintf("size %d %q", size, expect))
			cur.Store(nil)
		}
	}
	if n := len(seen()); n != 12 {
		t.Errorf("the backend saw %d requests, want 12: %v", n, seen())
	}
}
