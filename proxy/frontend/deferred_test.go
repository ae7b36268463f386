package frontend_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/securegw/gateway/internal/procio"
	"github.com/securegw/gateway/proxy/frontend"
)

// ioCounts is the read(2) and write(2) calls counted in the kernel's file
// (/proc/self/io for the process, /proc/thread-self/io for the thread).
func ioCounts(t *testing.T, file string) (reads, writes int) {
	t.Helper()
	reads, writes, err := procio.Counts(file)
	if err != nil {
		t.Skipf("no I/O counts: %v", err)
	}
	return reads, writes
}

// frontDialers are the lean front's two kinds of connection: plain TCP
// and TLS (HTTP/1.1). Each starts a front serving h with o and returns a
// dial function for it.
var frontDialers = []struct {
	name  string
	serve func(t *testing.T, h http.Handler, o frontend.ServerOptions) func(t *testing.T) net.Conn
}{
	{"plain", func(t *testing.T, h http.Handler, o frontend.ServerOptions) func(t *testing.T) net.Conn {
		_, addr := serveFront(t, frontend.KindLean, h, o)
		return func(t *testing.T) net.Conn {
			t.Helper()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return c
		}
	}},
	{"tls", func(t *testing.T, h http.Handler, o frontend.ServerOptions) func(t *testing.T) net.Conn {
		_, addr, ca := tlsLean(t, h, o)
		return func(t *testing.T) net.Conn {
			t.Helper()
			c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), NextProtos: []string{"http/1.1"}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return c
		}
	}},
}

// okHandler answers every request "ok".
var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })

// okClient starts fd's front serving okHandler, dials it, and returns a
// function that sends a keep-alive GET on that connection and reads the
// answer. The calling goroutine stays on its thread until the test ends,
// so that serverIO can tell the client's system calls from the server's.
func okClient(t *testing.T, serve func(*testing.T, http.Handler, frontend.ServerOptions) func(*testing.T) net.Conn) func() {
	dial := serve(t, okHandler, frontend.ServerOptions{})
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
	c := dial(t)
	br := bufio.NewReader(c)
	return func() {
		t.Helper()
		if _, err := io.WriteString(c, "GET /x HTTP/1.1\r\nHost: gw\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if b, err := io.ReadAll(resp.Body); err != nil || string(b) != "ok" {
			t.Fatalf("answer %q %v", b, err)
		}
	}
}

// think spends d on the calling goroutine (the client's, on its own
// thread) without a timer: a timer would wake the runtime's network
// poller, whose read of its eventfd serverIO would count as the server's.
func think(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
		runtime.Gosched()
	}
}

// serverIO runs get n times and returns the read(2) and write(2) calls
// the process made meanwhile, less those of the calling thread (the
// client's, locked to it by the caller): the server's.
func serverIO(t *testing.T, n int, get func()) (reads, writes int) {
	t.Helper()
	pr0, pw0 := ioCounts(t, procio.Process)
	tr0, tw0 := ioCounts(t, procio.Thread)
	for i := 0; i < n; i++ {
		get()
	}
	pr1, pw1 := ioCounts(t, procio.Process)
	tr1, tw1 := ioCounts(t, procio.Thread)
	return (pr1 - pr0) - (tr1 - tr0), (pw1 - pw0) - (tw1 - tw0)
}

// A keep-alive client's requests cost the lean front one read(2) and one
// write(2) each, under TLS too: the answer is sent from inside the wait
// for the next request, not followed by a read that finds nothing before
// the wait. The client runs on a thread of its own, so the process's
// counts less the thread's are the server's. (The wait's bound is a second
// here: a client goroutine the host delays past 10 ms would have the next
// answers sent at once, each with a read more.)
func TestKeepAliveRequestCostsOneRead(t *testing.T) {
	defer frontend.SetDeferredWait(time.Second)()
	for _, fd := range frontDialers {
		t.Run(fd.name, func(t *testing.T) {
			get := okClient(t, fd.serve)
			get()
			const n = 200
			reads, writes := serverIO(t, n, get)
			t.Logf("server: %d reads, %d writes for %d requests", reads, writes, n)
			if reads > n+n/10 || writes > n+n/10 {
				t.Fatalf("the server made %d reads and %d writes for %d requests, want about one each", reads, writes, n)
			}
		})
	}
}

// A client that paused longer than the deferred wait after an answer gets
// its next answers at once (frontend.AnswersAtOnce of them: each costs the
// server a read that finds nothing before it waits), and then deferred
// again: a busy client that paused once does not pay that read for good.
func TestPauseSendsAnswersAtOnceForAWhile(t *testing.T) {
	for _, fd := range frontDialers {
		t.Run(fd.name, func(t *testing.T) {
			get := okClient(t, fd.serve)
			get()
			get()                                 // its answer is deferred: sent from the wait for the next request
			time.Sleep(3 * frontend.DeferredWait) // the client's pause, past that wait's deadline
			get()                                 // answered at once, as the next AnswersAtOnce-1 are
			// From here the wait's bound is a second: a client goroutine
			// the host delays past 10 ms would start another run of
			// answers sent at once.
			defer frontend.SetDeferredWait(time.Second)()
			const n = 100
			i := 0
			reads, _ := serverIO(t, n, func() {
				if i++; i < frontend.AnswersAtOnce {
					// The client's think time: the server's read after
					// an answer sent at once comes before the request.
					think(5 * time.Millisecond)
				}
				get()
			})
			t.Logf("server: %d reads for %d requests after a pause", reads, n)
			// Every answer sent at once is followed by a read that finds
			// nothing (a scheduler's delay may still let the client's next
			// request come first: half of them are asked for).
			if min := n + frontend.AnswersAtOnce/2; reads < min {
				t.Fatalf("the server made %d reads for %d requests after a pause, want at least %d: were its answers deferred?", reads, n, min)
			}
			if max := n + frontend.AnswersAtOnce + n/10; reads > max {
				t.Fatalf("the server made %d reads for %d requests after a pause, want at most %d: its answers are not deferred again", reads, n, max)
			}
		})
	}
}

// A pipelined request that comes while the handler of the one before it
// runs (after the connection's last read) is answered, in order, though
// the wait the first answer is sent from may miss it: within the bound of
// that wait, not at the idle timeout.
func TestPipelinedDuringHandlerIsAnswered(t *testing.T) {
	started, sent := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/first" {
			started <- struct{}{} // its head was read
			<-sent                // the second request came meanwhile
		}
		io.WriteString(w, r.URL.Path)
	})
	for _, fd := range frontDialers {
		t.Run(fd.name, func(t *testing.T) {
			dial := fd.serve(t, h, frontend.ServerOptions{IdleTimeout: time.Minute})
			for i := 0; i < 20; i++ {
				c := dial(t)
				start := time.Now()
				io.WriteString(c, "GET /first HTTP/1.1\r\nHost: gw\r\n\r\n")
				<-started
				io.WriteString(c, "GET /second HTTP/1.1\r\nHost: gw\r\n\r\n")
				sent <- struct{}{}
				br := bufio.NewReader(c)
				c.SetReadDeadline(start.Add(10 * time.Second))
				for _, want := range []string{"/first", "/second"} {
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						t.Fatalf("round %d, answer for %s: %v", i, want, err)
					}
					b, _ := io.ReadAll(resp.Body)
					if string(b) != want {
						t.Fatalf("round %d: answer %q, want %q", i, b, want)
					}
				}
				if took := time.Since(start); took > 5*time.Second {
					t.Fatalf("round %d: the pipelined request waited %v", i, took)
				}
			}
		})
	}
}

// heldWrites is a connection whose writes, once hold is set, wait in buf
// until release sends them in one write(2).
type heldWrites struct {
	net.Conn
	hold bool
	buf  []byte
}

func (h *heldWrites) Write(p []byte) (int, error) {
	if h.hold {
		h.buf = append(h.buf, p...)
		return len(p), nil
	}
	return h.Conn.Write(p)
}

func (h *heldWrites) release() error {
	h.hold = false
	_, err := h.Conn.Write(h.buf)
	return err
}

// Two requests in two TLS records that reach the front in one read:
// crypto/tls hands the first over and keeps the second, so no read of the
// connection is made for it. The first's answer is sent before the second
// is served: its handler waits for the client to have the first answer.
func TestTLSBufferedRequestGetsAnswerFirst(t *testing.T) {
	got := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/second" {
			select {
			case <-got:
			case <-time.After(10 * time.Second):
				http.Error(w, "the first answer did not come first", http.StatusGatewayTimeout)
				return
			}
		}
		io.WriteString(w, r.URL.Path)
	})
	_, addr, ca := tlsLean(t, h, frontend.ServerOptions{})
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	hw := &heldWrites{Conn: raw}
	c := tls.Client(hw, &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1", NextProtos: []string{"http/1.1"}})
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	read := func(want string) {
		t.Helper()
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer for %s: %v", want, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || string(b) != want {
			t.Fatalf("answer %d %q, want %q", resp.StatusCode, b, want)
		}
	}
	for i := 0; i < 3; i++ { // a busy connection: its answers are deferred
		io.WriteString(c, "GET /warm HTTP/1.1\r\nHost: gw\r\n\r\n")
		read("/warm")
	}
	hw.hold = true
	io.WriteString(c, "GET /first HTTP/1.1\r\nHost: gw\r\n\r\n")
	io.WriteString(c, "GET /second HTTP/1.1\r\nHost: gw\r\n\r\n")
	if err := hw.release(); err != nil {
		t.Fatal(err)
	}
	read("/first")
	close(got)
	read("/second")
}

// The empty line a client may send after a POST (RFC 9112 §2.2), its CR
// and LF apart by more than the wait a deferred answer is sent from: the
// rest of it is waited for within the usual wait, and the next request is
// served, not refused as a head that begins with a CR (under TLS too).
func TestEmptyLineAfterPostOutlastsDeferredWait(t *testing.T) {
	for _, fd := range frontDialers {
		t.Run(fd.name, func(t *testing.T) {
			c := fd.serve(t, echo, frontend.ServerOptions{IdleTimeout: 10 * time.Second})(t)
			br := bufio.NewReader(c)
			read := func(want string) {
				t.Helper()
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("%s: %v", want, err)
				}
				if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(b) != want {
					t.Fatalf("%d %q, want 200 %q", resp.StatusCode, b, want)
				}
			}
			io.WriteString(c, "GET /warm HTTP/1.1\r\nHost: x\r\n\r\n")
			read(`GET x /warm ""`)
			io.WriteString(c, "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
			read(`POST x /p ""`)
			io.WriteString(c, "\r")
			time.Sleep(3 * frontend.DeferredWait) // the slow client's pause within its empty line
			io.WriteString(c, "\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n")
			read(`GET x /next ""`)
		})
	}
}

// A deferred answer whose wait had its deadline pass before it began (a
// goroutine that ran late; made so here) is sent all the same, and the
// connection is idle after it: Shutdown closes it at once, as one whose
// answer went from inside the wait. So when the usual wait after it (the
// idle release's) did not begin either: the answer goes before the
// buffers go back to their pools.
func TestLateDeferredAnswerLeavesConnectionIdle(t *testing.T) {
	defer frontend.SetDeferredWait(0)()
	cfg, ca := serverTLS(t)
	for _, tc := range []struct {
		name    string
		cfg     *tls.Config
		release time.Duration // the idle release: 0, its wait does not begin either
	}{
		{"plain", nil, time.Minute},
		{"tls", cfg, time.Minute},
		{"plain, late release", nil, 0},
		{"tls, late release", cfg, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer frontend.SetIdleRelease(tc.release)()
			f, addr := serveFront(t, frontend.KindLean, echo, frontend.ServerOptions{IdleTimeout: time.Minute, TLSConfig: tc.cfg})
			var c net.Conn
			var err error
			if tc.cfg == nil {
				c, err = net.Dial("tcp", addr)
			} else {
				c, err = tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), NextProtos: []string{"http/1.1"}})
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReader(c)
			for _, path := range []string{"/a", "/b"} {
				io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				if b, _ := io.ReadAll(resp.Body); string(b) != `GET x `+path+` ""` {
					t.Fatalf("%s: answer %q", path, b)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			if err := f.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown with an idle connection: %v", err)
			}
			if _, err := br.ReadByte(); err == nil || isTimeout(err) {
				t.Fatalf("idle connection not closed by Shutdown: %v", err)
			}
		})
	}
}
