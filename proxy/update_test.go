package proxy_test

import (
	"context"
	"testing"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy"
)

// Update applies a batch (adds, replacements, removals) with one swap: one
// generation step, and every route of the batch changes at once.
func TestUpdateIsOneSwap(t *testing.T) {
	e := newEnv(t, proxyConfig())
	b1, b2 := newBackend(t, nil), newBackend(t, nil)
	e.deploy(topo("keep", svc("svc", b1.URL)))
	e.deploy(topo("gone", svc("svc", b1.URL)))
	e.deploy(topo("moved", svc("svc", b1.URL)))
	compile := func(tp *topology.Topology) *proxy.Compiled {
		c, err := e.p.Compile(context.Background(), tp)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	before := e.p.Generation()
	gen := e.p.Update([]*proxy.Compiled{
		compile(topo("moved", svc("svc", b2.URL))),
		compile(topo("new", svc("svc", b2.URL))),
	}, []string{"gone", "never-deployed"})
	if gen != before+1 || e.p.Generation() != gen {
		t.Fatalf("generation %d after %d (now %d): want one swap", gen, before, e.p.Generation())
	}
	if got := e.p.Topologies(); got != 3 {
		t.Fatalf("%d topologies live, want keep, moved and new", got)
	}
	for path, want := range map[string]int{
		"/gateway/keep/svc/x":  200,
		"/gateway/moved/svc/x": 200,
		"/gateway/new/svc/x":   200,
		"/gateway/gone/svc/x":  404,
	} {
		if resp, _ := e.get(path); resp.StatusCode != want {
			t.Errorf("%s: status %d, want %d", path, resp.StatusCode, want)
		}
	}
	if b2.count() != 2 {
		t.Errorf("the new backend got %d requests, want 2 (moved and new)", b2.count())
	}

	// Nothing to do: no swap.
	if g := e.p.Update(nil, []string{"gone"}); g != gen {
		t.Errorf("an empty update moved the generation from %d to %d", gen, g)
	}
	// A name both removed and applied stays live, with the new version.
	if g := e.p.Update([]*proxy.Compiled{compile(topo("gone", svc("svc", b1.URL)))}, []string{"gone"}); g != gen+1 {
		t.Errorf("generation %d, want %d", g, gen+1)
	}
	if resp, _ := e.get("/gateway/gone/svc/x"); resp.StatusCode != 200 {
		t.Errorf("re-added topology: status %d", resp.StatusCode)
	}
}

// A batch whose entries cannot be published (discarded) changes nothing.
func TestUpdateSkipsUnpublishable(t *testing.T) {
	e := newEnv(t, proxyConfig())
	b := newBackend(t, nil)
	c, err := e.p.Compile(context.Background(), topo("t", svc("svc", b.URL)))
	if err != nil {
		t.Fatal(err)
	}
	c.Discard()
	gen := e.p.Generation()
	if g := e.p.Update([]*proxy.Compiled{c}, nil); g != gen {
		t.Fatalf("generation moved from %d to %d for a discarded topology", gen, g)
	}
	if resp, _ := e.get("/gateway/t/svc/x"); resp.StatusCode != 404 {
		t.Fatalf("discarded topology served: status %d", resp.StatusCode)
	}
}
