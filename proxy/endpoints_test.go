package proxy_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/identity"
)

// testEndpoints serves endpoints of its own, as an SSO or token provider
// will: {base}/login (public) and {base}/whoami (after the chain); its
// params may ask for a bad or duplicate registration.
type testEndpoints struct{ eps []chain.Endpoint }

func (t testEndpoints) ServeInbound(_ http.ResponseWriter, r *http.Request) *http.Request { return r }
func (t testEndpoints) Endpoints() []chain.Endpoint                                       { return t.eps }

func init() {
	chain.Register(chain.Factory{Name: "test-endpoints", Role: chain.RoleCustom,
		New: func(_ context.Context, c chain.Config) (chain.Handler, error) {
			base := c.Params["base"]
			login := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, authed := identity.FromContext(r.Context())
				fmt.Fprintf(w, "login page (principal: %v)", authed)
			})
			whoami := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				p, _ := identity.FromContext(r.Context())
				fmt.Fprint(w, "you are "+p.Name)
			})
			eps := []chain.Endpoint{{Path: base + "/login", Public: true, Handler: login}, {Path: base + "/whoami", Handler: whoami}}
			if extra := c.Params["extra"]; extra != "" {
				eps = append(eps, chain.Endpoint{Path: extra, Handler: whoami})
			}
			return testEndpoints{eps: eps}, nil
		}})
}

func TestGatewayServedEndpoints(t *testing.T) {
	e := newEnv(t, proxyConfig())
	b := newBackend(t, nil)
	providers := func(kv ...string) []topology.Provider {
		p := topology.Provider{Role: "custom", Name: "test-endpoints", Params: map[string]string{"base": "sso"}}
		for i := 0; i+1 < len(kv); i += 2 {
			p.Params[kv[i]] = kv[i+1]
		}
		return []topology.Provider{{Role: "authentication", Name: "test-auth"}, p}
	}
	e.deploy(&topology.Topology{Name: "t", Providers: providers(), Services: []topology.Service{svc("svc", b.URL)}})
	auth := []string{"X-Test-Token", "let-me-in", "X-Test-User", "alice"}
	tests := []struct {
		name   string
		path   string
		hdr    []string
		status int
		body   string
	}{
		{"public endpoint: served without the chain", "/gateway/t/sso/login", nil, 200, "login page (principal: false)"},
		{"endpoint after the chain: needs authentication", "/gateway/t/sso/whoami", nil, 401, `{"error":"authentication required"}`},
		{"endpoint after the chain: the principal", "/gateway/t/sso/whoami", auth, 200, "you are alice"},
		{"unknown path under a reserved segment", "/gateway/t/sso/other", auth, 404, `{"error":"no such route"}`},
		{"the reserved segment itself", "/gateway/t/sso", auth, 404, `{"error":"no such route"}`},
		{"the auth API is registered the same way", "/gateway/t/auth/api/v1/groups", auth, 200, `{"user":"alice","groups":[]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := b.count()
			resp, body := e.get(tc.path, tc.hdr...)
			if resp.StatusCode != tc.status || strings.TrimSpace(body) != tc.body {
				t.Fatalf("%d %s, want %d %s", resp.StatusCode, body, tc.status, tc.body)
			}
			if b.count() != n {
				t.Fatal("a gateway-served path reached the backend")
			}
		})
	}

	refused := []struct {
		name      string
		providers []topology.Provider
		services  []topology.Service
		want      string
	}{
		{"a service on a provider's endpoint path", providers(), []topology.Service{svc("sso/x", b.URL)},
			`service "sso/x": path "sso/x" is reserved`},
		{"a service on the auth API", providers(), []topology.Service{svc("auth", b.URL)},
			`services[0].path: path "auth" is reserved`},
		{"an endpoint registered twice", providers("extra", "sso/login"), []topology.Service{svc("svc", b.URL)},
			`endpoint "sso/login": registered twice`},
		{"an endpoint on the auth API's paths", providers("extra", "auth/api/v1/pre"), []topology.Service{svc("svc", b.URL)},
			`endpoint "auth/api/v1/pre": registered twice`},
		{"a bad endpoint path", providers("extra", "sso/../x"), []topology.Service{svc("svc", b.URL)},
			`endpoint path "sso/../x": bad segment ".."`},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.p.Compile(context.Background(), &topology.Topology{Name: "u", Providers: tc.providers, Services: tc.services})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}
