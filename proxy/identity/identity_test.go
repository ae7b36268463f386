package identity_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/securegw/gateway/proxy/identity"
)

func TestContext(t *testing.T) {
	if _, ok := identity.FromContext(context.Background()); ok {
		t.Fatal("principal in an empty context")
	}
	if _, ok := identity.FromContext(identity.NewContext(context.Background(), nil)); ok {
		t.Fatal("a nil principal counts as one")
	}
	p := &identity.Principal{Name: "alice", Groups: []string{"admin", "etl"}}
	r := identity.WithPrincipal(httptest.NewRequest("GET", "/", nil), p)
	got, ok := identity.FromContext(r.Context())
	if !ok || got != p {
		t.Fatalf("%v %v", got, ok)
	}
	for g, want := range map[string]bool{"admin": true, "etl": true, "Admin": false, "": false} {
		if got.InGroup(g) != want {
			t.Errorf("InGroup(%q) = %v", g, !want)
		}
	}
}

// carrier holds one principal context ready, as the proxy's request context does.
type carrier struct {
	context.Context
	ready *carried
}

type carried struct {
	context.Context
	p *identity.Principal
}

func (c *carried) Value(key any) any {
	if identity.IsContextKey(key) {
		return c.p
	}
	return c.Context.Value(key)
}

func (c carrier) CarryPrincipal(p *identity.Principal) context.Context {
	if c.ready.p != nil {
		return nil
	}
	c.ready.Context, c.ready.p = c.Context, p
	return c.ready
}

// A Carrier's ready context carries the first principal; the carrier itself
// never does, and a second principal (identity assertion mapping the name)
// gets a context of its own on top: each context keeps the principal it was
// made with.
func TestCarrier(t *testing.T) {
	type k struct{}
	base := carrier{Context: context.WithValue(context.Background(), k{}, "v"), ready: &carried{}}
	alice := &identity.Principal{Name: "alice"}
	ctx1 := identity.NewContext(base, alice)
	if ctx1 != context.Context(base.ready) {
		t.Fatalf("the carrier's ready context was not used: %T", ctx1)
	}
	bob := &identity.Principal{Name: "bob"}
	ctx2 := identity.NewContext(base, bob) // taken: a context of its own
	ctx3 := identity.NewContext(ctx1, &identity.Principal{Name: "mapped"})
	for _, tc := range []struct {
		ctx  context.Context
		want string
	}{{base, ""}, {ctx1, "alice"}, {ctx2, "bob"}, {ctx3, "mapped"}} {
		got := ""
		if p, ok := identity.FromContext(tc.ctx); ok {
			got = p.Name
		}
		if got != tc.want {
			t.Errorf("principal %q, want %q", got, tc.want)
		}
		if tc.ctx.Value(k{}) != "v" {
			t.Errorf("the parent's values are lost")
		}
	}
}
