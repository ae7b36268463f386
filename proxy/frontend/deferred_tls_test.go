package frontend_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/securegw/gateway/internal/testpki"
	"github.com/securegw/gateway/proxy/frontend"
)

// The lean TLS front's deferred answers (sent from inside crypto/tls's
// read of the TCP connection, or after it when crypto/tls held the next
// request) against TLS 1.2 and 1.3 clients that pipeline, split their
// requests, close, upgrade, share the listener with HTTP/2, or take no
// answer.

// serverTLS returns a front's TLS configuration (TLSConfig) with a
// certificate for 127.0.0.1, and the CA that signed it.
func serverTLS(t *testing.T) (*tls.Config, *testpki.CA) {
	t.Helper()
	ca := testpki.NewCA(t, "server CA")
	leaf := ca.Server(t, "127.0.0.1")
	cfg, err := frontend.TLSConfig(func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &leaf.TLS, nil }, "off", nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, ca
}

// tlsLean starts a lean TLS front serving h with o.
func tlsLean(t *testing.T, h http.Handler, o frontend.ServerOptions) (f *frontend.Front, addr string, ca *testpki.CA) {
	t.Helper()
	o.TLSConfig, ca = serverTLS(t)
	f, addr = serveFront(t, frontend.KindLean, h, o)
	return f, addr, ca
}

// tlsDial connects to addr with TLS up to max (HTTP/1.1), with a deadline
// of 20s; the connection closes at cleanup.
func tlsDial(t *testing.T, addr string, ca *testpki.CA, max uint16) (*tls.Conn, *bufio.Reader) {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), NextProtos: []string{"http/1.1"}, MaxVersion: max})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c, bufio.NewReader(c)
}

var tlsVersions = []struct {
	name string
	max  uint16
}{{"TLS1.2", tls.VersionTLS12}, {"TLS1.3", tls.VersionTLS13}}

// pathEcho answers the request's path.
var pathEcho = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.URL.Path) })

func get(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n" }

// readAnswer reads an answer of status 200 with body want.
func readAnswer(br *bufio.Reader, want string) error {
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return fmt.Errorf("answer for %s: %w", want, err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 || string(b) != want {
		return fmt.Errorf("answer %d %q (%v), want %q", resp.StatusCode, b, err, want)
	}
	return nil
}

// warm sends a few requests and reads their answers: the connection is
// busy, its answers are deferred.
func warm(t *testing.T, c net.Conn, br *bufio.Reader) {
	t.Helper()
	for i := 0; i < 3; i++ {
		io.WriteString(c, get("/warm"))
		if err := readAnswer(br, "/warm"); err != nil {
			t.Fatal(err)
		}
	}
}

// busyTLSClients runs n keep-alive clients against addr (TLS 1.2 and 1.3
// by turns) until stop, each writing one to three requests at a time
// (pipelined), a quarter of them split in two writes a few milliseconds
// apart, and reading their answers. It returns a wrong answer; a client
// the server closes (lost: its connection ended before an answer) stops.
func busyTLSClients(addr string, ca *testpki.CA, n int, stop func() bool, answered *atomic.Int64) error {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			max := tlsVersions[i%2].max
			c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), NextProtos: []string{"http/1.1"}, MaxVersion: max})
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			br := bufio.NewReader(c)
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			for r := 0; !stop(); r++ {
				var paths []string
				var sb strings.Builder
				for j := range 1 + rng.IntN(3) {
					p := fmt.Sprintf("/c%d/r%d/%d", i, r, j)
					paths = append(paths, p)
					sb.WriteString(get(p))
				}
				s := sb.String()
				if rng.IntN(4) == 0 {
					cut := rng.IntN(len(s))
					io.WriteString(c, s[:cut])
					time.Sleep(time.Duration(rng.IntN(15)) * time.Millisecond) // the server reads each part alone
					s = s[cut:]
				}
				if _, err := io.WriteString(c, s); err != nil {
					return
				}
				for _, p := range paths {
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						return
					}
					b, err := io.ReadAll(resp.Body)
					if err != nil || string(b) != p {
						errs <- fmt.Errorf("answer %q (%v), want %q", b, err, p)
						return
					}
					answered.Add(1)
					if resp.Close {
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return errors.Join(func() (all []error) {
		for err := range errs {
			all = append(all, err)
		}
		return all
	}()...)
}

// Many busy TLS keep-alive clients: every answer is its request's, in
// order, none lost.
func TestTLSBusyClientsGetTheirAnswers(t *testing.T) {
	_, addr, ca := tlsLean(t, pathEcho, frontend.ServerOptions{})
	end := time.Now().Add(time.Second)
	var answered atomic.Int64
	if err := busyTLSClients(addr, ca, 16, func() bool { return time.Now().After(end) }, &answered); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d answers", answered.Load())
}

// Shutdown while many TLS clients are busy returns soon (a connection is
// idle once its answer went out), and every answer a client got is its
// request's.
func TestTLSShutdownUnderLoad(t *testing.T) {
	f, addr, ca := tlsLean(t, pathEcho, frontend.ServerOptions{})
	var answered atomic.Int64
	done := make(chan error, 1)
	go func() { done <- busyTLSClients(addr, ca, 16, func() bool { return false }, &answered) }()
	for deadline := time.Now().Add(10 * time.Second); answered.Load() < 2000; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d answers in 10s", answered.Load())
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A client that ends its side right after a request (close_notify, in
// the request's write or after it, or a TCP half-close) gets the answer,
// then the end of the connection.
func TestTLSClientEndsAfterRequest(t *testing.T) {
	_, addr, ca := tlsLean(t, pathEcho, frontend.ServerOptions{})
	for _, v := range tlsVersions {
		for _, end := range []struct {
			name string
			do   func(c *tls.Conn) error
		}{
			{"close_notify", func(c *tls.Conn) error { return c.CloseWrite() }},
			{"close_notify after a pause", func(c *tls.Conn) error {
				time.Sleep(3 * frontend.DeferredWait) // the answer went out
				return c.CloseWrite()
			}},
			{"TCP half-close", func(c *tls.Conn) error { return c.NetConn().(*net.TCPConn).CloseWrite() }},
		} {
			t.Run(v.name+"/"+end.name, func(t *testing.T) {
				for round := 0; round < 5; round++ {
					c, br := tlsDial(t, addr, ca, v.max)
					warm(t, c, br)
					io.WriteString(c, get("/last"))
					if err := end.do(c); err != nil {
						t.Fatal(err)
					}
					if err := readAnswer(br, "/last"); err != nil {
						t.Fatalf("round %d: %v", round, err)
					}
					if b, err := br.ReadByte(); err != io.EOF {
						t.Fatalf("round %d: after the answer: %q %v, want EOF", round, b, err)
					}
				}
			})
		}
	}
}

// Shutdown on a TLS front: connections whose deferred answers went out are
// closed at once; a request in flight gets its answer, marked close.
func TestTLSShutdownIdleAndBusy(t *testing.T) {
	for _, v := range tlsVersions {
		t.Run(v.name, func(t *testing.T) {
			inFlight, release := make(chan struct{}), make(chan struct{})
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/slow" {
					close(inFlight)
					<-release
				}
				io.WriteString(w, r.URL.Path)
			})
			f, addr, ca := tlsLean(t, h, frontend.ServerOptions{})
			var idle []*bufio.Reader
			for i := 0; i < 4; i++ {
				c, br := tlsDial(t, addr, ca, v.max)
				warm(t, c, br)
				idle = append(idle, br)
			}
			busy, bbr := tlsDial(t, addr, ca, v.max)
			warm(t, busy, bbr)
			io.WriteString(busy, get("/slow"))
			<-inFlight
			shut := make(chan error, 1)
			go func() { shut <- f.Shutdown(context.Background()) }()
			for i, br := range idle {
				if b, err := br.ReadByte(); err != io.EOF {
					t.Fatalf("idle connection %d: %q %v, want EOF", i, b, err)
				}
			}
			close(release)
			resp, err := http.ReadResponse(bbr, nil)
			if err != nil || !resp.Close {
				t.Fatalf("in-flight answer: %v %v", resp, err)
			}
			if b, _ := io.ReadAll(resp.Body); string(b) != "/slow" {
				t.Fatalf("in-flight answer %q", b)
			}
			select {
			case err := <-shut:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Shutdown did not return")
			}
		})
	}
}

// An Upgrade (hijack) right after a deferred answer on a TLS connection,
// in its own write or in the same one: the answer comes first, then the
// 101, then the hijacker's echo.
func TestTLSHijackAfterDeferredAnswer(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") == "" {
			io.WriteString(w, r.URL.Path)
			return
		}
		c, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		defer c.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		rw.Flush()
		for {
			line, err := rw.ReadString('\n')
			if err != nil {
				return
			}
			rw.WriteString("echo: " + line)
			rw.Flush()
		}
	})
	_, addr, ca := tlsLean(t, h, frontend.ServerOptions{StallTimeout: 10 * time.Second})
	const up = "GET /up HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nhello\n"
	for _, v := range tlsVersions {
		for _, together := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/together=%v", v.name, together), func(t *testing.T) {
				c, br := tlsDial(t, addr, ca, v.max)
				warm(t, c, br)
				if together {
					io.WriteString(c, get("/a")+up)
				} else {
					io.WriteString(c, get("/a"))
				}
				if err := readAnswer(br, "/a"); err != nil {
					t.Fatal(err)
				}
				if !together {
					io.WriteString(c, up)
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
					t.Fatal(resp, err)
				}
				if line, err := br.ReadString('\n'); line != "echo: hello\n" {
					t.Fatalf("%q %v", line, err)
				}
				io.WriteString(c, "again\n")
				if line, err := br.ReadString('\n'); line != "echo: again\n" {
					t.Fatalf("%q %v", line, err)
				}
			})
		}
	}
}

// HTTP/2 and HTTP/1.1 clients on one TLS listener at once (the TCP
// connection under crypto/tls is the front's for both): every answer is
// its request's, over the protocol the client chose.
func TestTLSHTTP2AndHTTP1Together(t *testing.T) {
	_, addr, ca := tlsLean(t, pathEcho, frontend.ServerOptions{StallTimeout: 10 * time.Second})
	var wg sync.WaitGroup
	errs := make(chan error, 24)
	for i, proto := range []string{"HTTP/2.0", "HTTP/1.1", "HTTP/2.0", "HTTP/1.1"} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: proto == "HTTP/2.0", MaxConnsPerHost: 2}
		if proto == "HTTP/1.1" {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		defer tr.CloseIdleConnections()
		cl := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		for k := 0; k < 4; k++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; n < 40; n++ {
					p := fmt.Sprintf("/g%d/%d/%d", i, k, n)
					resp, err := cl.Get("https://" + addr + p)
					if err != nil {
						errs <- err
						return
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if string(b) != p || resp.Proto != proto {
						errs <- fmt.Errorf("%s: %q over %s, want %s", p, b, resp.Proto, proto)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Handlers that wait on their context (the client-gone watch reads the
// TLS connection) between requests whose answers are deferred: pipelined
// with the next request, followed by it within a millisecond, or after
// it.
func TestTLSWatchBetweenDeferredAnswers(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/w") {
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Millisecond):
			}
		}
		io.WriteString(w, r.URL.Path)
	})
	_, addr, ca := tlsLean(t, h, frontend.ServerOptions{})
	for _, v := range tlsVersions {
		t.Run(v.name, func(t *testing.T) {
			c, br := tlsDial(t, addr, ca, v.max)
			for n := 0; n < 60; n++ {
				watched, next := fmt.Sprintf("/w%d", n), fmt.Sprintf("/p%d", n)
				order := []string{watched, next}
				switch n % 3 {
				case 0:
					io.WriteString(c, get(watched)+get(next))
				case 1:
					io.WriteString(c, get(watched))
					time.Sleep(time.Millisecond) // while the handler waits
					io.WriteString(c, get(next))
				case 2:
					order = []string{next, watched}
					io.WriteString(c, get(next))
					if err := readAnswer(br, next); err != nil {
						t.Fatal(err)
					}
					io.WriteString(c, get(watched))
					order = order[1:]
				}
				for _, p := range order {
					if err := readAnswer(br, p); err != nil {
						t.Fatalf("round %d: %v", n, err)
					}
				}
			}
		})
	}
}

// A burst of pipelined requests over TLS (crypto/tls holds many of them
// decrypted): every answer, in order.
func TestTLSPipelinedBurst(t *testing.T) {
	_, addr, ca := tlsLean(t, pathEcho, frontend.ServerOptions{})
	for _, v := range tlsVersions {
		t.Run(v.name, func(t *testing.T) {
			c, br := tlsDial(t, addr, ca, v.max)
			const n = 2000
			go func() {
				var sb strings.Builder
				for i := 0; i < n; i++ {
					sb.WriteString(get(fmt.Sprintf("/b%d", i)))
					if sb.Len() > 5000 || i == n-1 {
						io.WriteString(c, sb.String())
						sb.Reset()
					}
				}
			}()
			for i := 0; i < n; i++ {
				if err := readAnswer(br, fmt.Sprintf("/b%d", i)); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// A TLS client that sends requests and takes no answer: the deferred
// answer's write stalls inside crypto/tls's read of the connection. With
// a stall bound the connection ends; without one, Close ends it.
func TestTLSClientTakesNoAnswer(t *testing.T) {
	big := strings.Repeat("x", 3000)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, big) })
	for _, stall := range []time.Duration{200 * time.Millisecond, 0} {
		t.Run(fmt.Sprint("stall=", stall), func(t *testing.T) {
			f, addr, ca := tlsLean(t, h, frontend.ServerOptions{StallTimeout: stall})
			c, _ := tlsDial(t, addr, ca, 0)
			c.NetConn().(*net.TCPConn).SetReadBuffer(4096)
			var lastWrite atomic.Int64
			lastWrite.Store(time.Now().UnixNano())
			ended := make(chan error, 1)
			go func() {
				var err error
				for err == nil {
					if _, err = io.WriteString(c, get("/x")); err == nil {
						lastWrite.Store(time.Now().UnixNano())
					}
				}
				ended <- err
			}()
			if stall == 0 {
				// The server's writes wait: it reads no more, and the
				// client's writes stop too.
				for deadline := time.Now().Add(10 * time.Second); time.Since(time.Unix(0, lastWrite.Load())) < 300*time.Millisecond; time.Sleep(10 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatal("the client's writes never stopped")
					}
				}
				f.Close()
			}
			select {
			case err := <-ended:
				t.Logf("the client's writes ended: %v", err)
			case <-time.After(10 * time.Second):
				t.Fatal("the connection did not end")
			}
		})
	}
}

// WriteTimeout on a TLS front: a keep-alive client's deferred answers go
// out under the deadline of their own request, whether the next request
// comes at once or after more than the timeout.
func TestTLSWriteTimeoutKeepAlive(t *testing.T) {
	const timeout = 200 * time.Millisecond
	_, addr, ca := tlsLean(t, pathEcho, frontend.ServerOptions{WriteTimeout: timeout})
	for _, v := range tlsVersions {
		t.Run(v.name, func(t *testing.T) {
			c, br := tlsDial(t, addr, ca, v.max)
			for n := 0; n < 4; n++ {
				p := fmt.Sprintf("/t%d", n)
				io.WriteString(c, get(p))
				if err := readAnswer(br, p); err != nil {
					t.Fatal(err)
				}
				if n%2 == 1 {
					time.Sleep(2 * timeout) // a client quiet for longer than the timeout
				}
			}
		})
	}
}
