package h1

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/securegw/gateway/internal/testpki"
)

// skipHead reads a request head through its blank line.
func skipHead(br *bufio.Reader) error {
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		if line == "\r\n" {
			return nil
		}
	}
}

// server accepts connections and answers each request head with raw.
func server(t *testing.T, raw string) (addr string, accepted *atomic.Int64, closed chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted = new(atomic.Int64)
	closed = make(chan struct{}, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer func() { c.Close(); closed <- struct{}{} }()
				br := bufio.NewReader(c)
				for {
					if err := skipHead(br); err != nil {
						return
					}
					if _, err := io.WriteString(c, raw); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), accepted, closed
}

func dialer(addr string) Dialer {
	return func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
}

func get(t *testing.T, p *Pool, host string) (*http.Response, *Conn) {
	t.Helper()
	c, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WriteRequestHead("GET", "/x", "", host, http.Header{"A": {"1"}}, -1, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	var resp http.Response
	if err := c.ReadResponse(&resp, "GET", nil); err != nil {
		t.Fatal(err)
	}
	return &resp, c
}

// The header map of a response is the connection's, reused by its next
// response; the values, in the caller's memory or a new slice, are not:
// a response's values copied out (into a ResponseWriter's header) stay
// as they were while the connection serves the next requests.
func TestHeaderValuesOutliveReuse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for i := 0; ; i++ {
			if err := skipHead(br); err != nil {
				return
			}
			extra := ""
			if i%2 == 1 { // more values than the caller's room: a new slice
				extra = "X-A: 1\r\nX-B: 2\r\nX-C: 3\r\n"
			}
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nX-N: "+strconv.Itoa(i)+"\r\n"+extra+"Content-Length: 0\r\n\r\n"); err != nil {
				return
			}
		}
	}()
	addr := ln.Addr().String()
	p := NewPool(dialer(addr), 4, time.Minute)
	defer p.Close()
	var kept [][]string
	for i := 0; i < 4; i++ {
		c, err := p.Get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := c.WriteRequestHead("GET", "/", "", addr, nil, -1, false, nil); err != nil {
			t.Fatal(err)
		}
		if err := c.Flush(); err != nil {
			t.Fatal(err)
		}
		var resp http.Response
		vals := make([]string, 2)
		if err := c.ReadResponse(&resp, "GET", vals); err != nil {
			t.Fatal(err)
		}
		if got := resp.Header.Get("X-N"); got != strconv.Itoa(i) {
			t.Fatalf("response %d: X-N %q (a previous response's field left in the map?) %v", i, got, resp.Header)
		}
		if _, ok := resp.Header["X-A"]; ok != (i%2 == 1) {
			t.Fatalf("response %d: header %v", i, resp.Header)
		}
		kept = append(kept, resp.Header["X-N"])
		resp.Body.Close()
	}
	for i, v := range kept {
		if len(v) != 1 || v[0] != strconv.Itoa(i) {
			t.Fatalf("values of response %d became %q after the connection served others", i, v)
		}
	}
	if p.Idle() != 1 {
		t.Fatalf("%d idle connections, want the one reused", p.Idle())
	}
}

// A chunked body with trailers: the bytes, then the trailers in
// resp.Trailer, and the connection goes back to the pool.
func TestChunkedTrailers(t *testing.T) {
	addr, accepted, _ := server(t, "HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Sum: 5\r\n\r\n")
	p := NewPool(dialer(addr), 4, time.Minute)
	defer p.Close()
	for i := 0; i < 3; i++ {
		resp, _ := get(t, p, addr)
		if _, ok := resp.Trailer["X-Sum"]; !ok {
			t.Fatalf("declared trailers %v", resp.Trailer)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(body) != "abcde" || resp.Trailer.Get("X-Sum") != "5" {
			t.Fatalf("body %q, err %v, trailers %v", body, err, resp.Trailer)
		}
	}
	if n := accepted.Load(); n != 1 {
		t.Fatalf("%d connections for 3 requests, want 1", n)
	}
}

// An unread body closes its connection instead of pooling it: the next
// request must not read the rest as its answer.
func TestUnreadBodyIsNotPooled(t *testing.T) {
	addr, accepted, _ := server(t, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
	p := NewPool(dialer(addr), 4, time.Minute)
	defer p.Close()
	resp, _ := get(t, p, addr)
	resp.Body.Close()
	resp, _ = get(t, p, addr)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello" || accepted.Load() != 2 || p.Idle() != 1 {
		t.Fatalf("body %q, %d connections, %d idle", body, accepted.Load(), p.Idle())
	}
}

// Idle connections are closed after the idle timeout without any traffic.
func TestIdleTimeout(t *testing.T) {
	addr, _, closed := server(t, "HTTP/1.1 204 No Content\r\n\r\n")
	p := NewPool(dialer(addr), 4, 50*time.Millisecond)
	defer p.Close()
	resp, _ := get(t, p, addr)
	resp.Body.Close()
	if p.Idle() != 1 {
		t.Fatalf("%d idle, want 1", p.Idle())
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the idle connection was not closed")
	}
	if p.Idle() != 0 {
		t.Fatalf("%d idle after the timeout", p.Idle())
	}
}

// Header values a provider might build from user input never split the
// request: a CR or LF refuses the request before anything is written.
func TestRequestHeadRefusesInjection(t *testing.T) {
	addr, _, _ := server(t, "HTTP/1.1 204 No Content\r\n\r\n")
	p := NewPool(dialer(addr), 4, time.Minute)
	defer p.Close()
	c, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, h := range []http.Header{
		{"X-User": {"alice\r\nX-Admin: 1"}},
		{"X-User\r\nX-Admin": {"1"}},
		{"X-User": {"a\x00"}},
	} {
		err := c.WriteRequestHead("GET", "/", "", addr, h, -1, false, nil)
		if _, ok := err.(*HeaderError); !ok {
			t.Fatalf("%q: err %v, want a HeaderError", h, err)
		}
		if c.bw.Buffered() != 0 {
			t.Fatalf("%q: %d bytes buffered after the refusal", h, c.bw.Buffered())
		}
	}
	if err := c.WriteRequestHead("GET", "/a b", "", addr, nil, -1, false, nil); err == nil || !strings.Contains(err.Error(), "target") {
		t.Fatalf("space in the target: %v", err)
	}
}

// A chunked body of small chunks moves in large reads: one Read returns
// the data of every chunk already buffered, and never waits for the
// backend when it has bytes (a next chunk whose data has not come, a last
// chunk whose trailers have not).
func TestChunkedReadsCoalesceWithoutWaiting(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	next := make(chan struct{})
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			if line, err := br.ReadString('\n'); err != nil || line == "\r\n" {
				break
			}
		}
		for _, part := range []string{
			"HTTP/1.1 200 OK\r\nTrailer: X-T\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4;x=y\r\ndefg\r\n5\r\n",
			"hijkl\r\n2\r\nmn\r\n0\r\n",
			"X-T: 1\r\n\r\n",
		} {
			if _, err := io.WriteString(c, part); err != nil {
				return
			}
			if _, ok := <-next; !ok {
				return
			}
		}
	}()
	t.Cleanup(func() { close(next) })
	p := NewPool(dialer(ln.Addr().String()), 4, time.Minute)
	defer p.Close()
	resp, c := get(t, p, ln.Addr().String())
	defer resp.Body.Close()
	read := func(want string) {
		t.Helper()
		got := make(chan string, 1)
		go func() {
			buf := make([]byte, 1024)
			n, err := resp.Body.Read(buf)
			if err != nil {
				got <- "error " + err.Error()
				return
			}
			got <- string(buf[:n])
		}()
		select {
		case s := <-got:
			if s != want {
				t.Fatalf("Read returned %q, want %q", s, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Read waited for the backend with %q buffered", want)
		}
	}
	if k := c.Buffered(); k < len("3\r\nabc\r\n4;x=y\r\ndefg\r\n5\r\n") {
		t.Skipf("only %d bytes of the first write arrived with the head", k)
	}
	read("abcdefg")
	next <- struct{}{}
	read("hijklmn")
	next <- struct{}{}
	if b, err := io.ReadAll(resp.Body); err != nil || len(b) != 0 || resp.Trailer.Get("X-T") != "1" {
		t.Fatalf("end: %q %v, trailers %v", b, err, resp.Trailer)
	}
}

// A connection idle long enough to be checked before reuse is reused when
// the backend kept it, even with an expired read deadline left by its last
// exchange (deadlines are moved before reads, not cleared after them).
func TestIdleCheckIgnoresStaleDeadline(t *testing.T) {
	addr, accepted, _ := server(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	p := NewPool(dialer(addr), 4, time.Minute)
	defer p.Close()
	resp, c := get(t, p, addr)
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Unix(1, 0)) // expired
	resp.Body.Close()
	if p.Idle() != 1 {
		t.Fatalf("%d idle, want 1", p.Idle())
	}
	p.mu.Lock()
	p.idle[0].idleAt -= int64(2 * checkAfter) // idle long enough to be checked
	p.mu.Unlock()
	resp, c = get(t, p, addr)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok" || !c.Reused || accepted.Load() != 1 {
		t.Fatalf("body %q, reused %v, %d connections: the idle connection was dropped", body, c.Reused, accepted.Load())
	}
}

// Bytes a backend sends after an answer that has no body by rule (HEAD,
// 204, 304), even in a later segment (a later TLS record) that arrives
// after the connection went back to the pool, are never read as the next
// request's answer: the connection is peeked at before its reuse, however
// short its idle time, and closed. (A backend's bytes that come after the
// next request was sent cannot be told from its answer, as with
// net/http's Transport.)
func TestLateBytesAfterBodilessAnswer(t *testing.T) {
	const poison = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nPOISON"
	tests := []struct {
		name, method, head, stray string
	}{
		{"HEAD with a body", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 39\r\n\r\n", poison},
		{"204 with a body", "GET", "HTTP/1.1 204 No Content\r\n\r\n", poison},
		{"304 with a body", "GET", "HTTP/1.1 304 Not Modified\r\nContent-Length: 39\r\n\r\n", poison},
		{"204 alone: reused", "GET", "HTTP/1.1 204 No Content\r\n\r\n", ""},
	}
	ca := testpki.NewCA(t, "backend CA")
	leaf := ca.Server(t, "127.0.0.1")
	for _, secure := range []bool{false, true} {
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s/TLS=%v", tc.name, secure), func(t *testing.T) {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { ln.Close() })
				addr := ln.Addr().String()
				dial := dialer(addr)
				if secure {
					ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{leaf.TLS}})
					dial = func(ctx context.Context) (net.Conn, error) {
						c, err := dialer(addr)(ctx)
						if err != nil {
							return nil, err
						}
						tc := tls.Client(c, &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"})
						return tc, tc.HandshakeContext(ctx)
					}
				}
				send := make(chan struct{})
				var accepted atomic.Int64
				go func() {
					for {
						c, err := ln.Accept()
						if err != nil {
							return
						}
						n := accepted.Add(1)
						go func() {
							defer c.Close()
							br := bufio.NewReader(c)
							for i := 0; ; i++ {
								if err := skipHead(br); err != nil {
									return
								}
								answer := "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh"
								if n == 1 && i == 0 {
									answer = tc.head
								}
								if _, err := io.WriteString(c, answer); err != nil {
									return
								}
								if n == 1 && i == 0 && tc.stray != "" {
									<-send // the stray body, once the connection is back in the pool
									if _, err := io.WriteString(c, tc.stray); err != nil {
										return
									}
								}
							}
						}()
					}
				}()
				p := NewPool(dial, 4, time.Minute)
				defer p.Close()
				c, err := p.Get(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if err := c.WriteRequestHead(tc.method, "/x", "", addr, nil, -1, false, nil); err != nil {
					t.Fatal(err)
				}
				if err := c.Flush(); err != nil {
					t.Fatal(err)
				}
				var resp http.Response
				if err := c.ReadResponse(&resp, tc.method, nil); err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if p.Idle() != 1 {
					t.Fatalf("%d idle after a bodiless answer, want 1", p.Idle())
				}
				if tc.stray != "" {
					close(send)
					sock := c.tcp
					if secure {
						sock = c.nc.(*tls.Conn).NetConn().(*net.TCPConn)
					}
					waitReadable(t, sock)
				}
				resp2, c2 := get(t, p, addr)
				body, _ := io.ReadAll(resp2.Body)
				resp2.Body.Close()
				reuse, conns := tc.stray == "", int64(1) // nothing came after the answer: kept
				if !reuse {
					conns = 2
				}
				if string(body) != "fresh" || c2.Reused != reuse || accepted.Load() != conns {
					t.Fatalf("next answer %q (reused %v, %d connections), want reused %v", body, c2.Reused, accepted.Load(), reuse)
				}
			})
		}
	}
}

// waitReadable polls (with a deadline) until tc has bytes to read, without
// reading them.
func waitReadable(t *testing.T, tc *net.TCPConn) {
	t.Helper()
	rc, err := tc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := 0
		_ = rc.Control(func(fd uintptr) {
			var b [1]byte
			n, _, _ = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		})
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the stray bytes never arrived")
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond) // poll interval, not a wait for an event
	}
}

// The request head carries every field as given (OWS trimmed), whether
// it fits the write buffer's room or not: values of a few bytes, one
// larger than the whole buffer, and enough of them to fill it midway.
func TestRequestHeadFields(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got := make(chan http.Header, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		req, err := http.ReadRequest(bufio.NewReaderSize(c, 64<<10))
		if err != nil {
			got <- http.Header{"Read-Error": {err.Error()}}
			return
		}
		got <- req.Header
		io.WriteString(c, "HTTP/1.1 204 No Content\r\n\r\n")
	}()
	h := http.Header{
		"A":        {"1"},
		"Padded":   {" \tv w\t "},
		"Big":      {strings.Repeat("b", 2*writeBufferSize)},
		"Repeated": {"x", "y"},
	}
	for i := range 40 { // about 100 bytes each: the buffer fills among them
		h[fmt.Sprintf("X-Field-%02d", i)] = []string{strings.Repeat(strconv.Itoa(i%10), 90)}
	}
	p := NewPool(dialer(ln.Addr().String()), 1, 0)
	t.Cleanup(p.Close)
	c, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WriteRequestHead("GET", "/x", "", "b", h, -1, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	seen := <-got
	h["Padded"] = []string{"v w"}
	if len(seen) != len(h) {
		t.Errorf("the backend got %d fields, want %d", len(seen), len(h))
	}
	for k, want := range h {
		if fmt.Sprint(seen[k]) != fmt.Sprint(want) {
			t.Errorf("%s: the backend got %.40q, want %.40q", k, seen[k], want)
		}
	}
}
