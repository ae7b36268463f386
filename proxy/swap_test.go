package proxy_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy"
)

// Concurrent requests while 100 redeploys of the same and other
// topologies are applied: not one request fails.
func TestHotSwapUnderLoad(t *testing.T) {
	e := newEnv(t, proxyConfig())
	b1, b2 := newBackend(t, nil), newBackend(t, nil)
	live := []string{"t0", "t1", "t2", "t3"}
	for i, n := range live {
		e.deploy(topo(n, svc("svc", []string{b1.URL, b2.URL}[i%2])))
	}
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(e.fe.URL + "/gateway/" + live[i%len(live)] + "/svc/x")
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				ok.Add(1)
			}
		}()
	}
	ctx := context.Background()
	gen := e.p.Generation()
	for i := 0; i < 100; i++ {
		var top *topology.Topology
		switch i % 4 {
		case 0, 1: // the routes under load, alternately moved between backends
			top = topo(live[i%len(live)], svc("svc", []string{b1.URL, b2.URL}[i%2]), svc(fmt.Sprintf("s%d", i), b2.URL))
		case 2: // another topology
			top = topo(fmt.Sprintf("other%d", i%10), svc("svc", b2.URL))
		case 3:
			e.p.Remove(fmt.Sprintf("other%d", (i-1)%10))
			top = topo("t0", svc("svc", b1.URL))
		}
		c, err := e.p.Compile(ctx, top)
		if err != nil {
			t.Fatal(err)
		}
		if g := e.p.Apply(c); g <= gen {
			t.Fatalf("generation %d after %d", g, gen)
		} else {
			gen = g
		}
		if i == 50 { // and one full Load
			var all []*proxy.Compiled
			for _, n := range live {
				c, err := e.p.Compile(ctx, topo(n, svc("svc", b1.URL)))
				if err != nil {
					t.Fatal(err)
				}
				all = append(all, c)
			}
			gen = e.p.Load(all)
		}
		// Let requests interleave with every deploy.
		n := ok.Load() + failed.Load()
		eventually(t, 10*time.Second, "requests flowing", func() bool { return ok.Load()+failed.Load() >= n+8 })
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed during redeploys; first: %v", failed.Load(), failed.Load()+ok.Load(), firstErr.Load())
	}
	t.Logf("%d requests during 100 redeploys, 0 failed", ok.Load())
}

// A request in flight finishes on the topology it started with, even when
// the topology is replaced (to another backend) or removed meanwhile.
func TestInFlightFinishesOnOldTable(t *testing.T) {
	e := newEnv(t, proxyConfig())
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	old := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
		io.WriteString(w, "old")
	})
	next := newBackend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "new") })
	e.deploy(topo("t", svc("svc", old.URL)))
	type result struct {
		code int
		body string
	}
	done := make(chan result)
	go func() {
		resp, err := e.fe.Client().Get(e.fe.URL + "/gateway/t/svc/")
		if err != nil {
			done <- result{0, err.Error()}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{resp.StatusCode, string(b)}
	}()
	<-started
	e.deploy(topo("t", svc("svc", next.URL)))
	if _, body := e.get("/gateway/t/svc/"); body != "new" {
		t.Fatalf("new requests served by %q", body)
	}
	e.p.Remove("t")
	close(release)
	if r := <-done; r.code != 200 || r.body != "old" {
		t.Fatalf("in-flight request: %d %q", r.code, r.body)
	}
}

func TestTableOperations(t *testing.T) {
	e := newEnv(t, proxyConfig())
	b := newBackend(t, nil)
	compile := func(name string) *proxy.Compiled {
		c, err := e.p.Compile(context.Background(), topo(name, svc("svc", b.URL)))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if e.p.Generation() != 0 || e.p.Ready() || e.p.Topologies() != 0 {
		t.Fatal("a new proxy is not empty")
	}
	a1, a2, bb := compile("a"), compile("a"), compile("b")
	steps := []struct {
		name   string
		op     func() int64
		gen    int64
		topos  int
		status map[string]int
	}{
		{"load", func() int64 { return e.p.Load([]*proxy.Compiled{a1, bb}) }, 1, 2, map[string]int{"a": 200, "b": 200}},
		{"replace", func() int64 { return e.p.Apply(a2) }, 2, 2, map[string]int{"a": 200}},
		{"apply live again: no change", func() int64 { return e.p.Apply(a2) }, 2, 2, nil},
		{"apply replaced: refused", func() int64 { return e.p.Apply(a1) }, 2, 2, nil},
		{"remove", func() int64 { return e.p.Remove("b") }, 3, 1, map[string]int{"b": 404, "a": 200}},
		{"remove absent", func() int64 { return e.p.Remove("b") }, 3, 1, nil},
		{"load empty", func() int64 { return e.p.Load(nil) }, 4, 0, map[string]int{"a": 404}},
	}
	for _, s := range steps {
		if g := s.op(); g != s.gen || e.p.Generation() != s.gen || e.p.Topologies() != s.topos {
			t.Fatalf("%s: generation %d/%d topologies %d, want %d, %d", s.name, g, e.p.Generation(), e.p.Topologies(), s.gen, s.topos)
		}
		for name, code := range s.status {
			if resp, _ := e.get("/gateway/" + name + "/svc/"); resp.StatusCode != code {
				t.Fatalf("%s: %s answers %d, want %d", s.name, name, resp.StatusCode, code)
			}
		}
	}
	if !e.p.Ready() {
		t.Fatal("not ready after a load")
	}
	if !strings.Contains(e.logs.String(), "compile it again") {
		t.Fatal("applying a replaced topology was not logged")
	}
}

func TestCompileErrors(t *testing.T) {
	e := newEnv(t, proxy.Config{Resolver: secrets{}})
	good := svc("svc", "http://127.0.0.1:1")
	withDispatch := func(d topology.Dispatch) topology.Service { s := good; s.Dispatch = &d; return s }
	withHA := func(h topology.HA) topology.Service { s := good; s.HA = &h; return s }
	tests := []struct {
		name string
		top  *topology.Topology
		want string
	}{
		{"no authentication", &topology.Topology{Name: "t", Services: []topology.Service{good},
			Providers: []topology.Provider{{Role: "identity-assertion", Name: "default"}}}, `topology "t": providers: no enabled authentication or federation provider`},
		{"authentication disabled", &topology.Topology{Name: "t", Services: []topology.Service{good},
			Providers: []topology.Provider{{Role: "authentication", Name: "anonymous", Enabled: new(bool)}}}, "no enabled authentication"},
		{"unknown provider", &topology.Topology{Name: "t", Services: []topology.Service{good},
			Providers: append([]topology.Provider{{Role: "authentication", Name: "ShiroProvider"}}, openProviders...)},
			`topology "t": providers[0]: provider "ShiroProvider" (role "authentication") is not supported`},
		{"provider param", &topology.Topology{Name: "t", Services: []topology.Service{good},
			Providers: append([]topology.Provider{{Role: "custom", Name: "header", Params: map[string]string{"name": "X-Key", "value": "${alias:key}"}}}, openProviders...)},
			`topology "t": provider "header" (role "custom"): param "value": alias "key"`},
		{"no services", topo("t"), "services: a topology needs at least one service"},
		{"duplicate path", topo("t", good, good), `services[1].path: duplicate path "svc"`},
		{"no urls", topo("t", svc("svc")), `services[0].urls: a service needs at least one backend URL`},
		{"bad scheme", topo("t", svc("svc", "ftp://h/")), `scheme "ftp" is not allowed`},
		{"query in url", topo("t", svc("svc", "http://h/?a=b")), "query"},
		{"negative timeout", topo("t", withDispatch(topology.Dispatch{DialTimeout: -1})), "dispatch.dial_timeout"},
		{"negative max body", topo("t", withDispatch(topology.Dispatch{MaxBodyBytes: -1})), "dispatch.max_body_bytes"},
		{"truststore without truststores", topo("t", withDispatch(topology.Dispatch{Truststore: "ts"})), `dispatch.truststore: "ts"`},
		{"failover status", topo("t", withHA(topology.HA{FailoverStatuses: []int{42}})), "ha.failover_statuses"},
		{"interval without path", topo("t", withHA(topology.HA{HealthCheckInterval: topology.Duration(time.Second)})), "ha.health_check_interval"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := e.p.Compile(context.Background(), tc.top)
			if err == nil || c != nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
	// Every problem in one answer: the validation rules' and then the
	// ones only building finds, for every service.
	bad := topo("t", svc("a", "ftp://h/"), svc("b"), withDispatch(topology.Dispatch{MaxBodyBytes: -1}))
	bad.Providers = append(bad.Providers, topology.Provider{Role: "authentication", Name: "HadoopAuth"})
	_, err := e.p.Compile(context.Background(), bad)
	var ve *topology.ValidationError
	if !errors.As(err, &ve) || len(ve.Errors) != 4 {
		t.Fatalf("err %v, want the four problems as a *topology.ValidationError", err)
	}
	twoStores := topo("t", svc("a", "https://h/"), svc("b", "https://h/"))
	twoStores.Services[0].Dispatch = &topology.Dispatch{Truststore: "ts1"}
	twoStores.Services[1].Dispatch = &topology.Dispatch{Truststore: "ts2"}
	_, err = e.p.Compile(context.Background(), twoStores)
	if err == nil || !strings.Contains(err.Error(), `service "a": dispatch.truststore: "ts1"`) || !strings.Contains(err.Error(), `service "b": dispatch.truststore: "ts2"`) {
		t.Fatalf("err %v, want both services' truststore problems", err)
	}
	if e.p.Generation() != 0 {
		t.Fatal("a failed compile touched the table")
	}
}

// A failed compile leaves no transport reference and no goroutine; a
// discarded Compiled neither.
func TestFailedCompileLeavesNothing(t *testing.T) {
	check := goroutineBaseline(t)
	e := newEnv(t, proxy.Config{Resolver: secrets{}})
	b := newBackend(t, nil)
	bad := svc("bad", b.URL+"/other")
	bad.Dispatch = &topology.Dispatch{Truststore: "missing"}
	hc := svc("svc", b.URL)
	hc.HA = &topology.HA{HealthCheckPath: "/health", HealthCheckInterval: topology.Duration(time.Millisecond)}
	for i := 0; i < 20; i++ {
		if _, err := e.p.Compile(context.Background(), topo("t", hc, bad)); err == nil {
			t.Fatal("compiled")
		}
	}
	c, err := e.p.Compile(context.Background(), topo("t", hc))
	if err != nil {
		t.Fatal(err)
	}
	if n := originsInMetrics(t, e); n != 1 {
		t.Fatalf("%d transports after failed compiles and one good one, want 1", n)
	}
	c.Discard()
	if n := originsInMetrics(t, e); n != 0 {
		t.Fatalf("%d transports after Discard", n)
	}
	if b.count() != 0 || goroutinesIn("healthLoop") != 0 {
		t.Fatal("an unpublished topology probed its backend")
	}
	e.fe.Close()
	e.p.Close()
	b.Close()
	check()
}

func originsInMetrics(t *testing.T, e *env) int {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "gateway_backend_open_connections" {
			return len(mf.GetMetric())
		}
	}
	return 0
}
