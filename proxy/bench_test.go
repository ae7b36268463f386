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
	"runtime"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy"
)

// discardWriter is a minimal http.ResponseWriter.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(c int)           { w.code = c }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) Flush()                      {}

var body19 = []byte("hello from backend\n") // 19 bytes, as in BENCHMARKS.md

func benchBackend(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body19)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// rawBenchBackend answers every request on its keep-alive connections
// with the 19-byte body, allocating nothing per request: the handler
// benchmarks' allocations are the gateway's (and the harness's) alone.
func rawBenchBackend(b testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	answer := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 19\r\n\r\n" + string(body19))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					for {
						line, err := br.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) <= 2 {
							break
						}
					}
					if _, err := c.Write(answer); err != nil {
						return
					}
				}
			}()
		}
	}()
	b.Cleanup(func() { ln.Close(); wg.Wait() })
	return "http://" + ln.Addr().String()
}

// fullChain is the chain of BenchmarkProxy/handler-full-chain: security
// headers, authentication, identity assertion with a mapping, a header and
// a query parameter to the backend, and an ACL on the service.
var fullChain = []topology.Provider{
	{Role: "webappsec", Name: "webappsec", Params: map[string]string{"xframe.options.enabled": "true",
		"xcontent-type.options.enabled": "true", "strict.transport.enabled": "true"}},
	{Role: "authentication", Name: "anonymous"},
	{Role: "identity-assertion", Name: "default", Params: map[string]string{"header": "X-Forwarded-User",
		"query_param": "doAs", "group.principal.mapping": "anonymous=users,etl"}},
	{Role: "authorization", Name: "acls", Params: map[string]string{"webhdfs.acl": "anonymous,hdfs;users;127.0.0.0/8,::1"}},
}

func benchProxy(b testing.TB, backendURL string, providers ...topology.Provider) *proxy.Proxy {
	p, err := proxy.New(proxy.Config{
		Logger:     slog.New(slog.NewJSONHandler(io.Discard, nil)), // the access log is formatted, then dropped
		Registerer: prometheus.NewRegistry(),
	})
	if err != nil {
		b.Fatal(err)
	}
	t := topo("sandbox", svc("webhdfs", backendURL+"/webhdfs"))
	if providers != nil {
		t.Providers = providers
	}
	c, err := p.Compile(context.Background(), t)
	if err != nil {
		b.Fatal(err)
	}
	p.Apply(c)
	b.Cleanup(func() { p.Close() })
	return p
}

// BenchmarkProxy: a request through router, anonymous authentication and
// default identity assertion to a backend over loopback.
//
//	handler:  ServeHTTP called in process (the gateway's own cost + the backend hop)
//	handler-full-chain: the same with fullChain (webappsec, assertion, acls)
//	handler-raw-backend: handler with a backend that allocates nothing (raw
//	          TCP): allocs/op are the gateway's own, plus the harness's 6
//	          (a request, URL and header per iteration)
//	loopback: a real client over loopback, through the gateway's listener
//	direct:   the same client straight to the backend (the physical limit)
func BenchmarkProxy(b *testing.B) {
	backend := benchBackend(b)
	p := benchProxy(b, backend.URL)
	handler := func(p *proxy.Proxy) func(b *testing.B) {
		return func(b *testing.B) {
			tmpl := httptest.NewRequest("GET", "http://gw.example/gateway/sandbox/webhdfs/v1/tmp/file?op=OPEN", nil)
			tmpl.RemoteAddr = "127.0.0.1:40000"
			w := &discardWriter{}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				r := *tmpl
				u := *tmpl.URL
				r.URL, r.Header = &u, http.Header{"User-Agent": {"bench"}}
				w.h, w.code = http.Header{}, 0
				p.ServeHTTP(w, &r)
				if w.code != 200 {
					b.Fatalf("status %d", w.code)
				}
			}
		}
	}
	b.Run("handler", handler(p))
	b.Run("handler-full-chain", handler(benchProxy(b, backend.URL, fullChain...)))
	b.Run("handler-raw-backend", handler(benchProxy(b, rawBenchBackend(b))))
	fe := httptest.NewServer(p)
	b.Cleanup(fe.Close)
	for _, tc := range []struct{ name, url string }{
		{"loopback", fe.URL + "/gateway/sandbox/webhdfs/v1/tmp/file?op=OPEN"},
		{"direct", backend.URL + "/webhdfs/v1/tmp/file?op=OPEN"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			client := fe.Client()
			buf := make([]byte, 64)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				resp, err := client.Get(tc.url)
				if err != nil {
					b.Fatal(err)
				}
				io.ReadFull(resp.Body, buf[:len(body19)])
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}

// BenchmarkTableMemory reports the live heap per deployed topology of five
// services (the routing table's memory at scale), measured over 2,000
// topologies applied to one proxy.
func BenchmarkTableMemory(b *testing.B) {
	const n = 2000
	for b.Loop() {
		p, err := proxy.New(proxy.Config{})
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := 0; i < n; i++ {
			t := &topology.Topology{Name: fmt.Sprintf("t%d", i), Providers: []topology.Provider{
				{Role: "authentication", Name: "anonymous"}, {Role: "identity-assertion", Name: "default"}}}
			for j := 0; j < 5; j++ {
				t.Services = append(t.Services, topology.Service{Path: fmt.Sprintf("svc%d", j), URLs: []string{fmt.Sprintf("http://127.0.0.1:%d/x", 10000+j)}})
			}
			c, err := p.Compile(context.Background(), t)
			if err != nil {
				b.Fatal(err)
			}
			p.Apply(c)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n/1024, "KiB/topology")
		p.Close()
	}
}

// A proxied GET costs the gateway little memory, with its access log on
// and off: the backend message (request, URL, answer) and the access
// line's fields are reused from request to request, so what is left is
// what a request's context may hold on to. Requests are built before the
// count (the harness's own), the backend allocates nothing.
func TestProxiedGETBytes(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector drops pooled values at random: allocation figures are measured without it")
	}
	const n = 2000
	for _, tc := range []struct {
		name   string
		level  slog.Level
		budget uint64 // bytes per request: 3,250 either way before the reuse, 2,170 before the principal was carried in place
	}{
		{"access log off", slog.LevelWarn, 1950},
		{"access log on", slog.LevelInfo, 2000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := proxy.New(proxy.Config{
				Logger:     slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: tc.level})),
				Registerer: prometheus.NewRegistry(),
			})
			if err != nil {
				t.Fatal(err)
			}
			backend := rawBenchBackend(t)
			t.Cleanup(func() { p.Close() }) // before the backend's cleanup, which waits for its connections
			c, err := p.Compile(context.Background(), topo("sandbox", svc("webhdfs", backend+"/webhdfs")))
			if err != nil {
				t.Fatal(err)
			}
			p.Apply(c)
			reqs := make([]*http.Request, n+100)
			ws := make([]*discardWriter, len(reqs))
			for i := range reqs {
				reqs[i] = httptest.NewRequest("GET", "http://gw.example/gateway/sandbox/webhdfs/v1/tmp/file?op=OPEN", nil)
				reqs[i].RemoteAddr = "127.0.0.1:40000"
				ws[i] = &discardWriter{h: make(http.Header, 8)}
			}
			for i := range 100 { // warm: pools, the backend connection
				p.ServeHTTP(ws[n+i], reqs[n+i])
			}
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			for i := range n {
				p.ServeHTTP(ws[i], reqs[i])
			}
			runtime.ReadMemStats(&m1)
			for i := range n {
				if ws[i].code != 200 {
					t.Fatalf("request %d: status %d", i, ws[i].code)
				}
			}
			per := (m1.TotalAlloc - m0.TotalAlloc) / n
			t.Logf("%d bytes, %.1f allocations per proxied GET", per, float64(m1.Mallocs-m0.Mallocs)/n)
			if per > tc.budget {
				t.Fatalf("%d bytes per proxied GET, budget %d", per, tc.budget)
			}
		})
	}
}
