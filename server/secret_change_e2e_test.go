package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/securegw/gateway/internal/pki"
)

// A changed alias reaches the live routes at once, an alias in use cannot
// be deleted, and redeploying an unchanged document publishes it again.
func TestSecretChangesReachLiveRoutes(t *testing.T) {
	e := newEnv(t)
	d := e.start()
	hc := e.httpClient()
	backend := headerBackend(t)
	url := "https://" + d.proxy + "/gateway/rot/echo/"

	e.mustCtlIn("OLD-token-value\n", "alias", "create", "tok")
	e.mustCtl("topology", "deploy", writeFile(t, "rot.yaml", aliasTopologyDoc("rot", "tok", backend)))
	if _, body := httpGet(t, hc, url); body != "OLD-token-value" {
		t.Fatalf("before rotation the backend got %q", body)
	}

	// Rotating a leaked secret: the next request carries the new value.
	e.mustCtlIn("NEW-token-value\n", "alias", "create", "tok", "--overwrite")
	if _, body := httpGet(t, hc, url); body != "NEW-token-value" {
		t.Fatalf("after overwriting the alias the backend got %q", body)
	}

	// An alias that a deployed topology uses is not deleted.
	_, errOut, code := e.ctl("", "alias", "delete", "tok")
	if code == 0 || !strings.Contains(errOut, "rot") || strings.Contains(errOut, "revision mismatch") {
		t.Fatalf("deleting an alias in use: exit %d, %q", code, errOut)
	}
	if _, body := httpGet(t, hc, url); body != "NEW-token-value" {
		t.Fatalf("after the refused delete the backend got %q", body)
	}

	// Once no topology uses it, it can go.
	e.mustCtl("topology", "delete", "rot")
	e.mustCtl("alias", "delete", "tok")
}

// Removing the CA a service's dispatch.truststore relies on withdraws the
// route at once (fail closed), with an error that says so; adding it back
// and redeploying serves it again.
func TestTruststoreRemovalFailsClosed(t *testing.T) {
	e := newEnv(t)
	d := e.start()
	ca, err := pki.NewCA("backend CA", pki.DefaultKeySpec(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.IssueServer([]string{"127.0.0.1", "localhost"}, pki.DefaultKeySpec(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	ln := listen(t)
	srv := &http.Server{
		Handler:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "tls backend") }),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	caFile := writeFile(t, "backend-ca.pem", string(ca.CertPEM()))
	e.mustCtl("truststore", "add", "backends", caFile)
	e.mustCtl("topology", "deploy", writeFile(t, "tls.yaml", fmt.Sprintf(`name: tlsb
providers:
  - {role: authentication, name: anonymous}
services:
  - path: echo
    urls: ["https://%s"]
    dispatch:
      truststore: backends
`, ln.Addr())))
	hc := e.httpClient()
	url := "https://" + d.proxy + "/gateway/tlsb/echo/"
	if code, body := httpGet(t, hc, url); code != 200 || body != "tls backend" {
		t.Fatalf("with the CA trusted: %d %q", code, body)
	}

	_, errOut, code := e.ctl("", "truststore", "remove", "backends", pki.Fingerprint(ca.Cert))
	if code == 0 || !strings.Contains(errOut, "tlsb") || !strings.Contains(errOut, "no longer served") {
		t.Fatalf("removing the CA in use: exit %d, %q", code, errOut)
	}
	if code, body := httpGet(t, hc, url); code != http.StatusNotFound {
		t.Fatalf("after removing the CA the route still answers: %d %q", code, body)
	}

	e.mustCtl("truststore", "add", "backends", caFile)
	e.mustCtl("topology", "deploy", writeFile(t, "tls2.yaml", fmt.Sprintf(`name: tlsb
providers:
  - {role: authentication, name: anonymous}
services:
  - path: echo
    urls: ["https://%s"]
    dispatch:
      truststore: backends
`, ln.Addr())))
	if code, body := httpGet(t, hc, url); code != 200 || body != "tls backend" {
		t.Fatalf("after restoring the CA: %d %q", code, body)
	}
}
