package proxy_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/securegw/gateway/internal/testlog"
	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy"
	"github.com/securegw/gateway/proxy/frontend"
	"github.com/securegw/gateway/proxy/wsrelay"
)

// secrets is a SecretResolver over a map.
type secrets map[string]string

// truststores serves named PEM truststores.
type truststores map[string][]byte

func (ts truststores) TruststorePEM(_ context.Context, name string) ([]byte, error) {
	pem, ok := ts[name]
	if !ok {
		return nil, fmt.Errorf("truststore %q: not found", name)
	}
	return pem, nil
}

func (s secrets) Resolve(_ context.Context, topo, alias string) ([]byte, error) {
	if v, ok := s[topo+"/"+alias]; ok {
		return []byte(v), nil
	}
	return nil, fmt.Errorf("no alias %q", alias)
}

type env struct {
	t    *testing.T
	p    *proxy.Proxy
	fe   *testFront
	logs *testlog.Buffer
	reg  *prometheus.Registry
	// secrets is the resolver's map when a test changes it between deploys.
	secrets secrets
}

// newEnv starts a proxy behind a real loopback listener.
func newEnv(t *testing.T, cfg proxy.Config) *env {
	t.Helper()
	e := &env{t: t, logs: &testlog.Buffer{}, reg: prometheus.NewRegistry()}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(e.logs, nil))
	}
	if cfg.Registerer == nil {
		cfg.Registerer = e.reg
	}
	p, err := proxy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.p = p
	e.fe = newTestFront(t, p, "")
	t.Cleanup(func() {
		e.fe.Close()
		_ = p.Close()
	})
	return e
}

func (e *env) deploy(t *topology.Topology) *proxy.Compiled {
	e.t.Helper()
	c, err := e.p.Compile(context.Background(), t)
	if err != nil {
		e.t.Fatalf("compile %s: %v", t.Name, err)
	}
	e.p.Apply(c)
	return c
}

func (e *env) get(path string, hdr ...string) (*http.Response, string) {
	e.t.Helper()
	return e.do(http.MethodGet, path, nil, hdr...)
}

func (e *env) do(method, path string, body io.Reader, hdr ...string) (*http.Response, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.fe.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := e.fe.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// testFront serves a handler on a loopback port through the gateway's
// front server: the kind given, else $GATEWAY_TEST_FRONT, else the
// product's default.
type testFront struct {
	URL      string
	Listener net.Listener
	front    *frontend.Front
	client   *http.Client
	once     sync.Once
}

func newTestFront(t *testing.T, h http.Handler, kind string) *testFront {
	t.Helper()
	if kind == "" {
		kind = os.Getenv("GATEWAY_TEST_FRONT")
	}
	f, err := frontend.NewFront(h, frontend.ServerOptions{}, kind)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tf := &testFront{URL: "http://" + ln.Addr().String(), Listener: ln, front: f,
		client: &http.Client{Transport: &http.Transport{}}}
	go func() { _ = f.Serve(ln) }()
	t.Cleanup(tf.Close)
	return tf
}

// Client is a client of its own (as httptest.Server's).
func (f *testFront) Client() *http.Client { return f.client }

// Close closes the listener and every connection.
func (f *testFront) Close() {
	f.once.Do(func() {
		_ = f.front.Close()
		f.client.CloseIdleConnections()
	})
}

// CloseClientConnections closes the client connections (and the front).
func (f *testFront) CloseClientConnections() { f.Close() }

// openProviders makes a topology public on purpose.
var openProviders = []topology.Provider{
	{Role: "authentication", Name: "anonymous"},
	{Role: "identity-assertion", Name: "default"},
}

func topo(name string, svcs ...topology.Service) *topology.Topology {
	return &topology.Topology{Name: name, Providers: openProviders, Services: svcs}
}

func svc(path string, urls ...string) topology.Service {
	return topology.Service{Path: path, URLs: urls}
}

// backend is a real loopback server recording what it received.
type backend struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
}

func newBackend(t *testing.T, h http.HandlerFunc) *backend {
	t.Helper()
	b := &backend{}
	if h == nil {
		h = func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }
	}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.reqs = append(b.reqs, r.Clone(context.Background()))
		b.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *backend) last() *http.Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.reqs) == 0 {
		return nil
	}
	return b.reqs[len(b.reqs)-1]
}

func (b *backend) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.reqs)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
		time.Sleep(5 * time.Millisecond) // poll interval, not a wait for an event
	}
}

// goroutineBaseline returns a check that the goroutine count went back to
// what it is now (polled with a deadline). The process's WebSocket poller,
// started once by the first proxy and kept for the process, is counted in
// the baseline (a test run alone would otherwise see it as its leak).
func goroutineBaseline(t *testing.T) func() {
	t.Helper()
	wsrelay.NewHub(wsrelay.HubOptions{}) // starts the shared poller, if not yet
	base := runtime.NumGoroutine()
	return func() {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= base {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Fatalf("goroutines: %d before, %d after:\n%s", base, n, buf)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func proxyConfig() proxy.Config { return proxy.Config{} }

// trustingConfig is proxyConfig whose loopback clients, when trusted, are
// front proxies the gateway trusts (proxy.Config.TrustedProxies): their
// X-Forwarded-* fields are kept.
func trustingConfig(trusted bool) proxy.Config {
	cfg := proxyConfig()
	if trusted {
		cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	}
	return cfg
}

// frontTo is an environment on the front server of kind whose topology t
// has one service, s, at backend.
func frontTo(t *testing.T, kind, backend string) *env {
	e := newEnv(t, proxyConfig())
	e.fe = newTestFront(t, e.p, kind)
	e.deploy(topo("t", svc("s", backend)))
	return e
}

// readOK reads an answer from br that must be 200 with the body "ok", and
// returns it, its body (and so its trailers) read.
func readOK(t *testing.T, br *bufio.Reader) *http.Response {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || string(body) != "ok" {
		t.Fatalf("answer %d %q %v", resp.StatusCode, body, err)
	}
	return resp
}

// dialWrite dials addr, gives the connection a 10-second deadline, writes raw
// on it and returns it with a reader of its answers; the connection is closed
// when the test ends.
func dialWrite(t *testing.T, addr, raw string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	return c, bufio.NewReader(c)
}

// rawRoundTrip writes raw bytes on a new connection and reads one response
// (nil when the server closed the connection without answering).
func rawRoundTrip(t *testing.T, addr, raw string) (*http.Response, string) {
	t.Helper()
	c, br := dialWrite(t, addr, raw)
	defer c.Close()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func rawGet(t *testing.T, addr, target string, hdr ...string) (*http.Response, string) {
	t.Helper()
	var sb strings.Builder
	sb.WriteString("GET " + target + " HTTP/1.1\r\nHost: gw.example\r\nConnection: close\r\n")
	for i := 0; i+1 < len(hdr); i += 2 {
		sb.WriteString(hdr[i] + ": " + hdr[i+1] + "\r\n")
	}
	sb.WriteString("\r\n")
	return rawRoundTrip(t, addr, sb.String())
}

func (e *env) addr() string { return e.fe.Listener.Addr().String() }

// goroutinesIn counts the goroutines whose stack mentions fn.
func goroutinesIn(fn string) int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, fn) {
			n++
		}
	}
	return n
}

// metricValue reads the sample of name whose labels include the given
// name/value pairs (a histogram's sample count).
func metricValue(t *testing.T, e *env, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					found = found || lp.GetName() == labels[i] && lp.GetValue() == labels[i+1]
				}
				if !found {
					continue metric
				}
			}
			switch {
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	t.Fatalf("no %s%v", name, labels)
	return 0
}
