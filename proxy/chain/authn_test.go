package chain_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/identity"
)

// script is an authenticator whose outcome its params say; it records that
// it was asked in the request's X-Asked header.
type script struct {
	name string
	o    chain.Outcome
}

func (s script) Authenticate(r *http.Request) chain.Outcome {
	r.Header.Add("X-Asked", s.name)
	return s.o
}

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func init() {
	chain.Register(chain.Factory{Name: "o-script", Role: chain.RoleAuthentication,
		New: func(_ context.Context, c chain.Config) (chain.Handler, error) {
			p := c.Params
			s := script{name: p["name"]}
			switch p["do"] {
			case "pass":
				s.o = chain.Pass(p["challenge"])
			case "redirect":
				s.o = chain.Redirect(p["location"])
			case "refuse":
				s.o = chain.Refuse(0, "", p["challenge"])
			case "unavailable":
				s.o = chain.Refuse(http.StatusServiceUnavailable, "authentication service unavailable", "")
			case "accept":
				pr := &identity.Principal{Name: s.name, CredentialID: p["id"]}
				if d, err := time.ParseDuration(p["expires"]); err == nil {
					pr.Expires = epoch.Add(d)
				}
				s.o = chain.Authenticate(pr)
				if h := p["header"]; h != "" {
					s.o.Header = http.Header{"Set-Cookie": {h}}
				}
			case "noname":
				s.o = chain.Authenticate(&identity.Principal{})
			}
			return s, nil
		}})
	// Registered once per test binary (the registry is global), so that
	// the tests using them can run more than once (-count).
	chain.Register(chain.Factory{Name: "o-inbound-authn", Role: chain.RoleAuthentication,
		New: func(context.Context, chain.Config) (chain.Handler, error) { return tag{name: "x"}, nil }})
	chain.Register(chain.Factory{Name: "o-authn-custom", Role: chain.RoleCustom,
		New: func(context.Context, chain.Config) (chain.Handler, error) { return script{}, nil }})
	chain.Register(chain.Factory{Name: "o-creds", Role: chain.RoleAuthentication,
		New: func(_ context.Context, c chain.Config) (chain.Handler, error) {
			creds := []identity.Credential{identity.Authorization}
			if n := c.Params["cookie"]; n != "" {
				creds = append(creds, identity.CookieCredential(n))
			}
			return credScript{creds: creds}, nil
		}})
}

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

type revoked map[string]bool

func (r revoked) Revoked(id string) bool { return r[id] }

func TestAuthenticationOutcomes(t *testing.T) {
	step := func(kv ...string) topology.Provider { return prov("authentication", "o-script", kv...) }
	basic := step("name", "basic", "do", "pass", "challenge", `Basic realm="t"`)
	negotiate := step("name", "kerberos", "do", "pass", "challenge", "Negotiate")
	sso := step("name", "sso", "do", "redirect", "location", "https://login.example/?from=t")
	sso2 := step("name", "sso2", "do", "redirect", "location", "https://other.example/")
	jwt := step("name", "jwt", "do", "refuse", "challenge", `Bearer error="invalid_token"`)
	ldapDown := step("name", "ldap", "do", "unavailable")
	alice := step("name", "alice", "do", "accept")
	tests := []struct {
		name      string
		providers []topology.Provider
		status    int // 0: the chain continues
		principal string
		asked     []string
		challenge []string
		location  string
		body      string
	}{
		{"not mine falls through", []topology.Provider{basic, negotiate, alice}, 0, "alice",
			[]string{"basic", "kerberos", "alice"}, nil, "", ""},
		{"the first to authenticate ends the stage", []topology.Provider{alice, step("name", "bob", "do", "accept")}, 0, "alice",
			[]string{"alice"}, nil, "", ""},
		{"refused stops: no fall-through to weaker providers", []topology.Provider{basic, jwt, alice}, 401, "",
			[]string{"basic", "jwt"}, []string{`Bearer error="invalid_token"`}, "", `{"error":"invalid credentials"}`},
		{"unavailable: 503 without a challenge", []topology.Provider{ldapDown, alice}, 503, "",
			[]string{"ldap"}, nil, "", `{"error":"authentication service unavailable"}`},
		{"nobody: one 401 with every challenge", []topology.Provider{negotiate, basic}, 401, "",
			[]string{"kerberos", "basic"}, []string{"Negotiate", `Basic realm="t"`}, "", `{"error":"authentication required"}`},
		{"the same challenge once", []topology.Provider{basic, step("name", "ldap", "do", "pass", "challenge", `Basic realm="t"`)}, 401, "",
			[]string{"basic", "ldap"}, []string{`Basic realm="t"`}, "", `{"error":"authentication required"}`},
		{"redirect wins when asked: the first in chain order", []topology.Provider{negotiate, sso, basic, sso2}, 302, "",
			[]string{"kerberos", "sso", "basic", "sso2"}, nil, "https://login.example/?from=t", ""},
		{"a principal without a name: 500", []topology.Provider{step("name", "broken", "do", "noname"), alice}, 500, "",
			[]string{"broken"}, nil, "", `{"error":"internal error"}`},
		{"revoked credential", []topology.Provider{step("name", "tok", "do", "accept", "id", "jti-1"), alice}, 401, "",
			[]string{"tok"}, nil, "", `{"error":"credential revoked"}`},
		{"a credential not revoked passes", []topology.Provider{step("name", "tok", "do", "accept", "id", "jti-2")}, 0, "tok",
			[]string{"tok"}, nil, "", ""},
		{"expired credential (by the host's clock)", []topology.Provider{step("name", "tok", "do", "accept", "expires", "-1s")}, 401, "",
			[]string{"tok"}, nil, "", `{"error":"credential expired"}`},
		{"credential valid until later", []topology.Provider{step("name", "tok", "do", "accept", "expires", "1s")}, 0, "tok",
			[]string{"tok"}, nil, "", ""},
	}
	host := chain.Host{Clock: fixedClock(epoch), Revocations: revoked{"jti-1": true}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := chain.BuildWith(context.Background(), "t", tc.providers, chain.Options{Host: host})
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			w := httptest.NewRecorder()
			out := c.ServeInbound(w, r)
			if asked := r.Header.Values("X-Asked"); !slices.Equal(asked, tc.asked) {
				t.Errorf("asked %q, want %q", asked, tc.asked)
			}
			if tc.status == 0 {
				if out == nil {
					t.Fatalf("the chain answered %d %s", w.Code, w.Body)
				}
				if p, ok := identity.FromContext(out.Context()); !ok || p.Name != tc.principal {
					t.Fatalf("principal %+v, want %q", p, tc.principal)
				}
				return
			}
			if out != nil || w.Code != tc.status {
				t.Fatalf("status %d (continued: %v), want %d", w.Code, out != nil, tc.status)
			}
			if got := w.Header().Values("WWW-Authenticate"); !slices.Equal(got, tc.challenge) {
				t.Errorf("WWW-Authenticate %q, want %q", got, tc.challenge)
			}
			if got := w.Header().Get("Location"); got != tc.location {
				t.Errorf("Location %q, want %q", got, tc.location)
			}
			if got := strings.TrimSpace(w.Body.String()); got != tc.body {
				t.Errorf("body %s, want %s", got, tc.body)
			}
		})
	}
}

// Authentication and federation handlers speak the Authenticator contract
// only; other roles never do.
func TestAuthenticatorContract(t *testing.T) {
	for _, tc := range []struct {
		p    topology.Provider
		want string
	}{
		{prov("authentication", "o-inbound-authn"), "must implement Authenticator, and not Inbound"},
		{prov("custom", "o-authn-custom"), "implements Authenticator outside the authentication and federation roles"},
	} {
		_, err := chain.Build(context.Background(), "t", []topology.Provider{tc.p}, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.p.Name, err, tc.want)
		}
	}
}

// credScript reads the Authorization header and, named by its params, a
// cookie.
type credScript struct{ creds []identity.Credential }

func (credScript) Authenticate(*http.Request) chain.Outcome { return chain.Pass("") }
func (s credScript) Credentials() []identity.Credential     { return s.creds }

// The chain knows every credential its authenticators read, once each, in
// chain order, so that the gateway removes them whichever one
// authenticated the request.
func TestChainCredentials(t *testing.T) {
	c, err := chain.Build(context.Background(), "t", []topology.Provider{
		prov("authentication", "o-creds"), prov("authentication", "o-creds", "cookie", "sso"),
		prov("authentication", "o-script", "do", "accept", "name", "x"),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []identity.Credential{identity.Authorization, identity.CookieCredential("sso")}
	if got := c.Credentials(); !slices.Equal(got, want) {
		t.Fatalf("credentials %v, want %v", got, want)
	}
}

// An authenticated outcome's Header reaches the client's response (a
// Kerberos mutual-authentication token, a session cookie); a refused
// request's response gets none of it.
func TestAuthenticatedHeader(t *testing.T) {
	for _, tc := range []struct {
		expires string
		want    []string
	}{
		{"1h", []string{"a=1", "s=2"}}, // added to what is there
		{"-1h", nil},                   // expired: refused by the chain
	} {
		c, err := chain.BuildWith(context.Background(), "t", []topology.Provider{
			{Role: "authentication", Name: "o-script", Params: map[string]string{"name": "alice", "do": "accept", "header": "s=2", "expires": tc.expires}},
		}, chain.Options{Host: chain.Host{Clock: fixedClock(epoch)}})
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		w.Header().Set("Set-Cookie", "a=1")
		out := c.ServeInbound(w, httptest.NewRequest(http.MethodGet, "/", nil))
		got := w.Header().Values("Set-Cookie")
		if tc.want == nil {
			if out != nil || len(got) != 1 {
				t.Fatalf("expires %s: passed %t, Set-Cookie %q", tc.expires, out != nil, got)
			}
			continue
		}
		if out == nil || !slices.Equal(got, tc.want) {
			t.Fatalf("expires %s: passed %t, Set-Cookie %q", tc.expires, out != nil, got)
		}
	}
}
