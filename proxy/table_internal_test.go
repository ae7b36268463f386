package proxy

import (
	"context"
	"testing"

	"github.com/securegw/gateway/internal/topology"
)

func compileT(t *testing.T, p *Proxy, name, url string) *Compiled {
	t.Helper()
	c, err := p.Compile(context.Background(), &topology.Topology{
		Name:      name,
		Providers: []topology.Provider{{Role: "authentication", Name: "anonymous"}},
		Services:  []topology.Service{{Path: "svc", URLs: []string{url}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (tp *transportPool) refs(host string) int {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	for k, e := range tp.m {
		if k.host == host {
			return e.refs
		}
	}
	return 0
}

// A request that loaded the table just before a swap finds its topology
// retired and routes again on the new table; the retired topology keeps
// its transports until its last request leaves.
func TestRetiredTopologyReroutesAndDrains(t *testing.T) {
	p, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c1 := compileT(t, p, "t", "http://127.0.0.1:1")
	c2 := compileT(t, p, "t", "http://127.0.0.1:2")
	p.Apply(c1)

	inflight, _ := p.route("t", "svc/x") // a request on c1
	stale := p.table.Load().get("t")     // a request that loaded the table but has not entered yet
	if inflight != c1 || stale != c1 {
		t.Fatal("not routed to c1")
	}
	p.Apply(c2)
	if stale.enter() {
		t.Fatal("entered a retired topology")
	}
	if c, s := p.route("t", "svc/x"); c != c2 || s == nil {
		t.Fatal("not rerouted to the new topology")
	} else {
		c.leave()
	}
	if n := p.pool.refs("127.0.0.1:1"); n != 1 {
		t.Fatalf("retired topology with a request in flight: transport refs %d, want 1", n)
	}
	inflight.leave()
	if n := p.pool.refs("127.0.0.1:1"); n != 0 {
		t.Fatalf("after its last request: transport refs %d, want 0 (released)", n)
	}
	if n := p.pool.refs("127.0.0.1:2"); n != 1 {
		t.Fatalf("live topology's transport refs %d", n)
	}
}
