package kerberos_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/jcmturner/goidentity/v6"
	"github.com/jcmturner/gokrb5/v8/service"
	"github.com/jcmturner/gokrb5/v8/spnego"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy"
	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/providers/kerberos/krbtest"
)

// kerberizedBackend is a service that takes only SPNEGO (gokrb5's server
// side, HTTP/127.0.0.1's keytab) and records who called and the doAs.
type kerberizedBackend struct {
	url  string
	mu   sync.Mutex
	seen []string // "caller doAs=user authz=…"
}

func startKerberizedBackend(t *testing.T, r *realm) *kerberizedBackend {
	t.Helper()
	kt := krbtest.Keytab(t, r.kdc.AddService(t, "HTTP/127.0.0.1"))
	b := &kerberizedBackend{}
	inner := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		id := goidentity.FromHTTPRequestContext(req)
		b.mu.Lock()
		b.seen = append(b.seen, id.UserName()+" doAs="+req.URL.Query().Get("doAs"))
		b.mu.Unlock()
		w.Write([]byte("ok"))
	})
	srv := httptest.NewServer(spnego.SPNEGOKRB5Authenticate(inner, kt, service.DecodePAC(false)))
	t.Cleanup(srv.Close)
	b.url = srv.URL
	return b
}

func (b *kerberizedBackend) calls() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.seen...)
}

// The gateway authenticates to a Kerberized backend with its own keytab
// (knox/gateway) and passes the end user, who came in with Negotiate, as
// doAs; the user's own token never reaches the backend.
func TestOutboundSPNEGOWithDoAs(t *testing.T) {
	r := newRealm(t)
	r.aliases["gw-keytab"] = r.kdc.AddService(t, "knox/gateway")
	be := startKerberizedBackend(t, r)

	p, err := proxy.New(proxy.Config{Resolver: aliasResolver(r.aliases)})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(p)
	t.Cleanup(func() { front.Close(); p.Close() })
	c, err := p.Compile(context.Background(), &topology.Topology{Name: "t",
		Providers: []topology.Provider{
			{Role: "authentication", Name: "kerberos", Params: r.params(nil)},
			{Role: "identity-assertion", Name: "default", Params: map[string]string{"query_param": "doAs"}},
			{Role: "dispatch", Name: "kerberos", Params: map[string]string{
				"principal": "knox/gateway", "keytab": "${alias:gw-keytab}", "kdc": r.kdc.Addr}},
		},
		Services: []topology.Service{{Path: "hdfs", URLs: []string{be.url}}}})
	if err != nil {
		t.Fatal(err)
	}
	p.Apply(c)
	url := strings.Replace(front.URL, "127.0.0.1", "localhost", 1) + "/gateway/t/hdfs/v1/?op=LISTSTATUS&doAs=mallory"
	cl := r.kdc.Login(t, "alice", r.alice)
	for range 2 { // the second request uses the cached service ticket
		resp, err := spnego.NewClient(cl, nil, "HTTP/localhost").Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if got := be.calls(); len(got) != 2 || got[0] != "knox/gateway doAs=alice" || got[1] != got[0] {
		t.Fatalf("the backend saw %q", got)
	}
}

// Deploy-time errors of the dispatch provider; a KDC that is down does not
// stop the deploy, and the backend's request then goes without a token.
func TestOutboundConfig(t *testing.T) {
	r := newRealm(t)
	r.aliases["gw-keytab"] = r.kdc.AddService(t, "knox/gateway")
	base := map[string]string{"principal": "knox/gateway", "keytab": "${alias:gw-keytab}", "kdc": r.kdc.Addr}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range base {
			m[a] = b
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		params map[string]string
		err    string
	}{
		{"no kdc", with("kdc", ""), `param "kdc": is required`},
		{"kdc without port", with("kdc", "kdc.example.test"), "is not host:port"},
		{"kdc injecting config", with("kdc", "a:88\n[realms]"), "is not host:port"},
		{"principal not in keytab", with("principal", "other/gateway"), "holds no AES key"},
		{"keytab alias missing", with("keytab", "${alias:nope}"), `alias "nope"`},
		{"bad spn", with("spn", "HTTP/a b"), `param "spn"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.build(t, chain.Host{}, topology.Provider{Role: "dispatch", Name: "kerberos", Params: tc.params})
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err %v; want %q", err, tc.err)
			}
		})
	}
	r.kdc.Stop(t)
	c, err := r.build(t, chain.Host{}, topology.Provider{Role: "dispatch", Name: "kerberos", Params: base})
	if err != nil {
		t.Fatalf("deploy with the KDC down: %v", err)
	}
	out := httptest.NewRequest(http.MethodGet, "http://backend.test/x", nil)
	out.Header.Set("Authorization", "Negotiate client-token")
	c.RewriteOutbound(out, out)
	if a := out.Header.Get("Authorization"); a != "" {
		t.Fatalf("KDC down: Authorization %q", a)
	}
	if !strings.Contains(r.logs.String(), "no ticket for the backend") {
		t.Fatalf("log: %s", r.logs.String())
	}
}
