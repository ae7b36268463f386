package chain_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/identity"
)

// tag is an inbound handler that appends its name to X-Order.
type tag struct {
	name   string
	closed *[]string
}

func (h tag) ServeInbound(_ http.ResponseWriter, r *http.Request) *http.Request {
	r.Header.Add("X-Order", h.name)
	return r
}

func (h tag) Close() error {
	if h.closed != nil {
		*h.closed = append(*h.closed, h.name)
	}
	return nil
}

// tagAuth is an authenticator that appends its name to X-Order and
// passes, or authenticates as itself when accept is set.
type tagAuth struct {
	t      tag
	accept bool
}

func (h tagAuth) Close() error { return h.t.Close() }

func (h tagAuth) Authenticate(r *http.Request) chain.Outcome {
	r.Header.Add("X-Order", h.t.name)
	if h.accept {
		return chain.Authenticate(&identity.Principal{Name: h.t.name})
	}
	return chain.Pass("")
}

var closed []string

func reg(role chain.Role, name string, prio int) {
	chain.Register(chain.Factory{Name: name, Role: role, Priority: prio,
		New: func(_ context.Context, c chain.Config) (chain.Handler, error) {
			t := tag{name: c.Provider + c.Params["suffix"], closed: &closed}
			if role.Authenticates() {
				return tagAuth{t: t, accept: c.Params["accept"] == "true"}, nil
			}
			return t, nil
		}})
}

func init() {
	reg(chain.RoleAuthorization, "t-authz", 0)
	reg(chain.RoleAuthentication, "t-authn-low", -5)
	reg(chain.RoleAuthentication, "t-authn-high", 5)
	reg(chain.RoleAuthentication, "t-authn-accept", -10)
	reg(chain.RoleFederation, "t-fed", 0)
	reg(chain.RoleIdentityAssertion, "t-ia", 0)
	reg(chain.RoleWebAppSec, "t-waf", -100)
	reg("rewrite", "t-custom-b", 0)
	reg("rewrite", "t-custom-a", 0)
	chain.Register(chain.Factory{Name: "t-nothing", Role: chain.RoleCustom,
		New: func(context.Context, chain.Config) (chain.Handler, error) { return nil, nil }})
	chain.Register(chain.Factory{Name: "t-bad", Role: chain.RoleCustom,
		New: func(_ context.Context, c chain.Config) (chain.Handler, error) {
			p, err := c.Read([]chain.Param{chain.P("level")})
			if err != nil {
				return nil, err
			}
			if _, err := p.Required("level"); err != nil {
				return nil, err
			}
			return tag{name: "t-bad"}, nil
		}})
	chain.Register(chain.Factory{Name: "t-useless", Role: chain.RoleCustom,
		New: func(context.Context, chain.Config) (chain.Handler, error) { return struct{}{}, nil }})
}

func TestRegisterPanics(t *testing.T) {
	ok := func(context.Context, chain.Config) (chain.Handler, error) { return nil, nil }
	for _, tc := range []struct {
		name string
		f    chain.Factory
	}{
		{"empty name", chain.Factory{Role: chain.RoleCustom, New: ok}},
		{"empty role", chain.Factory{Name: "x", New: ok}},
		{"nil New", chain.Factory{Name: "x", Role: chain.RoleCustom}},
		{"duplicate", chain.Factory{Name: "t-authz", Role: chain.RoleAuthorization, New: ok}},
		{"duplicate other case", chain.Factory{Name: "T-AUTHZ", Role: "Authorization", New: ok}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("Register did not panic")
				}
			}()
			chain.Register(tc.f)
		})
	}
}

func prov(role, name string, params ...string) topology.Provider {
	p := topology.Provider{Role: role, Name: name, Params: map[string]string{}}
	for i := 0; i+1 < len(params); i += 2 {
		p.Params[params[i]] = params[i+1]
	}
	return p
}

// TestOrder: role rank, then priority (higher first), then name, then
// position: the same whatever order the topology lists providers in.
func TestOrder(t *testing.T) {
	off := false
	providers := []topology.Provider{
		prov("rewrite", "t-custom-b"),
		prov("authorization", "t-authz"),
		prov("rewrite", "t-custom-a", "suffix", "#2"),
		prov("authentication", "t-authn-low"),
		prov("identity-assertion", "t-ia"),
		prov("Federation", "T-Fed"), // case-insensitive
		prov("authentication", "t-authn-high"),
		prov("authentication", "t-authn-accept", "accept", "true"),
		prov("webappsec", "t-waf"),
		prov("rewrite", "t-custom-a", "suffix", "#1"),
		prov("custom", "t-nothing"),
		{Role: "custom", Name: "unknown-but-disabled", Enabled: &off},
	}
	want := []string{"t-waf", "t-authn-high", "t-fed", "t-authn-low", "t-authn-accept", "t-ia", "t-authz",
		"t-custom-a#2", "t-custom-a#1", "t-custom-b"}
	for i := 0; i < 20; i++ {
		ps := slices.Clone(providers)
		// Rotate: a different listing order must not change the chain
		// (except between two entries of the same provider, kept in order).
		k := i % len(ps)
		ps = append(ps[k:], ps[:k]...)
		c, err := chain.Build(context.Background(), "t", ps, nil)
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest("GET", "/", nil)
		out := c.ServeInbound(httptest.NewRecorder(), r)
		if out == nil {
			t.Fatal("chain answered")
		}
		got := out.Header.Values("X-Order")
		// Entries of the same provider keep their relative topology order.
		w := slices.Clone(want)
		first := slices.IndexFunc(ps, func(p topology.Provider) bool { return p.Params["suffix"] == "#1" })
		second := slices.IndexFunc(ps, func(p topology.Provider) bool { return p.Params["suffix"] == "#2" })
		if first < second {
			w[7], w[8] = w[8], w[7]
		}
		if !slices.Equal(got, w) {
			t.Fatalf("rotation %d: order %v, want %v", k, got, w)
		}
		if !c.Authenticates() {
			t.Fatal("Authenticates() = false")
		}
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name      string
		providers []topology.Provider
		want      string
	}{
		{"unknown provider", []topology.Provider{prov("authentication", "kerberos5000")},
			`provider "kerberos5000" (role "authentication") is not supported`},
		{"known name, other role", []topology.Provider{prov("authorization", "t-ia")},
			`provider "t-ia" (role "authorization") is not supported`},
		{"param error", []topology.Provider{prov("custom", "t-bad")},
			`provider "t-bad" (role "custom"): param "level": is required`},
		{"no interface", []topology.Provider{prov("custom", "t-useless")},
			`implements none of Inbound, Outbound, ResponseModifier`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			closed = nil
			ps := append([]topology.Provider{prov("authentication", "t-authn-high")}, tc.providers...)
			_, err := chain.Build(context.Background(), "t", ps, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			if !slices.Contains(closed, "t-authn-high") {
				t.Fatalf("handlers built before the failure were not closed: %v", closed)
			}
		})
	}
}

func TestNoAuthentication(t *testing.T) {
	c, err := chain.Build(context.Background(), "t", []topology.Provider{prov("identity-assertion", "t-ia")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Authenticates() {
		t.Fatal("a chain without authentication claims to authenticate")
	}
}

func TestExpand(t *testing.T) {
	resolve := func(_ context.Context, alias string) ([]byte, error) {
		if alias == "tok" {
			return []byte("s3cret"), nil
		}
		return nil, errors.New("not found")
	}
	tests := []struct {
		in, want, err string
		resolver      bool
	}{
		{"plain", "plain", "", true},
		{"Bearer ${alias:tok}", "Bearer s3cret", "", true},
		{"${alias:tok}-${alias:tok}", "s3cret-s3cret", "", true},
		{"${alias:nope}", "", `param "value": alias "nope": not found`, true},
		{"${alias:tok", "", "unterminated", true},
		{"${alias:}", "", "empty alias", true},
		{"${alias:tok}", "", "no secret resolver", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			c := chain.Config{}
			if tc.resolver {
				c.Resolve = resolve
			}
			got, err := c.Expand(context.Background(), "value", tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "s3cret") {
					t.Fatalf("err %v, want %q without the secret", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("%q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestRegisteredIsOrdered(t *testing.T) {
	fs := chain.Registered()
	var names []string
	for _, f := range fs {
		names = append(names, fmt.Sprintf("%d/%d/%s", f.Role.Rank(), -f.Priority, f.Name))
	}
	if !slices.IsSortedFunc(fs, func(a, b chain.Factory) int {
		if a.Role.Rank() != b.Role.Rank() {
			return a.Role.Rank() - b.Role.Rank()
		}
		return b.Priority - a.Priority
	}) {
		t.Fatalf("not in chain order: %v", names)
	}
}

func TestWriteError(t *testing.T) {
	w := httptest.NewRecorder()
	chain.WriteError(w, 403, `no "<script>"`)
	if w.Code != 403 || w.Body.String() != `{"error":"no \"\u003cscript\u003e\""}`+"\n" ||
		w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %q %v", w.Code, w.Body.String(), w.Header())
	}
}
