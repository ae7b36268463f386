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
