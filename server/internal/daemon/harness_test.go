package daemon

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/securegw/gateway/internal/pki"
	"github.com/securegw/gateway/internal/secrets"
	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
	"github.com/securegw/gateway/server/internal/config"
)

const testSecret = "correct horse battery staple, test only"

// testConfig is a loopback configuration with OS-chosen ports and fast KDF
// settings (allowed weak, as tests would otherwise spend their time there).
func testConfig(t *testing.T) config.Config {
	t.Helper()
	c := config.Default()
	c.DataDir = t.TempDir()
	c.Proxy.Listen = "127.0.0.1:0"
	c.Management.Listen = "127.0.0.1:0"
	c.Metrics.Listen = "127.0.0.1:0"
	c.Management.Principals = map[string][]string{
		"admin":  {"admin"},
		"ops":    {"operator"},
		"viewer": {"viewer"},
	}
	c.Management.ShutdownTimeout = config.Duration(5 * time.Second)
	c.Crypto = fastCrypto()
	return c
}

func fastCrypto() secrets.Settings {
	s := secrets.DefaultSettings()
	s.KDF.MemoryKiB = 8 * 1024
	s.KDF.Time = 1
	s.KDF.Threads = 1
	s.AllowWeak = true
	return s
}

func secretFile(t *testing.T, secret string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "master")
	if err := os.WriteFile(p, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// testGateway is a daemon running in-process.
type testGateway struct {
	cfg    config.Config
	secret string
	addrs  Addrs
	cancel context.CancelFunc
	done   chan error
}

// initGateway initializes a data dir and returns its config.
func initGateway(t *testing.T) (config.Config, string) {
	t.Helper()
	c := testConfig(t)
	o := DefaultInitOptions(c)
	o.Secret = SecretSource{File: secretFile(t, testSecret)}
	if err := Init(context.Background(), o); err != nil {
		t.Fatalf("init: %v", err)
	}
	return c, testSecret
}

// startGateway serves c until the test ends.
func startGateway(t *testing.T, c config.Config, secret string) *testGateway {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	g := &testGateway{cfg: c, secret: secret, cancel: cancel, done: make(chan error, 1)}
	ready := make(chan Addrs, 1)
	go func() {
		g.done <- Serve(ctx, ServeOptions{
			Config:  c,
			Secret:  SecretSource{File: secretFile(t, secret)},
			Version: "test",
			Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
			Ready:   func(a Addrs) { ready <- a },
		})
	}()
	select {
	case g.addrs = <-ready:
	case err := <-g.done:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("gatewayd did not become ready")
	}
	t.Cleanup(func() { g.stop(t) })
	return g
}

func (g *testGateway) stop(t *testing.T) {
	t.Helper()
	if g.cancel == nil {
		return
	}
	g.cancel()
	g.cancel = nil
	select {
	case err := <-g.done:
		if err != nil {
			t.Errorf("serve returned: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Error("gatewayd did not stop")
	}
}

// clientCert issues a client certificate from the data dir's admin CA. It
// must run while the daemon is stopped (the store is locked while serving).
func clientCert(t *testing.T, c config.Config, secret, cn string) tls.Certificate {
	t.Helper()
	st, err := openStore(c, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	verifier, err := st.GetMeta(ctx, metaVerifier)
	if err != nil {
		t.Fatal(err)
	}
	kr, _, err := secrets.Unlock([]byte(secret), verifier, c.Crypto)
	if err != nil {
		t.Fatal(err)
	}
	defer kr.Close()
	certPEM, err := st.GetMeta(ctx, metaCACert)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := st.GetMeta(ctx, metaCAKey)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := kr.Open(metaCAKey, sealed)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.LoadAuthority(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	cp, kp, err := ca.IssueClient(cn, nil, pki.DefaultKeySpec(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(cp, kp)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// adminCert is the admin client certificate init wrote.
func adminCert(t *testing.T, c config.Config) tls.Certificate {
	t.Helper()
	l := Layout{c.DataDir}
	cert, err := tls.LoadX509KeyPair(l.AdminCert(), l.AdminKey())
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func caPool(t *testing.T, c config.Config) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(Layout{c.DataDir}.CA())
	if err != nil {
		t.Fatal(err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		t.Fatal("ca.pem holds no certificate")
	}
	return p
}

// dial connects to the management API with the given client certificates.
func (g *testGateway) dial(t *testing.T, certs ...tls.Certificate) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(g.addrs.Management, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
		RootCAs:      caPool(t, g.cfg),
		Certificates: certs,
		ServerName:   "localhost",
		MinVersion:   tls.VersionTLS12,
	})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func (g *testGateway) topologies(t *testing.T, cert tls.Certificate) gatewayv1.TopologyServiceClient {
	return gatewayv1.NewTopologyServiceClient(g.dial(t, cert))
}

// httpClient trusts the gateway's CA.
func (g *testGateway) httpClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: caPool(t, g.cfg), ServerName: "localhost"}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func (g *testGateway) url(path string) string { return "https://" + g.addrs.Proxy + path }
