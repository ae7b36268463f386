//go:build linux

package proxy_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy/frontend"
)

// rawConn does a connection's I/O with recvfrom(2) and sendmsg(2), which
// the kernel does not count as reads and writes in /proc/self/io: a test
// client and backend built on it leave those counts to the gateway.
type rawConn struct{ rc syscall.RawConn }

func newRawConn(t *testing.T, c net.Conn) rawConn {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return rawConn{rc}
}

func (r rawConn) Read(p []byte) (int, error) {
	var n int
	var err error
	if e := r.rc.Read(func(fd uintptr) bool {
		n, _, err = syscall.Recvfrom(int(fd), p, 0)
		return err != syscall.EAGAIN
	}); e != nil {
		return 0, e
	}
	switch {
	case err != nil:
		return 0, err
	case n == 0 && len(p) > 0:
		return 0, io.EOF
	}
	return n, nil
}

func (r rawConn) Write(p []byte) (int, error) {
	n := 0
	var err error
	if e := r.rc.Write(func(fd uintptr) bool {
		for n < len(p) {
			var m int
			m, err = syscall.SendmsgN(int(fd), p[n:], nil, nil, syscall.MSG_NOSIGNAL)
			if err == syscall.EAGAIN {
				err = nil
				return false
			}
			if err != nil {
				return true
			}
			n += m
		}
		return true
	}); e != nil {
		return n, e
	}
	return n, err
}

// rwCalls is the number of read(2)- and write(2)-like system calls the
// process made so far (splice(2), recvfrom(2) and sendmsg(2) are not).
func rwCalls(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skipf("no I/O accounting: %v", err)
	}
	var total int64
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ": "); ok && (k == "syscr" || k == "syscw") {
			n, _ := strconv.ParseInt(v, 10, 64)
			total += n
		}
	}
	return total
}

// verifier checks what is written against want, in order.
type verifier struct {
	want []byte
	off  int
	bad  bool
}

func (v *verifier) Write(p []byte) (int, error) {
	if v.off+len(p) > len(v.want) || !bytes.Equal(p, v.want[v.off:v.off+len(p)]) {
		v.bad = true
	}
	v.off += len(p)
	return len(p), nil
}

// syscallBackend serves, on recvfrom/sendmsg only: POST /up (answers
// "ok" when the body is data), GET /down (data) and GET /small.
func syscallBackend(t *testing.T, data []byte) string {
	t.Helper()
	addr := serveRaw(t, func(c net.Conn) {
		rw := newRawConn(t, c)
		br := bufio.NewReaderSize(rw, 1<<20)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			var answer string
			switch req.URL.Path {
			case "/up":
				if req.Header.Get("Expect") == "100-continue" {
					io.WriteString(rw, "HTTP/1.1 100 Continue\r\n\r\n")
				}
				v := &verifier{want: data}
				n, err := io.Copy(v, req.Body)
				answer = fmt.Sprintf("got %d bytes, equal %v, err %v", n, !v.bad && n == int64(len(data)), err)
			case "/down":
				fmt.Fprintf(rw, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(data))
				for p := data; len(p) > 0; p = p[min(len(p), 1<<20):] {
					if _, err := rw.Write(p[:min(len(p), 1<<20)]); err != nil {
						return
					}
				}
				continue
			default:
				answer = "small"
			}
			fmt.Fprintf(rw, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(answer), answer)
		}
	})
	return "http://" + addr
}

// A large body of known length between plain TCP connections moves by
// splice(2) in both directions, through the lean front: the gateway's
// read(2) and write(2) calls during a 64 MiB upload and download (counted
// by the kernel for the whole process; the client and backend here use
// other calls) stay far below the 256 of each a copy in 256 KiB pieces
// makes. The upload ends exactly at its length: a request pipelined right
// after it is served. The service's max_body_bytes (the body's length
// here) lets a body of known length within it splice.
func TestLargeBodiesAreSpliced(t *testing.T) {
	const size = 64 << 20
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7 + i>>13)
	}
	e := newEnv(t, proxyConfig())
	fe := newTestFront(t, e.p, frontend.KindLean)
	s := svc("s", syscallBackend(t, data))
	s.Dispatch = &topology.Dispatch{MaxBodyBytes: size}
	e.deploy(topo("t", s))

	c, err := net.Dial("tcp", fe.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(time.Minute)) // bounded, whatever breaks
	rw := newRawConn(t, c)
	br := bufio.NewReaderSize(rw, 1<<20)
	const bound = size / (256 << 10) / 4 // a quarter of a copy's reads alone

	before := rwCalls(t)
	fmt.Fprintf(rw, "POST /gateway/t/s/up HTTP/1.1\r\nHost: gw\r\nContent-Length: %d\r\n\r\n", size)
	go func() {
		for p := data; len(p) > 0; p = p[min(len(p), 1<<20):] {
			if _, err := rw.Write(p[:min(len(p), 1<<20)]); err != nil {
				return
			}
		}
		io.WriteString(rw, "GET /gateway/t/s/small HTTP/1.1\r\nHost: gw\r\n\r\n")
	}()
	for i, want := range []string{fmt.Sprintf("got %d bytes, equal true, err <nil>", size), "small"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		got, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 || string(got) != want {
			t.Fatalf("answer %d: %d %q %v, want %q", i, resp.StatusCode, got, err, want)
		}
	}
	n := rwCalls(t) - before
	t.Logf("upload of 64 MiB: %d read/write system calls", n)
	if n > bound {
		t.Errorf("upload of 64 MiB: %d read/write system calls (at most %d): the body was not spliced", n, bound)
	}

	// With Expect: 100-continue, the body comes once the front said so.
	before = rwCalls(t)
	fmt.Fprintf(rw, "POST /gateway/t/s/up HTTP/1.1\r\nHost: gw\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n", size)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusContinue {
		t.Fatalf("before the body: %v, %v; want 100 Continue", resp, err)
	}
	go rw.Write(data)
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(resp.Body); err != nil || resp.StatusCode != 200 || string(got) != fmt.Sprintf("got %d bytes, equal true, err <nil>", size) {
		t.Fatalf("upload after 100 Continue: %d %q %v", resp.StatusCode, got, err)
	}
	n = rwCalls(t) - before
	t.Logf("upload of 64 MiB after 100 Continue: %d read/write system calls", n)
	if n > bound {
		t.Errorf("upload of 64 MiB after 100 Continue: %d read/write system calls (at most %d): the body was not spliced", n, bound)
	}

	before = rwCalls(t)
	io.WriteString(rw, "GET /gateway/t/s/down HTTP/1.1\r\nHost: gw\r\n\r\n")
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("download: %v\n%s", err, e.logs)
	}
	v := &verifier{want: data}
	got, err := io.Copy(v, resp.Body)
	if err != nil || resp.StatusCode != 200 || got != size || v.bad {
		t.Fatalf("download: %d, %d bytes, equal %v, %v", resp.StatusCode, got, !v.bad, err)
	}
	n = rwCalls(t) - before
	t.Logf("download of 64 MiB: %d read/write system calls", n)
	if n > bound {
		t.Errorf("download of 64 MiB: %d read/write system calls (at most %d): the body was not spliced", n, bound)
	}

	// The access log has the same sizes as for copied bodies: the bytes
	// of each answer's body. The last line is written when the handler
	// returns, which may be after the client read the body's end.
	want := []int64{int64(len(fmt.Sprintf("got %d bytes, equal true, err <nil>", size))), 5, int64(len(fmt.Sprintf("got %d bytes, equal true, err <nil>", size))), size}
	var lines []accessLine
	eventually(t, 5*time.Second, "the access lines", func() bool {
		lines = accessLines(t, e.logs.String())
		return len(lines) >= len(want)
	})
	if len(lines) != len(want) {
		t.Fatalf("%d access lines, want %d", len(lines), len(want))
	}
	for i, l := range lines {
		if l.Status != 200 || l.Bytes != want[i] {
			t.Errorf("access line %d: status %d, %d bytes; want 200, %d", i, l.Status, l.Bytes, want[i])
		}
	}
}

// Clients that do not send the body they promised, behind both fronts
// (the lean one splices the body, net/http's copies it): one hangs up
// halfway, one stops sending and is cut off by the front's read timeout.
// Either way the backend's request ends (its connection is closed), the
// request is logged as the client's fault (400, the backend not blamed),
// the client gets no 200, and the gateway serves the next request.
// A declared length over max_body_bytes is refused before the backend
// sees anything.
func TestUploadClientFailures(t *testing.T) {
	const size = 4 << 20
	for _, kind := range []string{frontend.KindLean, frontend.KindNetHTTP} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, proxyConfig())
			f, err := frontend.NewFront(e.p, frontend.ServerOptions{ReadTimeout: 2 * time.Second}, kind)
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go func() { _ = f.Serve(ln) }()
			t.Cleanup(func() { f.Close() })
			ended := make(chan error, 4)
			b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
				n, err := io.Copy(io.Discard, r.Body)
				if err != nil {
					ended <- err
					return
				}
				io.WriteString(w, itoa(n))
			})
			s := svc("s", b.URL)
			s.Dispatch = &topology.Dispatch{MaxBodyBytes: size}
			e.deploy(topo("t", s))
			head := fmt.Sprintf("PUT /gateway/t/s/f HTTP/1.1\r\nHost: gw\r\nContent-Length: %d\r\n\r\n", size)
			part := bytes.Repeat([]byte("x"), 1<<20)

			for _, hangUp := range []bool{true, false} {
				c, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				c.Write([]byte(head))
				c.Write(part)
				if hangUp {
					c.Close()
				}
				select {
				case err := <-ended:
					if !errors.Is(err, io.ErrUnexpectedEOF) {
						t.Errorf("hang-up %v: the backend's body ended with %v", hangUp, err)
					}
				case <-time.After(15 * time.Second):
					t.Fatalf("hang-up %v: the backend's request did not end", hangUp)
				}
				if !hangUp {
					// Cut off by the read timeout: an error answer, or none.
					_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
					got, err := io.ReadAll(c)
					if err != nil || strings.HasPrefix(string(got), "HTTP/1.1 200") {
						t.Errorf("stalled client got %q, %v", got, err)
					}
					c.Close()
				}
			}
			deadline := time.Now().Add(10 * time.Second)
			var lines []accessLine
			for len(lines) < 2 && time.Now().Before(deadline) {
				lines = accessLines(t, e.logs.String())
				time.Sleep(5 * time.Millisecond)
			}
			if len(lines) != 2 || lines[0].Status != 400 || lines[1].Status != http.StatusRequestTimeout {
				t.Fatalf("access lines %+v, want 400 (hung up), 408 (timed out)", lines)
			}
			if logs := e.logs.String(); strings.Contains(logs, "backend error") {
				t.Errorf("the backend was blamed:\n%s", logs)
			}

			// Too large: refused before anything is sent; then a whole
			// upload goes through.
			resp, _ := rawRoundTrip(t, ln.Addr().String(), fmt.Sprintf("PUT /gateway/t/s/f HTTP/1.1\r\nHost: gw\r\nContent-Length: %d\r\n\r\n", size+1))
			if resp == nil || resp.StatusCode != http.StatusRequestEntityTooLarge || b.count() != 2 {
				t.Fatalf("declared too large: %v, backend saw %d requests", resp, b.count())
			}
			req, _ := http.NewRequest("PUT", "http://"+ln.Addr().String()+"/gateway/t/s/f", bytes.NewReader(bytes.Repeat(part, 4)))
			hc := &http.Client{Transport: &http.Transport{}}
			t.Cleanup(hc.CloseIdleConnections)
			resp, err = hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(got) != itoa(size) {
				t.Fatalf("whole upload: %d %q", resp.StatusCode, got)
			}
		})
	}
}
