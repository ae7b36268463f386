package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/securegw/gateway/internal/pki"
)

// The proxy's client-certificate authentication verifies against a managed
// truststore, and adding or removing a CA takes effect without a restart.
func TestProxyClientCertificatesFollowTheTruststore(t *testing.T) {
	e := newEnv(t)
	cfg := strings.Replace(testConfigYAML, "proxy:\n", "proxy:\n  client_auth: required\n  client_truststore: clients\n", 1)
	if err := os.WriteFile(e.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	d := e.start()

	ca, err := pki.NewCA("client CA", pki.DefaultKeySpec(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.IssueClient("alice", nil, pki.DefaultKeySpec(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	alice, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "client-ca.pem")
	if err := os.WriteFile(caFile, ca.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	backend := echoHeaderBackend(t, "X-Forwarded-User")
	e.mustCtl("topology", "deploy", writeFile(t, "mtls.yaml", fmt.Sprintf(`name: mtls
providers:
  - role: authentication
    name: client-cert
  - role: identity-assertion
    name: default
    params:
      header: X-Forwarded-User
services:
  - path: echo
    urls: [%q]
`, backend)))

	gatewayCA, err := os.ReadFile(filepath.Join(e.dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(gatewayCA)
	get := func(certs ...tls.Certificate) (string, error) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "localhost", Certificates: certs}}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + d.proxy + "/gateway/mtls/echo/")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return fmt.Sprintf("%d %s", resp.StatusCode, b), nil
	}

	if got, err := get(alice); err == nil {
		t.Fatalf("before the truststore exists a client certificate passed: %s", got)
	}
	e.mustCtl("truststore", "add", "clients", caFile)
	if got, err := get(alice); err != nil || got != "200 alice" {
		t.Fatalf("after adding the CA: %q %v", got, err)
	}
	if got, err := get(); err == nil {
		t.Fatalf("without a client certificate: %s", got)
	}
	fp := pki.Fingerprint(ca.Cert)
	e.mustCtl("truststore", "remove", "clients", fp)
	if got, err := get(alice); err == nil {
		t.Fatalf("after removing the CA a client certificate passed: %s", got)
	}
}

// echoHeaderBackend answers with the value of one request header.
func echoHeaderBackend(t *testing.T, header string) string {
	t.Helper()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.Header.Get(header))
	})}
	ln := listen(t)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}
