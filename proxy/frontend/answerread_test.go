package frontend_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/securegw/gateway/proxy/frontend"
)

// countingReader counts what was read through it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// startWriter reads body to its end on a goroutine of its own (a proxied
// upload's writer) and returns once it read the sent bytes: its next read
// waits for the client.
func startWriter(t *testing.T, body io.Reader, sent int64) {
	cr := &countingReader{r: body}
	go func() { _, _ = io.Copy(io.Discard, cr) }()
	for end := time.Now().Add(5 * time.Second); cr.n.Load() < sent; {
		if time.Now().After(end) {
			t.Errorf("the writer read %d of the %d bytes sent", cr.n.Load(), sent)
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// An answer whose head goes out while another goroutine reads the request
// body (a proxied upload's writer, whose backend answered before the
// body's end) reaches a client that sends nothing more until it has the
// answer. net/http's server took the body's lock before writing the head,
// held by the read waiting for the client: nothing moved until the stall
// bound. Bodies the handler read whole, or did not touch, keep their
// connection as before.
func TestAnswerWhileBodyBeingRead(t *testing.T) {
	const sent = 100 << 10
	cases := []struct {
		name      string
		length    int    // Content-Length; the client sends min(length, sent) before the answer
		read      string // "writer": a goroutine reads the body; "none"; "all"
		code      int
		wantClose bool // the answer says Connection: close (net/http; the lean front closes as it did)
	}{
		{"writer in flight, rest unsent", 1 << 20, "writer", http.StatusBadGateway, true},
		{"writer in flight, rest under 256 KiB", sent + 1000, "writer", http.StatusBadGateway, true},
		{"small body not read", 10, "none", http.StatusForbidden, false},
		{"body read whole", 10, "all", http.StatusOK, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forKinds(t, func(t *testing.T, kind string) {
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/next" {
						_, _ = io.WriteString(w, "next")
						return
					}
					switch tc.read {
					case "all":
						_, _ = io.Copy(io.Discard, r.Body)
					case "writer":
						startWriter(t, r.Body, sent)
					}
					http.Error(w, "answer", tc.code)
				})
				_, addr := serveFront(t, kind, h, frontend.ServerOptions{})
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				head := "PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: " + strconv.Itoa(tc.length) + "\r\n\r\n"
				if _, err := c.Write(append([]byte(head), make([]byte, min(tc.length, sent))...)); err != nil {
					t.Fatal(err)
				}
				br := bufio.NewReader(c)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("no answer while the body is read: %v", err)
				}
				body, err := io.ReadAll(resp.Body)
				if err != nil || resp.StatusCode != tc.code || string(body) != "answer\n" {
					t.Fatalf("%d %q %v, want %d answer", resp.StatusCode, body, err, tc.code)
				}
				if kind == frontend.KindNetHTTP && resp.Close != tc.wantClose {
					t.Errorf("Connection: close %v, want %v", resp.Close, tc.wantClose)
				}
				if tc.wantClose {
					return
				}
				if resp.Close {
					t.Fatal("the connection of a body read whole or not touched was closed")
				}
				if _, err := io.WriteString(c, "GET /next HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
					t.Fatal(err)
				}
				resp, err = http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("next request on the kept connection: %v", err)
				}
				if b, _ := io.ReadAll(resp.Body); string(b) != "next" {
					t.Fatalf("next request: %d %q", resp.StatusCode, b)
				}
			})
		})
	}
}

// On the net/http front, a read of an HTTP/1 body that starts after the
// answer's head was written (a writer goroutine scheduled late) fails,
// instead of taking the body's lock from the server that writes the
// answer; the answer arrives. A handler that enabled full duplex reads
// its body after the head as before.
func TestNetHTTPBodyReadAfterHeadFails(t *testing.T) {
	for _, duplex := range []bool{false, true} {
		t.Run(fmt.Sprintf("duplex=%v", duplex), func(t *testing.T) {
			readErr := make(chan error, 1)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if duplex {
					if err := http.NewResponseController(w).EnableFullDuplex(); err != nil {
						t.Error(err)
					}
				}
				http.Error(w, "answer", http.StatusBadGateway)
				w.(http.Flusher).Flush()
				_, err := r.Body.Read(make([]byte, 10))
				readErr <- err
			})
			_, addr := serveFront(t, frontend.KindNetHTTP, h, frontend.ServerOptions{})
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(c, "PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n"+strings.Repeat("x", 10)); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil || resp.StatusCode != http.StatusBadGateway {
				t.Fatalf("answer: %v %v", resp, err)
			}
			want := http.ErrBodyReadAfterClose
			if duplex {
				want = nil
			}
			select {
			case err := <-readErr:
				if !errors.Is(err, want) {
					t.Fatalf("read after the head: %v, want %v", err, want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the read after the head waits")
			}
		})
	}
}

// A handler that returns without writing while another goroutine reads
// the request body: the server's own answer (200, empty) goes out at once
// too, its connection closing. net/http's server wrote that head after
// the handler, past readWatch, and took the body's lock held by the read
// waiting for the client: nothing moved until the stall bound.
func TestNoAnswerWhileBodyBeingRead(t *testing.T) {
	const sent = 100 << 10
	forKinds(t, func(t *testing.T, kind string) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			startWriter(t, r.Body, sent)
		})
		_, addr := serveFront(t, kind, h, frontend.ServerOptions{})
		putEarly(t, addr, 1<<20, make([]byte, sent), http.StatusOK)
	})
}
