package ldap_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy"
	"github.com/securegw/gateway/proxy/providers/ldap/ldaptest"
)

type nopWriter struct {
	h    http.Header
	code int
}

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) WriteHeader(c int)           { w.code = c }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) Flush()                      {}

type resolver map[string]string

func (r resolver) Resolve(_ context.Context, topo, alias string) ([]byte, error) {
	return []byte(r[topo+"/"+alias]), nil
}

// BenchmarkTopologyLDAPvsAnonymous measures, side by side in one run, the
// throughput of a topology with Basic over LDAP (warm cache) and of an
// anonymous one, through the full proxy (router, chain, dispatch to a
// loopback backend), with 8 concurrent clients. Rounds alternate A B A B;
// the best round of each counts. It reports req/s of both and their ratio
// (issue 5's goal: ≥ 0.9).
func BenchmarkTopologyLDAPvsAnonymous(b *testing.B) {
	dir := ldaptest.Start(b, ldaptest.Options{Users: []ldaptest.User{{UID: "alice", Password: "alice-pw-1"}}})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hello from backend\n") }))
	b.Cleanup(backend.Close)
	p, err := proxy.New(proxy.Config{
		Logger:   slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Resolver: resolver{"ldap/bind": dir.ServicePassword},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	for _, t := range []*topology.Topology{
		{Name: "anon", Providers: []topology.Provider{{Role: "authentication", Name: "anonymous"}, {Role: "identity-assertion", Name: "default"}},
			Services: []topology.Service{{Path: "svc", URLs: []string{backend.URL}}}},
		{Name: "ldap", Providers: []topology.Provider{
			{Role: "authentication", Name: "ldap", Params: map[string]string{
				"url": dir.URL, "bind_dn": ldaptest.ServiceDN, "bind_password": "${alias:bind}",
				"search_base": ldaptest.Suffix, "cache_ttl": "10m"}},
			{Role: "identity-assertion", Name: "default"}},
			Services: []topology.Service{{Path: "svc", URLs: []string{backend.URL}}}},
	} {
		c, err := p.Compile(context.Background(), t)
		if err != nil {
			b.Fatal(err)
		}
		p.Apply(c)
	}
	run := func(path string, auth bool, n int) time.Duration {
		const workers = 8
		var wg sync.WaitGroup
		start := time.Now()
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tmpl := httptest.NewRequest("GET", "http://gw/gateway/"+path+"/svc/x", nil)
				tmpl.RemoteAddr = "127.0.0.1:40000"
				if auth {
					tmpl.SetBasicAuth("alice", "alice-pw-1")
				}
				wr := &nopWriter{}
				for i := 0; i < n/workers; i++ {
					r := *tmpl
					u := *tmpl.URL
					r.URL, r.Header = &u, tmpl.Header.Clone()
					wr.h, wr.code = http.Header{}, 0
					p.ServeHTTP(wr, &r)
					if wr.code != 200 {
						b.Errorf("%s: status %d", path, wr.code)
						return
					}
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	run("ldap", true, 64) // warm the cache and the connections
	run("anon", false, 64)
	b.ResetTimer()
	best := map[string]float64{}
	for round := 0; round < 3; round++ {
		for _, tc := range []struct {
			name string
			auth bool
		}{{"anon", false}, {"ldap", true}} {
			n := max(b.N, 2000)
			rate := float64(n) / run(tc.name, tc.auth, n).Seconds()
			best[tc.name] = max(best[tc.name], rate)
		}
	}
	b.ReportMetric(best["anon"], "anon-req/s")
	b.ReportMetric(best["ldap"], "ldap-req/s")
	b.ReportMetric(best["ldap"]/best["anon"], "ldap/anon")
}
