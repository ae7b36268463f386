package proxy

import (
	"context"
	"fmt"
	"net/url"
	"testing"

	"github.com/securegw/gateway/internal/topology"
)

func benchTopology(name string) *topology.Topology {
	return &topology.Topology{
		Name:      name,
		Providers: []topology.Provider{{Role: "authentication", Name: "anonymous"}, {Role: "identity-assertion", Name: "default"}},
		Services: []topology.Service{
			{Path: "webhdfs", URLs: []string{"http://127.0.0.1:1/webhdfs"}},
			{Path: "hive/api", URLs: []string{"http://127.0.0.1:1/hive"}},
			{Path: "yarn", URLs: []string{"http://127.0.0.1:1/"}},
		},
	}
}

var loadedCache = map[int]*Proxy{}

// loaded returns a proxy whose live table holds n topologies t0…t(n-1),
// built once per n for all benchmark rounds.
func loaded(b *testing.B, n int) *Proxy {
	b.Helper()
	if p := loadedCache[n]; p != nil {
		return p
	}
	p, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	all := make([]*Compiled, n)
	for i := range all {
		if all[i], err = p.Compile(context.Background(), benchTopology(fmt.Sprintf("t%d", i))); err != nil {
			b.Fatal(err)
		}
	}
	p.Load(all)
	loadedCache[n] = p
	return p
}

// BenchmarkLookup: topology map lookup + longest service prefix match +
// in-flight accounting. The same cost at 10 and at 10k topologies.
func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{10, 10000} {
		b.Run(fmt.Sprintf("topologies=%d", n), func(b *testing.B) {
			p := loaded(b, n)
			names := make([]string, 1024)
			for i := range names {
				names[i] = fmt.Sprintf("t%d", (i*7919)%n)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c, s := p.route(names[i&1023], "hive/api/v1/query")
				if s == nil {
					b.Fatal("no route")
				}
				c.leave()
			}
		})
	}
}

func BenchmarkCanonical(b *testing.B) {
	for _, tc := range []struct{ name, raw string }{
		{"clean", "/gateway/sandbox/webhdfs/v1/tmp/data/file.csv"},
		{"merged-slashes", "/gateway//sandbox/webhdfs/v1//tmp/./file.csv"},
		{"escaped", "/gateway/sandbox/webhdfs/v1/tmp/%C3%A9t%C3%A9%20report.csv"},
	} {
		u, err := url.ParseRequestURI(tc.raw)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, r := canonicalPath(u); r != "" {
					b.Fatal(r)
				}
			}
		})
	}
}

// BenchmarkDeploy: Compile and Apply of one topology into a table of 10
// or 10k topologies, as the server deploys. The difference between the
// two is Apply's copy of the table's map (O(topologies)).
func BenchmarkDeploy(b *testing.B) {
	for _, n := range []int{10, 10000} {
		b.Run(fmt.Sprintf("topologies=%d", n), func(b *testing.B) {
			p := loaded(b, n)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				c, err := p.Compile(context.Background(), benchTopology(fmt.Sprintf("t%d", i%n)))
				if err != nil {
					b.Fatal(err)
				}
				p.Apply(c)
			}
		})
	}
}
