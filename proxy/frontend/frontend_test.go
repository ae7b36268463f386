package frontend_test

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/securegw/gateway/internal/testpki"
	"github.com/securegw/gateway/proxy/frontend"
)

// serve starts srv on a loopback port and returns its address.
func serve(t *testing.T, srv *http.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		var err error
		if srv.TLSConfig != nil {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	}()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })

func TestDefaults(t *testing.T) {
	s := frontend.NewServer(ok, frontend.ServerOptions{})
	if s.MaxHeaderBytes != 64<<10 || s.ReadHeaderTimeout != 10*time.Second || s.IdleTimeout != 120*time.Second ||
		s.WriteTimeout != 0 || s.ReadTimeout != 0 {
		t.Fatalf("%+v", s)
	}
}

// waitClosed reads from c until the server closes it; it fails if our own
// (generous) deadline fires first.
func waitClosed(t *testing.T, c net.Conn, within time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(within))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("server did not close the connection within %v", within)
	}
}

// A client trickling its headers is cut off by ReadHeaderTimeout.
func TestSlowloris(t *testing.T) {
	forKinds(t, func(t *testing.T, kind string) {
		_, addr := serveFront(t, kind, ok, frontend.ServerOptions{ReadHeaderTimeout: 200 * time.Millisecond})
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
		waitClosed(t, c, 10*time.Second)
		t.Logf("cut off after %v", time.Since(start).Round(time.Millisecond))
	})
}

// An idle keep-alive connection is closed after IdleTimeout.
func TestIdleTimeout(t *testing.T) {
	forKinds(t, testIdleTimeout)
}

func testIdleTimeout(t *testing.T, kind string) {
	_, addr := serveFront(t, kind, ok, frontend.ServerOptions{IdleTimeout: 200 * time.Millisecond})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 || resp.Close {
		t.Fatalf("%v %v", resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := br.ReadByte(); err == nil || os.IsTimeout(err) {
		t.Fatalf("idle connection not closed: %v", err)
	}
}

func TestHugeHeader(t *testing.T) {
	forKinds(t, testHugeHeader)
}

func testHugeHeader(t *testing.T, kind string) {
	_, addr := serveFront(t, kind, ok, frontend.ServerOptions{})
	tests := []struct {
		name   string
		size   int
		status int
	}{
		{"fits", 32 << 10, 200},
		{"too large", 200 << 10, 431},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			go io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", tc.size)+"\r\n\r\n")
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != tc.status {
				t.Fatalf("%v %v, want %d", resp, err, tc.status)
			}
			if tc.status == 431 {
				// The server closes its side and takes the rest of the
				// head: a close with it unread would reset the connection,
				// which can destroy the answer before the client read it.
				if _, err := io.Copy(io.Discard, br); err != nil {
					t.Fatalf("after the 431: %v, want the server's end (EOF)", err)
				}
			}
		})
	}
}

func TestTLSConfig(t *testing.T) {
	serverCA := testpki.NewCA(t, "server CA")
	clientCA := testpki.NewCA(t, "client CA")
	otherCA := testpki.NewCA(t, "other CA")
	leaf := serverCA.Server(t, "127.0.0.1")
	getCert := func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &leaf.TLS, nil }
	good := clientCA.Client(t, "alice")
	stranger := otherCA.Client(t, "mallory")
	tests := []struct {
		mode     string
		cert     *testpki.Leaf
		maxVer   uint16
		ok       bool
		clientCN string
	}{
		{"off", nil, 0, true, ""},
		{"off", good, 0, true, ""}, // not asked for, not verified
		{"optional", nil, 0, true, ""},
		{"optional", good, 0, true, "alice"},
		{"optional", stranger, 0, false, ""},
		{"required", nil, 0, false, ""},
		{"required", stranger, 0, false, ""},
		{"required", good, 0, true, "alice"},
		{"off", nil, tls.VersionTLS11, false, ""},
	}
	for _, tc := range tests {
		name := tc.mode
		if tc.cert != nil {
			name += "/" + tc.cert.TLS.Leaf.Subject.CommonName
		}
		t.Run(name, func(t *testing.T) {
			cfg, err := frontend.TLSConfig(getCert, tc.mode, clientCA.Pool())
			if err != nil {
				t.Fatal(err)
			}
			var cn atomic.Value
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if len(r.TLS.PeerCertificates) > 0 {
					cn.Store(r.TLS.PeerCertificates[0].Subject.CommonName)
				}
			})
			for _, kind := range kinds {
				testTLSClient(t, kind, h, cfg, serverCA, tc.cert, tc.maxVer, tc.ok, tc.clientCN, &cn)
			}
		})
	}
	for _, bad := range []struct {
		mode string
		pool bool
	}{{"sometimes", true}, {"required", false}, {"optional", false}} {
		var pool = clientCA.Pool()
		if !bad.pool {
			pool = nil
		}
		if _, err := frontend.TLSConfig(getCert, bad.mode, pool); err == nil {
			t.Errorf("TLSConfig(%q, pool=%v) accepted", bad.mode, bad.pool)
		}
	}
	if _, err := frontend.TLSConfig(nil, "off", nil); err == nil {
		t.Error("TLSConfig without a certificate accepted")
	}
}

// testTLSClient makes one request to a TLS front of kind and checks that it
// passes (with the client certificate's name seen) or is refused.
func testTLSClient(t *testing.T, kind string, h http.Handler, cfg *tls.Config, serverCA *testpki.CA, cert *testpki.Leaf,
	maxVer uint16, wantOK bool, wantCN string, cn *atomic.Value) {
	t.Helper()
	cn.Store("")
	// Refused handshakes are expected: their log goes nowhere.
	_, addr := serveFront(t, kind, h, frontend.ServerOptions{TLSConfig: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ccfg := &tls.Config{RootCAs: serverCA.Pool(), MaxVersion: maxVer, MinVersion: tls.VersionTLS10}
	if cert != nil {
		// Sent whatever CAs the server names (Go's client would
		// otherwise withhold a certificate the server cannot verify).
		c := cert.TLS
		ccfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c, nil }
	}
	tr := &http.Transport{TLSClientConfig: ccfg}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("https://" + addr + "/")
	if err == nil {
		resp.Body.Close()
	}
	if (err == nil) != wantOK {
		t.Fatalf("%s: request error %v, want ok=%v", kind, err, wantOK)
	}
	if got, _ := cn.Load().(string); wantOK && got != wantCN {
		t.Fatalf("%s: client %q, want %q", kind, got, wantCN)
	}
}

func TestHealth(t *testing.T) {
	var ready atomic.Bool
	addr := serve(t, frontend.NewServer(frontend.Health(ready.Load), frontend.ServerOptions{}))
	get := func(p string) int {
		resp, err := http.Get("http://" + addr + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	steps := []struct {
		ready           bool
		healthz, ready2 int
	}{{false, 200, 503}, {true, 200, 200}}
	for _, s := range steps {
		ready.Store(s.ready)
		if h, r := get("/healthz"), get("/readyz"); h != s.healthz || r != s.ready2 {
			t.Fatalf("ready=%v: healthz %d readyz %d", s.ready, h, r)
		}
	}
	if get("/other") != 404 {
		t.Fatal("unknown path served")
	}
}

func TestMetricsAndConnections(t *testing.T) {
	forKinds(t, testMetricsAndConnections)
}

func testMetricsAndConnections(t *testing.T, kind string) {
	reg := prometheus.NewRegistry()
	_, addr := serveFront(t, kind, ok, frontend.ServerOptions{Registerer: reg, Name: "public"})
	maddr := serve(t, frontend.NewServer(frontend.Metrics(reg), frontend.ServerOptions{}))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil || resp.StatusCode != 200 {
		t.Fatal(resp, err)
	}
	scrape := func() string {
		resp, err := http.Get("http://" + maddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if m := scrape(); !strings.Contains(m, `gateway_frontend_open_connections{listener="public"} 1`) {
		t.Fatalf("metrics:\n%s", m)
	}
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(scrape(), `gateway_frontend_open_connections{listener="public"} 0`) {
		if time.Now().After(deadline) {
			t.Fatal("closed connection still counted")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A client that sends its headers but trickles its body is cut off by
// ReadTimeout when one is set.
func TestReadTimeout(t *testing.T) {
	forKinds(t, testReadTimeout)
}

func testReadTimeout(t *testing.T, kind string) {
	readErr := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		readErr <- err
	})
	_, addr := serveFront(t, kind, h, frontend.ServerOptions{ReadTimeout: 200 * time.Millisecond})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly a part")
	select {
	case err := <-readErr:
		if err == nil {
			t.Fatal("the handler read a body that never came")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("body read not cut off")
	}
	waitClosed(t, c, 10*time.Second)
}
