package providers_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/identity"
	_ "github.com/securegw/gateway/proxy/providers"
)

func build(t *testing.T, ps ...topology.Provider) (*chain.Chain, error) {
	t.Helper()
	resolve := func(_ context.Context, alias string) ([]byte, error) {
		switch alias {
		case "api-key":
			return []byte("k3y-s3cret"), nil
		case "crlf":
			return []byte("a\r\nInjected: yes"), nil
		}
		return nil, errors.New("not found")
	}
	return chain.Build(context.Background(), "t", ps, resolve)
}

func p(role, name string, kv ...string) topology.Provider {
	pr := topology.Provider{Role: role, Name: name}
	if len(kv) > 0 {
		pr.Params = map[string]string{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		pr.Params[kv[i]] = kv[i+1]
	}
	return pr
}

func TestAnonymousAndDefault(t *testing.T) {
	tests := []struct {
		name      string
		providers []topology.Provider
		status    int // 0: passes
		principal string
	}{
		{"anonymous", []topology.Provider{p("authentication", "anonymous"), p("identity-assertion", "default")}, 0, "anonymous"},
		{"Knox spelling", []topology.Provider{p("authentication", "Anonymous"), p("identity-assertion", "Default")}, 0, "anonymous"},
		{"named guest", []topology.Provider{p("authentication", "anonymous", "principal", "guest")}, 0, "guest"},
		{"default without principal", []topology.Provider{p("identity-assertion", "default")}, 401, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := build(t, tc.providers...)
			if err != nil {
				t.Fatal(err)
			}
			w := httptest.NewRecorder()
			r := c.ServeInbound(w, httptest.NewRequest("GET", "/", nil))
			if tc.status != 0 {
				if r != nil || w.Code != tc.status {
					t.Fatalf("passed=%v code=%d, want %d", r != nil, w.Code, tc.status)
				}
				return
			}
			pr, ok := identity.FromContext(r.Context())
			if !ok || pr.Name != tc.principal || pr.Provider != "anonymous" {
				t.Fatalf("principal %+v", pr)
			}
		})
	}
}

// anonymous is a fallback: it runs last; a request another provider
// authenticates keeps that principal, and a bad credential of another
// provider is refused, never let through as anonymous.
func TestAnonymousIsTheFallback(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pw-alice"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	c, err := build(t, p("authentication", "anonymous"), p("authentication", "basic", "user.alice", string(hash)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, user, password string
		status               int
		principal            string
	}{
		{"good credentials", "alice", "pw-alice", 0, "alice"},
		{"no credentials", "", "", 0, "anonymous"},
		{"wrong password: refused, not anonymous", "alice", "wrong", 401, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tc.user != "" {
				r.SetBasicAuth(tc.user, tc.password)
			}
			w := httptest.NewRecorder()
			out := c.ServeInbound(w, r)
			if tc.status != 0 {
				if out != nil || w.Code != tc.status {
					t.Fatalf("passed=%v code=%d, want %d", out != nil, w.Code, tc.status)
				}
				return
			}
			if pr, _ := identity.FromContext(out.Context()); pr == nil || pr.Name != tc.principal {
				t.Fatalf("principal %+v, want %q", pr, tc.principal)
			}
		})
	}
}

func TestHeader(t *testing.T) {
	tests := []struct {
		name   string
		params []string
		header string
		value  string
		err    string
	}{
		{"plain", []string{"name", "x-api-version", "value", "2"}, "X-Api-Version", "2", ""},
		{"alias", []string{"name", "Authorization", "value", "Key ${alias:api-key}"}, "Authorization", "Key k3y-s3cret", ""},
		{"empty value", []string{"name", "X-Empty", "value", ""}, "X-Empty", "", ""},
		{"missing name", []string{"value", "x"}, "", "", `param "name": is required`},
		{"missing value", []string{"name", "X-A"}, "", "", `param "value": is required`},
		{"bad name", []string{"name", "X A", "value", "x"}, "", "", `param "name"`},
		{"reserved", []string{"name", "x-forwarded-for", "value", "1.2.3.4"}, "", "", "managed by the gateway"},
		{"hop-by-hop", []string{"name", "Connection", "value", "close"}, "", "", "managed by the gateway"},
		{"unknown alias", []string{"name", "X-A", "value", "${alias:nope}"}, "", "", `alias "nope"`},
		{"CRLF from alias", []string{"name", "X-A", "value", "${alias:crlf}"}, "", "", "not a valid header value"},
		{"unknown param", []string{"name", "X-A", "value", "1", "vaule", "2"}, "", "", `param "vaule"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := build(t, p("custom", "header", tc.params...))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "Injected") {
					t.Fatalf("error leaks a secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			out := httptest.NewRequest("GET", "http://backend/", nil)
			c.RewriteOutbound(out, httptest.NewRequest("GET", "/", nil))
			if got, ok := out.Header[tc.header]; !ok || got[0] != tc.value {
				t.Fatalf("header %s = %q (present %v), want %q", tc.header, got, ok, tc.value)
			}
		})
	}
}

// default (package assertion) refuses what it does not implement, such as
// Knox's expression language, rather than ignoring it.
func TestDefaultRefusesUnknownParams(t *testing.T) {
	_, err := build(t, p("identity-assertion", "default", "expression.principal.mapping", "'bob'"))
	if err == nil || !strings.Contains(err.Error(), `param "expression.principal.mapping"`) {
		t.Fatalf("err %v", err)
	}
}

// Every provider name internal/topology/knox.go maps to from the Knox roles
// this package covers is registered, under its role.
func TestKnoxNamesRegistered(t *testing.T) {
	for _, rn := range [][2]string{
		{"authentication", "anonymous"}, {"federation", "client-cert"}, {"authentication", "client-cert"},
		{"identity-assertion", "default"}, {"identity-assertion", "concat"}, {"identity-assertion", "regex"},
		{"identity-assertion", "switch-case"}, {"identity-assertion", "hadoop-groups"},
		{"authorization", "acls"}, {"webappsec", "webappsec"}, {"custom", "header"}, {"custom", "deny-methods"},
	} {
		if _, ok := chain.Lookup(chain.Role(rn[0]), rn[1]); !ok {
			t.Errorf("%s/%s is not registered", rn[0], rn[1])
		}
	}
}
