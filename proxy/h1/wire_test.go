package h1

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/securegw/gateway/internal/procio"
)

// threadIO is the read(2) and write(2) calls the calling thread made so
// far, as the kernel counts them (/proc/thread-self/io).
func threadIO(t *testing.T) (reads, writes int) {
	t.Helper()
	reads, writes, err := procio.Counts(procio.Thread)
	if err != nil {
		t.Skipf("no per-thread I/O counts: %v", err)
	}
	return reads, writes
}

// exchange sends a GET on a connection of p (FlushOnRead or Flush) and
// reads its answer to the end; the connection goes back to p.
func exchange(t *testing.T, p *Pool, onRead bool) string {
	t.Helper()
	c, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WriteRequestHead("GET", "/x", "", "b", nil, -1, false, nil); err != nil {
		t.Fatal(err)
	}
	flush := c.Flush
	if onRead {
		flush = c.FlushOnRead
	}
	if err := flush(); err != nil {
		t.Fatal(err)
	}
	var resp http.Response
	if err := c.ReadResponse(&resp, "GET", nil); err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return string(body)
}

// A request without a body on a reused plain TCP connection costs one
// write(2) and one read(2): FlushOnRead's head is sent from inside the
// wait for its answer, where Flush's is followed by a read that finds
// nothing yet (EAGAIN) before the wait. The answers are the backend's,
// in order, on one connection.
func TestFlushOnReadCostsOneReadPerAnswer(t *testing.T) {
	addr, accepted, _ := server(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	p := NewPool(dialer(addr), 4, time.Minute)
	defer p.Close()
	runtime.LockOSThread() // the exchanges run on this thread: its counts are theirs
	defer runtime.UnlockOSThread()
	exchange(t, p, true) // dials
	const n = 200
	cost := func(onRead bool) (reads, writes float64) {
		r0, w0 := threadIO(t)
		r1, w1 := threadIO(t) // what reading the counts costs
		for i := 0; i < n; i++ {
			if body := exchange(t, p, onRead); body != "ok" {
				t.Fatalf("answer %d: %q", i, body)
			}
		}
		r2, w2 := threadIO(t)
		return float64(r2-r1-(r1-r0)) / n, float64(w2-w1-(w1-w0)) / n
	}
	flushReads, flushWrites := cost(false)
	reads, writes := cost(true)
	t.Logf("per answer: Flush %.2f reads %.2f writes, FlushOnRead %.2f reads %.2f writes", flushReads, flushWrites, reads, writes)
	if reads > 1.1 || writes != 1 {
		t.Fatalf("FlushOnRead: %.2f read(2) and %.2f write(2) per answer, want 1 and 1", reads, writes)
	}
	if accepted.Load() != 1 {
		t.Fatalf("%d connections for %d sequential requests", accepted.Load(), 2*n+1)
	}
}

// The wait FlushOnRead's head is sent from keeps the read deadline: an
// answer later than it is a timeout, the head was sent all the same, and
// the next read (the usual kind) gets the answer when it comes.
func TestFlushOnReadKeepsTheDeadline(t *testing.T) {
	answer := make(chan struct{})
	c, heads := heldHead(t, answer)
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	err := c.Peek()
	if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("before the answer: %v, want a timeout", err)
	}
	if err := <-heads; err != nil {
		t.Fatalf("the backend did not get the head: %v", err)
	}
	close(answer)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var resp http.Response
	if err := c.ReadResponse(&resp, "GET", nil); err != nil || resp.StatusCode != 204 {
		t.Fatalf("the answer after the timeout: %d %v", resp.StatusCode, err)
	}
}

// A read whose wait never began (its deadline had passed before it, as
// for a goroutine that ran late, or a watch moved it to the past) sends
// FlushOnRead's head all the same, as Flush would have sent it: it failed
// as a timeout and left the head unsent, and the next read waited for
// the answer to a request the backend never got.
func TestFlushOnReadSendsTheHeadWhenTheWaitNeverBegan(t *testing.T) {
	for _, tc := range []struct {
		name  string
		early func(c *Conn)
	}{
		{"deadline passed", func(c *Conn) { _ = c.SetReadDeadline(time.Now().Add(-time.Second)) }},
		{"interrupted", func(c *Conn) { c.Interrupt()() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			answered := make(chan struct{})
			close(answered)
			c, heads := heldHead(t, answered)
			tc.early(c)
			err := c.Peek()
			if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
				t.Fatalf("a read past its deadline: %v, want a timeout", err)
			}
			select {
			case err := <-heads:
				if err != nil {
					t.Fatalf("the backend did not get the head: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the head was not sent")
			}
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			var resp http.Response
			if err := c.ReadResponse(&resp, "GET", nil); err != nil || resp.StatusCode != 204 {
				t.Fatalf("the answer after the timeout: %d %v", resp.StatusCode, err)
			}
		})
	}
}

// heldHead returns a connection of a pool to a backend of one connection,
// with a GET head that FlushOnRead holds. The backend tells heads whether
// it read a head, then answers 204 once answer is closed.
func heldHead(t *testing.T, answer <-chan struct{}) (*Conn, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	heads := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			heads <- err
			return
		}
		defer c.Close()
		err = skipHead(bufio.NewReader(c))
		heads <- err
		if err == nil {
			<-answer
			io.WriteString(c, "HTTP/1.1 204 No Content\r\n\r\n")
		}
		io.Copy(io.Discard, c)
	}()
	p := NewPool(dialer(ln.Addr().String()), 4, time.Minute)
	t.Cleanup(p.Close)
	c, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := c.WriteRequestHead("GET", "/x", "", "b", nil, -1, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.FlushOnRead(); err != nil {
		t.Fatal(err)
	}
	return c, heads
}
