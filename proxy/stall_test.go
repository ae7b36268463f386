package proxy_test

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/securegw/gateway/internal/testpki"
	"github.com/securegw/gateway/proxy/frontend"
)

// testStall is the stall timeout of these tests.
const testStall = 300 * time.Millisecond

// stallCase is a front the stall tests run against.
type stallCase struct {
	kind string
	tls  bool
}

func (c stallCase) String() string {
	if c.tls {
		return c.kind + "+tls"
	}
	return c.kind
}

var stallCases = []stallCase{{frontend.KindLean, false}, {frontend.KindLean, true}, {frontend.KindNetHTTP, false}, {frontend.KindNetHTTP, true}}

// stallFront serves e's proxy on a front of its own with the stall timeout
// given, and returns a dialer of HTTP/1.1 client connections to it (TLS
// when the case says so), each with a receive buffer of rcvbuf bytes
// when not 0.
func stallFront(t *testing.T, e *env, sc stallCase, stall time.Duration) func(rcvbuf int) net.Conn {
	t.Helper()
	o := frontend.ServerOptions{StallTimeout: stall, Registerer: e.reg, Name: "stall"}
	var clientTLS *tls.Config
	if sc.tls {
		ca := testpki.NewCA(t, "front CA")
		leaf := ca.Server(t, "127.0.0.1")
		cfg, err := frontend.TLSConfig(func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &leaf.TLS, nil }, "off", nil)
		if err != nil {
			t.Fatal(err)
		}
		o.TLSConfig = cfg
		clientTLS = &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1", NextProtos: []string{"http/1.1"}}
	}
	f, err := frontend.NewFront(e.p, o, sc.kind)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = f.Serve(ln) }()
	t.Cleanup(func() { _ = f.Close() })
	if sc.tls || sc.kind == frontend.KindNetHTTP {
		// net/http's server of this front (the whole front, or its HTTP/2
		// part) runs: its goroutine is in the tests' goroutine baselines.
		// Told by its receiver: e's own front may be net/http's too
		// (GATEWAY_TEST_FRONT), and parallel tests have fronts of their own.
		serving := fmt.Sprintf("net/http.(*Server).Serve(%p,", f.Std)
		eventually(t, 5*time.Second, "net/http's server", func() bool { return goroutinesIn(serving) > 0 })
	}
	return func(rcvbuf int) net.Conn {
		t.Helper()
		d := net.Dialer{}
		c, err := d.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if rcvbuf > 0 {
			_ = c.(*net.TCPConn).SetReadBuffer(rcvbuf)
		}
		t.Cleanup(func() { c.Close() })
		if clientTLS != nil {
			tc := tls.Client(c, clientTLS)
			if err := tc.Handshake(); err != nil {
				t.Fatal(err)
			}
			return tc
		}
		return c
	}
}

// uploadBackend reads each request's body to its end or its failure and
// reports how many bytes it got and whether the body ended well; a whole
// body is answered "got N".
func uploadBackend(t *testing.T) (string, <-chan upload) {
	t.Helper()
	got := make(chan upload, 16)
	addr := serveRaw(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			n, err := io.Copy(io.Discard, req.Body)
			got <- upload{n, err}
			if err != nil {
				return
			}
			answer := "got " + strconv.FormatInt(n, 10)
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(answer), answer)
		}
	})
	return addr, got
}

type upload struct {
	n   int64
	err error
}

// A client that sends its head and part of its body, then stalls, has its
// request ended within about the stall timeout: the backend sees the body
// cut and its connection closed, the client gets 408 and its connection
// closed, no goroutine is left, and no backend error is counted. Copied
// bodies and spliced ones (plain lean front, Content-Length past the
// splice threshold).
func TestStalledUploadIsCut(t *testing.T) {
	for _, sc := range stallCases {
		for _, size := range []int{10 << 10, 1 << 20} {
			t.Run(fmt.Sprintf("%s/%d", sc, size), func(t *testing.T) {
				e := newEnv(t, proxyConfig())
				addr, got := uploadBackend(t)
				e.deploy(topo("t", svc("s", "http://"+addr)))
				dial := stallFront(t, e, sc, testStall)
				check := goroutineBaseline(t)
				c := dial(0)
				start := time.Now()
				fmt.Fprintf(c, "POST /gateway/t/s/up HTTP/1.1\r\nHost: gw\r\nContent-Length: %d\r\n\r\n", size)
				c.Write(make([]byte, 1000))
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					t.Fatalf("no answer: %v", err)
				}
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != http.StatusRequestTimeout {
					t.Fatalf("answer %d %q, want 408", resp.StatusCode, body)
				}
				if d := time.Since(start); d < testStall || d > testStall+2*time.Second {
					t.Fatalf("the stalled request ended after %v, want about %v", d, testStall)
				}
				if _, err := c.Read(make([]byte, 1)); err == nil || isTimeoutErr(err) {
					t.Fatalf("the client connection is still open after the answer: %v", err)
				}
				eventually(t, 5*time.Second, "the client connection closed", func() bool {
					return metricValue(t, e, "gateway_frontend_open_connections", "listener", "stall") == 0
				})
				select {
				case u := <-got:
					if u.err == nil || u.n >= int64(size) {
						t.Fatalf("the backend got %d bytes, %v: want a cut body", u.n, u.err)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("the backend connection still waits for the body")
				}
				c.Close()
				check()
				if n := metricValue(t, e, "gateway_backend_errors_total", "service", "s", "kind", "other"); n != 0 {
					t.Errorf("%v backend errors counted for the client's stall", n)
				}
				eventually(t, 5*time.Second, "the access line", func() bool {
					for _, l := range accessLines(t, e.logs.String()) {
						if l.Status == http.StatusRequestTimeout {
							return true
						}
					}
					return false
				})
			})
		}
	}
}

func isTimeoutErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// A client that sends its body slowly but steadily (a piece every third
// of the stall timeout, for more than three times it) is never cut: the
// backend gets all of it. Copied and spliced bodies.
//
// The stall timeout is trickleStall (1s: a piece every 333ms leaves a
// starved reader 667ms), not testStall: against 300ms, a
// piece every 100ms left 200ms for the proxy's body copy to come back to
// its next read (which moves the deadline), and a goroutine starved that
// long under -race beside other packages' tests on 2 cores got the
// request cut (net/http+tls/1024: "piece 6: ... connection reset by
// peer", 1 run of 5 of the upload tests with ./proxy/... beside them).
func TestTricklingUploadIsNotCut(t *testing.T) {
	const trickleStall = time.Second
	for _, sc := range stallCases {
		for _, piece := range []int{1 << 10, 8 << 10} { // 10 KiB copied; 80 KiB spliced on a plain lean front
			t.Run(fmt.Sprintf("%s/%d", sc, piece), func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, proxyConfig())
				addr, got := uploadBackend(t)
				e.deploy(topo("t", svc("s", "http://"+addr)))
				dial := stallFront(t, e, sc, trickleStall)
				c := dial(0)
				const pieces = 10
				size := pieces * piece
				fmt.Fprintf(c, "POST /gateway/t/s/up HTTP/1.1\r\nHost: gw\r\nContent-Length: %d\r\n\r\n", size)
				tick := time.NewTicker(trickleStall / 3)
				defer tick.Stop()
				for i := 0; i < pieces; i++ {
					<-tick.C
					if _, err := c.Write(make([]byte, piece)); err != nil {
						t.Fatalf("piece %d: %v", i, err)
					}
				}
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					t.Fatalf("no answer: %v", err)
				}
				body, _ := io.ReadAll(resp.Body)
				if want := "got " + strconv.Itoa(size); resp.StatusCode != 200 || string(body) != want {
					t.Fatalf("answer %d %q, want 200 %q", resp.StatusCode, body, want)
				}
				if u := <-got; u.err != nil || u.n != int64(size) {
					t.Fatalf("the backend got %d bytes, %v", u.n, u.err)
				}
			})
		}
	}
}

// downloadBackend answers every request with a body of size bytes
// (Content-Length, or chunked when chunked) and reports when its writing
// ended: nil once it wrote all, else the error (the gateway closed the
// connection).
func downloadBackend(t *testing.T, size int64, chunked bool) (string, <-chan error) {
	t.Helper()
	done := make(chan error, 4)
	addr := serveRaw(t, func(c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		w := io.Writer(c)
		if chunked {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
		} else {
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", size)
		}
		buf := make([]byte, 64<<10)
		var err error
		for left := size; left > 0 && err == nil; left -= int64(len(buf)) {
			p := buf[:min(left, int64(len(buf)))]
			if chunked {
				_, err = fmt.Fprintf(w, "%x\r\n%s\r\n", len(p), p)
			} else {
				_, err = w.Write(p)
			}
		}
		if err == nil && chunked {
			_, err = io.WriteString(c, "0\r\n\r\n")
		}
		done <- err
	})
	return addr, done
}

// A client that stops reading a large answer (a small receive buffer,
// nothing read) has its connection closed within about the stall timeout
// plus the time to fill the sockets' buffers: the backend connection is
// closed too, the access log says 499, no backend error is counted, no
// goroutine is left. Copied answers (chunked, or TLS) and spliced ones
// (plain lean front, Content-Length).
func TestStalledDownloadIsCut(t *testing.T) {
	for _, sc := range stallCases {
		for _, chunked := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/chunked=%v", sc, chunked), func(t *testing.T) {
				e := newEnv(t, proxyConfig())
				addr, done := downloadBackend(t, 1<<30, chunked)
				e.deploy(topo("t", svc("s", "http://"+addr)))
				dial := stallFront(t, e, sc, testStall)
				check := goroutineBaseline(t)
				c := dial(4 << 10)
				start := time.Now()
				io.WriteString(c, "GET /gateway/t/s/big HTTP/1.1\r\nHost: gw\r\n\r\n")
				select {
				case err := <-done:
					if err == nil {
						t.Fatal("the backend wrote 1 GiB to a client that reads nothing")
					}
				case <-time.After(testStall + 10*time.Second):
					t.Fatal("the gateway still holds the backend connection for a client that reads nothing")
				}
				// The gateway closed the client connection (the client may
				// not learn it at once: what the closed socket still held is
				// the kernel's to send into a window the client keeps shut).
				eventually(t, 5*time.Second, "the client connection closed", func() bool {
					return metricValue(t, e, "gateway_frontend_open_connections", "listener", "stall") == 0
				})
				t.Logf("cut after %v", time.Since(start))
				c.Close()
				check()
				if n := metricValue(t, e, "gateway_backend_errors_total", "service", "s", "kind", "aborted"); n != 0 {
					t.Errorf("%v backend aborts counted for the client's stall", n)
				}
				eventually(t, 5*time.Second, "the access line", func() bool {
					for _, l := range accessLines(t, e.logs.String()) {
						if l.Status == 499 {
							return true
						}
					}
					return false
				})
			})
		}
	}
}

// A client that reads a large answer slowly but steadily (64 KiB per
// tick, a receive buffer of 64 KiB) gets all of it, for longer than two
// stall timeouts. The lean front counts what the client acknowledged as
// progress, however slowly it comes (here 2.6 MB/s against a stall of
// 300ms); net/http's front counts its writes that returned, which the
// kernel lets return only once a third of the send buffer is free
// (nginx's send_timeout is the same): a reader of a send buffer's third
// per stall timeout at least (here 6.4 MB/s against 2s).
func TestSlowReaderIsNotCut(t *testing.T) {
	for _, tc := range []struct {
		sc    stallCase
		stall time.Duration
		tick  time.Duration
		size  int64
	}{
		{stallCase{frontend.KindLean, false}, testStall, 25 * time.Millisecond, 6 << 20},
		{stallCase{frontend.KindLean, true}, testStall, 25 * time.Millisecond, 6 << 20},
		// 2s: a reader starved of CPU on a loaded machine (the race
		// detector, other packages' tests) must not look stalled.
		{stallCase{frontend.KindNetHTTP, false}, 2 * time.Second, 10 * time.Millisecond, 32 << 20},
		{stallCase{frontend.KindNetHTTP, true}, 2 * time.Second, 10 * time.Millisecond, 32 << 20},
	} {
		for _, chunked := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/chunked=%v", tc.sc, chunked), func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, proxyConfig())
				addr, done := downloadBackend(t, tc.size, chunked)
				e.deploy(topo("t", svc("s", "http://"+addr)))
				dial := stallFront(t, e, tc.sc, tc.stall)
				c := dial(64 << 10)
				start := time.Now()
				io.WriteString(c, "GET /gateway/t/s/big HTTP/1.1\r\nHost: gw\r\n\r\n")
				_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("answer: %v %v", resp, err)
				}
				tick := time.NewTicker(tc.tick)
				defer tick.Stop()
				var total int64
				for {
					<-tick.C
					n, err := io.CopyN(io.Discard, resp.Body, 64<<10)
					total += n
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatalf("cut after %d bytes, %v: %v", total, time.Since(start), err)
					}
				}
				if total != tc.size {
					t.Fatalf("got %d bytes, want %d", total, tc.size)
				}
				if d := time.Since(start); d < 2*tc.stall {
					t.Fatalf("the read took %v: not longer than 2 stalls, the test proves nothing", d)
				}
				if err := <-done; err != nil {
					t.Fatalf("backend: %v", err)
				}
			})
		}
	}
}

// A client waiting for a slow answer (the backend takes three stall
// timeouts) sends nothing, rightly: it is not cut, with or without a
// request body (read whole before the wait).
func TestSlowAnswerIsNotStalled(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		time.Sleep(3 * testStall) // the backend's own slowness, not a wait in the test
		fmt.Fprintf(w, "slow %d", n)
	})
	for _, sc := range stallCases {
		t.Run(sc.String(), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, proxyConfig())
			e.deploy(topo("t", svc("s", b.URL)))
			dial := stallFront(t, e, sc, testStall)
			c := dial(0)
			br := bufio.NewReader(c)
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			for _, raw := range []string{
				"GET /gateway/t/s/x HTTP/1.1\r\nHost: gw\r\n\r\n",
				"POST /gateway/t/s/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\n\r\nhello",
			} {
				io.WriteString(c, raw)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("%q: %v", raw, err)
				}
				body, _ := io.ReadAll(resp.Body)
				want := "slow 0"
				if strings.HasPrefix(raw, "POST") {
					want = "slow 5"
				}
				if resp.StatusCode != 200 || string(body) != want {
					t.Fatalf("%q: %d %q, want 200 %q", raw, resp.StatusCode, body, want)
				}
			}
		})
	}
}

// stall_timeout 0 disables the bound: a stalled client stays until it
// hangs up (here: still connected, its body still awaited, well after the
// stall would have ended it).
func TestStallTimeoutZeroDisables(t *testing.T) {
	for _, sc := range stallCases {
		t.Run(sc.String(), func(t *testing.T) {
			e := newEnv(t, proxyConfig())
			addr, got := uploadBackend(t)
			e.deploy(topo("t", svc("s", "http://"+addr)))
			dial := stallFront(t, e, sc, 0)
			c := dial(0)
			io.WriteString(c, "POST /gateway/t/s/up HTTP/1.1\r\nHost: gw\r\nContent-Length: 10000\r\n\r\n")
			c.Write(make([]byte, 1000))
			_ = c.SetReadDeadline(time.Now().Add(3 * testStall)) // a bounded wait: nothing is to come
			if _, err := c.Read(make([]byte, 1)); !isTimeoutErr(err) {
				t.Fatalf("the stalled client was cut without a stall timeout: %v", err)
			}
			select {
			case u := <-got:
				t.Fatalf("the backend's body ended (%d bytes, %v) while the client is still there", u.n, u.err)
			default:
			}
		})
	}
}

// Over HTTP/2 (a TLS front, either kind: net/http's server serves it), a
// request body the client leaves silent ends its stream within about the
// stall timeout with 408, and the backend sees the body cut.
func TestStalledUploadHTTP2(t *testing.T) {
	for _, kind := range []string{frontend.KindLean, frontend.KindNetHTTP} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, proxyConfig())
			addr, got := uploadBackend(t)
			e.deploy(topo("t", svc("s", "http://"+addr)))
			ca := testpki.NewCA(t, "front CA")
			leaf := ca.Server(t, "127.0.0.1")
			cfg, err := frontend.TLSConfig(func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &leaf.TLS, nil }, "off", nil)
			if err != nil {
				t.Fatal(err)
			}
			f, err := frontend.NewFront(e.p, frontend.ServerOptions{StallTimeout: testStall, TLSConfig: cfg}, kind)
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go func() { _ = f.Serve(ln) }()
			t.Cleanup(func() { _ = f.Close() })
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: true}
			t.Cleanup(tr.CloseIdleConnections)
			pr, pw := io.Pipe()
			t.Cleanup(func() { pw.Close() })
			go pw.Write(make([]byte, 1000)) // then nothing
			req, _ := http.NewRequest("POST", "https://"+ln.Addr().String()+"/gateway/t/s/up", pr)
			req.ContentLength = 10000
			start := time.Now()
			resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusRequestTimeout {
				t.Fatalf("%s %d, want HTTP/2 408", resp.Proto, resp.StatusCode)
			}
			if d := time.Since(start); d < testStall || d > testStall+2*time.Second {
				t.Fatalf("the stalled stream ended after %v, want about %v", d, testStall)
			}
			select {
			case u := <-got:
				if u.err == nil {
					t.Fatalf("the backend got a whole body of %d bytes", u.n)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the backend connection still waits for the body")
			}
		})
	}
}
