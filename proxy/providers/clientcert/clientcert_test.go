package clientcert_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/securegw/gateway/internal/testpki"
	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy"
)

// gateway is a proxy behind a real TLS listener whose client truststore is
// clients, with one service, echo, whose backend records the asserted user.
type gateway struct {
	url     string
	roots   *x509.CertPool
	mu      sync.Mutex
	got     []http.Header
	backend *httptest.Server
}

func newGateway(t *testing.T, auth tls.ClientAuthType, clients *x509.CertPool, providers ...topology.Provider) *gateway {
	t.Helper()
	g := &gateway{}
	g.backend = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.got = append(g.got, r.Header.Clone())
		g.mu.Unlock()
	}))
	t.Cleanup(g.backend.Close)
	p, err := proxy.New(proxy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	providers = append(providers, topology.Provider{Role: "identity-assertion", Name: "default",
		Params: map[string]string{"header": "X-Forwarded-User", "groups_header": "X-Forwarded-Groups"}})
	c, err := p.Compile(context.Background(), &topology.Topology{Name: "t", Providers: providers,
		Services: []topology.Service{{Path: "echo", URLs: []string{g.backend.URL}}}})
	if err != nil {
		t.Fatal(err)
	}
	p.Apply(c)
	serverCA := testpki.NewCA(t, "server")
	front := httptest.NewUnstartedServer(p)
	front.TLS = &tls.Config{Certificates: []tls.Certificate{serverCA.Server(t, "127.0.0.1").TLS}, ClientAuth: auth, ClientCAs: clients}
	front.StartTLS()
	t.Cleanup(front.Close)
	g.url, g.roots = front.URL+"/gateway/t/echo/x", serverCA.Pool()
	return g
}

// get sends a request with cert (nil: none); err is a TLS or transport error.
func (g *gateway) get(cert *testpki.Leaf) (int, error) {
	cfg := &tls.Config{RootCAs: g.roots}
	if cert != nil {
		// Presented whatever CAs the server names (Go's client would
		// otherwise keep a certificate of another CA to itself).
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert.TLS, nil }
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	defer client.CloseIdleConnections()
	resp, err := client.Get(g.url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func (g *gateway) last() http.Header {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.got) == 0 {
		return nil
	}
	return g.got[len(g.got)-1]
}

func clientCert(params ...string) topology.Provider {
	pr := topology.Provider{Role: "federation", Name: "client-cert", Params: map[string]string{}}
	for i := 0; i+1 < len(params); i += 2 {
		pr.Params[params[i]] = params[i+1]
	}
	return pr
}

func TestClientCert(t *testing.T) {
	clients := testpki.NewCA(t, "clients")
	other := testpki.NewCA(t, "other")
	spiffe, _ := url.Parse("spiffe://example.org/ns/etl/sa/loader")
	full := clients.Issue(t, &x509.Certificate{
		Subject:        pkix.Name{CommonName: "alice", OrganizationalUnit: []string{"etl", "analysts"}, Organization: []string{"Example"}},
		EmailAddresses: []string{"alice@example.org", "a@example.org"},
		DNSNames:       []string{"loader.example.org"},
		URIs:           []*url.URL{spiffe},
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	bare := clients.Client(t, "bob")
	tests := []struct {
		name      string
		auth      tls.ClientAuthType
		providers []topology.Provider
		cert      *testpki.Leaf
		status    int // 0: TLS handshake refused
		user      string
		groups    string
	}{
		{"CN by default", tls.VerifyClientCertIfGiven, []topology.Provider{clientCert()}, full, 200, "alice", ""},
		{"Knox spelling and role", tls.RequireAndVerifyClientCert, []topology.Provider{{Role: "authentication", Name: "Client-Cert"}}, bare, 200, "bob", ""},
		{"first SAN email", tls.VerifyClientCertIfGiven, []topology.Provider{clientCert("principal_from", "san-email")}, full, 200, "alice@example.org", ""},
		{"SAN DNS", tls.VerifyClientCertIfGiven, []topology.Provider{clientCert("principal_from", "san-dns")}, full, 200, "loader.example.org", ""},
		{"SAN URI", tls.VerifyClientCertIfGiven, []topology.Provider{clientCert("principal_from", "SAN-URI")}, full, 200, spiffe.String(), ""},
		{"DN", tls.VerifyClientCertIfGiven, []topology.Provider{clientCert("principal_from", "dn")}, full, 200, "CN=alice,OU=etl+OU=analysts,O=Example", ""},
		{"groups from OU", tls.VerifyClientCertIfGiven, []topology.Provider{clientCert("groups_from_ou", "true")}, full, 200, "alice", "etl,analysts"},
		{"asked-for SAN missing", tls.VerifyClientCertIfGiven, []topology.Provider{clientCert("principal_from", "san-email")}, bare, 401, "", ""},
		{"no certificate", tls.VerifyClientCertIfGiven, []topology.Provider{clientCert()}, nil, 401, "", ""},
		{"no certificate, optional, anonymous next", tls.VerifyClientCertIfGiven,
			[]topology.Provider{clientCert("optional", "true"), {Role: "authentication", Name: "anonymous"}}, nil, 200, "anonymous", ""},
		{"certificate wins over anonymous", tls.VerifyClientCertIfGiven,
			[]topology.Provider{{Role: "authentication", Name: "anonymous"}, clientCert("optional", "true")}, bare, 200, "bob", ""},
		{"no certificate, optional, nothing next", tls.VerifyClientCertIfGiven, []topology.Provider{clientCert("optional", "true")}, nil, 401, "", ""},
		{"other CA: handshake refused", tls.VerifyClientCertIfGiven, []topology.Provider{clientCert()}, other.Client(t, "mallory"), 0, "", ""},
		{"presented but not verified: not trusted", tls.RequestClientCert, []topology.Provider{clientCert()}, other.Client(t, "mallory"), 401, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newGateway(t, tc.auth, clients.Pool(), tc.providers...)
			status, err := g.get(tc.cert)
			if tc.status == 0 {
				if err == nil || !strings.Contains(err.Error(), "tls") {
					t.Fatalf("status %d, err %v: want a TLS error", status, err)
				}
				return
			}
			if err != nil || status != tc.status {
				t.Fatalf("status %d, err %v; want %d", status, err, tc.status)
			}
			h := g.last()
			if tc.status != 200 {
				if h != nil {
					t.Fatal("the backend was called")
				}
				return
			}
			if got := h.Values("X-Forwarded-User"); len(got) != 1 || got[0] != tc.user {
				t.Fatalf("user %q, want %q", got, tc.user)
			}
			if got := h.Get("X-Forwarded-Groups"); got != tc.groups {
				t.Fatalf("groups %q, want %q", got, tc.groups)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	p, err := proxy.New(proxy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, tc := range []struct {
		params []string
		want   string
	}{
		{[]string{"principal_from", "upn"}, `param "principal_from": "upn": must be cn, dn, san-email, san-dns or san-uri`},
		{[]string{"groups_from_ou", "ou"}, `param "groups_from_ou": must be true or false`},
		{[]string{"optional", "maybe"}, `param "optional"`},
		{[]string{"truststore", "x"}, `param "truststore": is not a parameter`},
	} {
		_, err := p.Compile(context.Background(), &topology.Topology{Name: "t", Providers: []topology.Provider{clientCert(tc.params...)},
			Services: []topology.Service{{Path: "echo", URLs: []string{"http://127.0.0.1:1"}}}})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `provider "client-cert"`) {
			t.Errorf("err %v, want %q", err, tc.want)
		}
	}
}
