package proxy

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/securegw/gateway/proxy/identity"
)

// The proxy's request context (reqCtx, as serve makes it) takes the
// principal of its own routed request in place, once; a request sharing
// the context (the sign-in page's check), a nil principal or a second
// principal (identity assertion) never reaches it.
func TestRequestContextCarriesItsOwnPrincipalOnly(t *testing.T) {
	ex := &exchange{}
	ex.ctx = reqCtx{Context: context.Background(), ex: ex}
	r := httptest.NewRequest("GET", "/gateway/t/s", nil).WithContext(&ex.ctx)
	ex.req = r
	check := httptest.NewRequest("GET", "/", nil).WithContext(r.Context())
	if bob := identity.WithPrincipal(check, &identity.Principal{Name: "bob"}); bob == check {
		t.Fatal("the check request was not copied")
	}
	if identity.WithPrincipal(r, nil) == r {
		t.Fatal("a nil principal was taken in place")
	}
	if p, ok := identity.FromContext(r.Context()); ok || ex.who.Load() != nil {
		t.Fatalf("the routed request carries %v before its own authentication", p)
	}
	alice := &identity.Principal{Name: "alice"}
	if identity.WithPrincipal(r, alice) != r {
		t.Fatal("the routed request was copied")
	}
	mapped := identity.WithPrincipal(r, &identity.Principal{Name: "mapped"})
	if mapped == r {
		t.Fatal("a second principal was taken in place")
	}
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want string
	}{{"routed", r.Context(), "alice"}, {"mapped", mapped.Context(), "mapped"}} {
		p, ok := identity.FromContext(tc.ctx)
		if !ok || p.Name != tc.want {
			t.Errorf("%s: principal %v, want %s", tc.name, p, tc.want)
		}
	}
	if exchangeOf(mapped.Context()) != ex {
		t.Error("the mapped request lost its exchange")
	}
}
