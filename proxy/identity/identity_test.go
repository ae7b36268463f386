package identity_test

import (
	"context"
	"net/http"
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

// carrier is a request context that takes the principal of its own
// request, as the proxy's does.
type carrier struct {
	context.Context
	req *http.Request
	p   *identity.Principal
}

func (c *carrier) Value(key any) any {
	if identity.IsContextKey(key) && c.p != nil {
		return c.p
	}
	return c.Context.Value(key)
}

func (c *carrier) CarryPrincipal(r *http.Request, p *identity.Principal) bool {
	if r != c.req || c.p != nil {
		return false
	}
	c.p = p
	return true
}

// A Carrier takes the first principal of its own request, which is then
// served as is (no copy); a second principal (identity assertion mapping
// the name) and any other request sharing the context (a sign-in page
// running the chain on a request of its own) get a copy whose context
// carries theirs, and the carrier keeps its own. A request sharing the
// context shares what the context carries: its own request's principal,
// once there is one.
func TestCarrier(t *testing.T) {
	type k struct{}
	c := &carrier{Context: context.WithValue(context.Background(), k{}, "v")}
	r := httptest.NewRequest("GET", "/", nil)
	r = r.WithContext(c)
	c.req = r
	other := httptest.NewRequest("GET", "/", nil).WithContext(c) // the sign-in page's check
	if _, ok := identity.FromContext(r.Context()); ok {
		t.Fatal("a principal before any was carried")
	}
	bobReq := identity.WithPrincipal(other, &identity.Principal{Name: "bob"})
	if bobReq == other {
		t.Fatal("the context took the principal of a request it was not made for")
	}
	if _, ok := identity.FromContext(r.Context()); ok {
		t.Fatal("another request's principal reached the carrier's own request")
	}
	alice := &identity.Principal{Name: "alice"}
	aliceReq := identity.WithPrincipal(r, alice)
	if aliceReq != r {
		t.Fatal("the carrier's own request was copied")
	}
	mapped := identity.WithPrincipal(aliceReq, &identity.Principal{Name: "mapped"})
	if mapped == aliceReq {
		t.Fatal("a second principal was not given a context of its own")
	}
	for _, tc := range []struct {
		r    *http.Request
		want string
	}{{other, "alice"}, {bobReq, "bob"}, {aliceReq, "alice"}, {mapped, "mapped"}} {
		got := ""
		if p, ok := identity.FromContext(tc.r.Context()); ok {
			got = p.Name
		}
		if got != tc.want {
			t.Errorf("principal %q, want %q", got, tc.want)
		}
		if tc.r.Context().Value(k{}) != "v" {
			t.Errorf("the parent's values are lost")
		}
	}
}
