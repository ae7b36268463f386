package proxy_test

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/securegw/gateway/internal/testpki"
	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy"
)

// connBackend counts the connections a backend accepts and closes.
type connBackend struct {
	*httptest.Server
	opened, closed atomic.Int64
	clientCN       atomic.Value
}

func newConnBackend(t *testing.T, tlsCfg *tls.Config, h http.HandlerFunc) *connBackend {
	t.Helper()
	b := &connBackend{}
	if h == nil {
		h = func(w http.ResponseWriter, r *http.Request) {
			if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
				b.clientCN.Store(r.TLS.PeerCertificates[0].Subject.CommonName)
			}
			io.WriteString(w, "ok")
		}
	}
	b.Server = httptest.NewUnstartedServer(h)
	b.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			b.opened.Add(1)
		case http.StateClosed:
			b.closed.Add(1)
		}
	}
	b.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake failures are expected
	if tlsCfg != nil {
		b.TLS = tlsCfg
		b.StartTLS()
	} else {
		b.Start()
	}
	t.Cleanup(b.Close)
	return b
}

// getDone sends a request and waits until the proxy finished it (its
// access log line is written), so the backend connection is back in the
// transport's idle pool before the next request.
func (e *env) getDone(path string) int {
	e.t.Helper()
	before := strings.Count(e.logs.String(), `"msg":"access"`)
	resp, _ := e.get(path)
	eventually(e.t, 5*time.Second, "access log", func() bool {
		return strings.Count(e.logs.String(), `"msg":"access"`) > before
	})
	return resp.StatusCode
}

// A redeploy keeps the keep-alive pools of unchanged backends; a backend
// no live topology uses any more has its connections closed.
func TestTransportsSurviveRedeploys(t *testing.T) {
	e := newEnv(t, proxyConfig())
	shared := newConnBackend(t, nil, nil)
	other := newBackend(t, nil)
	e.deploy(topo("t", svc("svc", shared.URL)))
	e.deploy(topo("u", svc("svc", shared.URL+"/u")))
	for i := 0; i < 10; i++ {
		if code := e.getDone("/gateway/t/svc/"); code != 200 {
			t.Fatalf("status %d", code)
		}
		// Redeploy t and u, and an unrelated topology; add and remove another.
		e.deploy(topo("t", svc("svc", shared.URL), svc("extra", other.URL)))
		e.deploy(topo("u", svc("svc", shared.URL+"/u")))
		e.deploy(topo("x", svc("svc", other.URL)))
		e.p.Remove("x")
		if code := e.getDone("/gateway/u/svc/"); code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	if o, c := shared.opened.Load(), shared.closed.Load(); o != 1 || c != 0 {
		t.Fatalf("backend connections: %d opened, %d closed; want 1 reused across 40 redeploys", o, c)
	}
	e.p.Remove("t") // u still uses the transport
	if code := e.getDone("/gateway/u/svc/"); code != 200 || shared.opened.Load() != 1 || shared.closed.Load() != 0 {
		t.Fatalf("after removing one user: %d opened, %d closed", shared.opened.Load(), shared.closed.Load())
	}
	e.p.Remove("u")
	eventually(t, 5*time.Second, "idle connection closed", func() bool { return shared.closed.Load() == 1 })
}

func TestBackendTLS(t *testing.T) {
	ca := testpki.NewCA(t, "backend CA")
	good := newConnBackend(t, &tls.Config{Certificates: []tls.Certificate{ca.Server(t, "127.0.0.1", "localhost").TLS}}, nil)
	wrongName := newConnBackend(t, &tls.Config{Certificates: []tls.Certificate{ca.Server(t, "other.example").TLS}}, nil)
	var sni atomic.Value
	sniBackend := newConnBackend(t, &tls.Config{
		Certificates: []tls.Certificate{ca.Server(t, "localhost").TLS},
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			sni.Store(h.ServerName)
			return nil, nil
		},
	}, nil)
	_, sniPort, _ := net.SplitHostPort(sniBackend.Listener.Addr().String())
	tests := []struct {
		name     string
		roots    bool // BackendRoots = the CA
		url      string
		dispatch *topology.Dispatch
		status   int
		warning  string
	}{
		{"verified", true, good.URL, nil, 200, ""},
		{"system roots do not know the CA", false, good.URL, nil, 502, ""},
		{"hostname verified", true, wrongName.URL, nil, 502, ""},
		{"per-service truststore", false, good.URL, &topology.Dispatch{Truststore: "ca"}, 200, ""},
		{"insecure per service", false, wrongName.URL, &topology.Dispatch{InsecureSkipVerify: true}, 200, "insecure_skip_verify"},
		{"SNI", true, "https://localhost:" + sniPort, nil, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := proxy.Config{Truststores: truststores{"ca": ca.PEM}}
			if tc.roots {
				cfg.BackendRoots = ca.Pool()
			}
			e := newEnv(t, cfg)
			s := svc("svc", tc.url)
			s.Dispatch = tc.dispatch
			c := e.deploy(topo("t", s))
			resp, body := e.get("/gateway/t/svc/")
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d %s", resp.StatusCode, body)
			}
			w := strings.Join(c.Warnings(), "\n")
			if (tc.warning == "") != (w == "") || !strings.Contains(w, tc.warning) {
				t.Fatalf("warnings %q, want %q", w, tc.warning)
			}
		})
	}
	if got, _ := sni.Load().(string); got != "localhost" {
		t.Fatalf("SNI %q", got)
	}
}

func TestTwoWayTLS(t *testing.T) {
	serverCA := testpki.NewCA(t, "backend CA")
	clientCA := testpki.NewCA(t, "gateway client CA")
	otherCA := testpki.NewCA(t, "someone else")
	b := newConnBackend(t, &tls.Config{
		Certificates: []tls.Certificate{serverCA.Server(t, "127.0.0.1").TLS},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientCA.Pool(),
	}, nil)
	gw := clientCA.Client(t, "gateway-1")
	stranger := otherCA.Client(t, "stranger")
	sec := secrets{
		"t/gw-cert":  string(gw.CertPEM) + string(gw.KeyPEM),
		"t/stranger": string(stranger.CertPEM) + string(stranger.KeyPEM),
		"t/garbage":  "not a PEM block: hunter2",
	}
	tests := []struct {
		name     string
		dispatch *topology.Dispatch
		status   int
		compile  string // compile error
	}{
		{"client certificate", &topology.Dispatch{UseTwoWayTLS: true, ClientCertificate: "gw-cert"}, 200, ""},
		{"no client certificate", nil, 502, ""},
		{"certificate of another CA", &topology.Dispatch{UseTwoWayTLS: true, ClientCertificate: "stranger"}, 502, ""},
		{"alias missing", &topology.Dispatch{UseTwoWayTLS: true, ClientCertificate: "nope"}, 0, `service "svc": dispatch.client_certificate: alias "nope"`},
		{"alias not PEM", &topology.Dispatch{UseTwoWayTLS: true, ClientCertificate: "garbage"}, 0, "not a PEM certificate and private key"},
		{"no alias named", &topology.Dispatch{UseTwoWayTLS: true}, 0, "dispatch.client_certificate: use_two_way_tls needs a client certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, proxy.Config{BackendRoots: serverCA.Pool(), Resolver: sec})
			s := svc("svc", b.URL)
			s.Dispatch = tc.dispatch
			c, err := e.p.Compile(context.Background(), topo("t", s))
			if tc.compile != "" {
				if err == nil || !strings.Contains(err.Error(), tc.compile) || strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("compile error %v, want %q (and no secret)", err, tc.compile)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			e.p.Apply(c)
			resp, body := e.get("/gateway/t/svc/")
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d %s", resp.StatusCode, body)
			}
			if tc.status == 200 && b.clientCN.Load() != "gateway-1" {
				t.Fatalf("backend saw client %v", b.clientCN.Load())
			}
		})
	}
}
