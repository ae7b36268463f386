package proxy_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/chain/revocation"
)

// hostSeen is the chain.Host the test-host provider was last built with.
var hostSeen atomic.Pointer[chain.Host]

func init() {
	chain.Register(chain.Factory{Name: "test-host", Role: chain.RoleCustom,
		New: func(_ context.Context, c chain.Config) (chain.Handler, error) {
			h := c.Host
			hostSeen.Store(&h)
			return recorder{}, nil
		}})
}

type stoppedClock struct{}

func (stoppedClock) Now() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }

// Providers get the gateway's services from proxy.Config.Host; a
// revocation takes effect on the live topology at once, and is lifted the
// same way, without a recompile.
func TestHostServices(t *testing.T) {
	revoked := &revocation.Set{}
	cfg := proxyConfig()
	cfg.Host = chain.Host{Clock: stoppedClock{}, Revocations: revoked}
	e := newEnv(t, cfg)
	b := newBackend(t, nil)
	c := e.deploy(&topology.Topology{Name: "t", Services: []topology.Service{svc("svc", b.URL)},
		Providers: []topology.Provider{{Role: "authentication", Name: "test-auth"}, {Role: "custom", Name: "test-host"}}})

	h := hostSeen.Load()
	if h == nil || h.Clock != (stoppedClock{}) || h.Revocations != revoked || h.Replay == nil || h.Tokens != nil {
		t.Fatalf("the provider was built with %+v", h)
	}
	if h.Replay.Seen("nonce", time.Date(2030, 1, 1, 0, 1, 0, 0, time.UTC)) || !h.Replay.Seen("nonce", time.Date(2030, 1, 1, 0, 1, 0, 0, time.UTC)) {
		t.Fatal("the default replay cache does not remember a nonce (or does not use the host's clock)")
	}

	gen := e.p.Generation()
	get := func() int {
		resp, _ := e.get("/gateway/t/svc/", "X-Test-Token", "let-me-in", "X-Test-User", "alice", "X-Test-Credential", "tok-1")
		return resp.StatusCode
	}
	if code := get(); code != 200 {
		t.Fatalf("before revocation: %d", code)
	}
	revoked.Revoke("tok-1", time.Time{})
	n := b.count()
	if code := get(); code != 401 || b.count() != n {
		t.Fatalf("revoked credential: %d, backend reached %v", code, b.count() != n)
	}
	revoked.Replace(nil)
	if code := get(); code != 200 {
		t.Fatalf("revocation lifted: %d", code)
	}
	if e.p.Generation() != gen || c.Name() != "t" {
		t.Fatal("the routing table changed: revocations must not recompile topologies")
	}
}
