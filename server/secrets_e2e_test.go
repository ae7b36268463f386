package main

// End-to-end test of aliases, certificates, truststores and master-secret
// rotation through the real gatewayd and gatewayctl (helpers in e2e_test.go).

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// headerBackend answers with the X-Api-Key header it received.
func headerBackend(t *testing.T) string {
	t.Helper()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.Header.Get("X-Api-Key"))
	})}
	ln := listen(t)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// aliasTopologyDoc sends ${alias:ALIAS} to the backend as X-Api-Key.
func aliasTopologyDoc(name, alias, url string) string {
	return fmt.Sprintf(`name: %s
providers:
  - role: authentication
    name: anonymous
  - role: identity-assertion
    name: default
  - role: custom
    name: header
    params:
      name: X-Api-Key
      value: ${alias:%s}
services:
  - path: echo
    urls: [%q]
`, name, alias, url)
}

// servedFingerprint returns the SHA-256 of the certificate the proxy
// presents on a new connection.
func (e *env) servedFingerprint(addr string) string {
	e.t.Helper()
	ca, err := os.ReadFile(filepath.Join(e.dir, "ca.pem"))
	if err != nil {
		e.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		e.t.Fatalf("TLS to %s: %v", addr, err)
	}
	defer conn.Close()
	sum := sha256.Sum256(conn.ConnectionState().PeerCertificates[0].Raw)
	return hex.EncodeToString(sum[:])
}

func (d *gwProcess) stop(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := d.wait(t, 20*time.Second); err != nil {
		t.Fatalf("gatewayd exit: %v\n%s", err, d.logs())
	}
}

func TestSecretsEndToEnd(t *testing.T) {
	e := newEnv(t)
	d := e.start()
	hc := e.httpClient()
	backend := headerBackend(t)
	secretValues := []string{"gateway-KEY-0001", "topology-KEY-0002"}

	// Aliases: values from stdin, never printed; topology scope first.
	e.mustCtlIn(secretValues[0]+"\n", "alias", "create", "api-key")
	e.mustCtlIn(secretValues[1]+"\n", "alias", "create", "api-key", "--topology", "own")
	_, errOut, code := e.ctl("again\n", "alias", "create", "api-key")
	if code == 0 || !strings.Contains(errOut, "already exists") {
		t.Fatalf("duplicate alias: exit %d, %q", code, errOut)
	}
	_, errOut, code = e.ctl("\n", "alias", "create", "empty")
	if code == 0 {
		t.Fatalf("empty alias value accepted: %q", errOut)
	}
	e.mustCtl("topology", "deploy", writeFile(t, "shared.yaml", aliasTopologyDoc("shared", "api-key", backend)))
	e.mustCtl("topology", "deploy", writeFile(t, "own.yaml", aliasTopologyDoc("own", "api-key", backend)))
	if _, body := httpGet(t, hc, "https://"+d.proxy+"/gateway/shared/echo/"); body != secretValues[0] {
		t.Fatal("topology without its own alias did not get the gateway's value")
	}
	if _, body := httpGet(t, hc, "https://"+d.proxy+"/gateway/own/echo/"); body != secretValues[1] {
		t.Fatal("topology with its own alias did not get it")
	}
	_, errOut, code = e.ctl("", "topology", "deploy", writeFile(t, "missing.yaml", aliasTopologyDoc("missing", "no-such-alias", backend)))
	if code == 0 || !strings.Contains(errOut, "no-such-alias") {
		t.Fatalf("deploy with a missing alias: exit %d, %q", code, errOut)
	}

	list := e.mustCtl("alias", "list", "--all", "-o", "json")
	for _, v := range secretValues {
		if strings.Contains(list, v) {
			t.Fatal("alias list prints a value")
		}
	}
	if !strings.Contains(list, "api-key") || !strings.Contains(list, "aes-256-gcm") {
		t.Fatalf("alias list:\n%s", list)
	}
	if got := e.mustCtl("alias", "get", "api-key", "--topology", "own", "--reveal"); got != secretValues[1] {
		t.Fatal("reveal did not print the value")
	}

	// Certificates: a new identity is served without a restart.
	before := e.servedFingerprint(d.proxy)
	e.mustCtl("cert", "create", "--hostname", "localhost", "--hostname", "127.0.0.1", "--key-type", "rsa", "--key-size", "2048", "--validity", "30d")
	var export struct {
		Certificate struct {
			Fingerprint string `json:"sha256_fingerprint"`
			KeyType     string `json:"key_type"`
		} `json:"certificate"`
	}
	if err := json.Unmarshal([]byte(e.mustCtl("cert", "export", "-o", "json")), &export); err != nil {
		t.Fatal(err)
	}
	if export.Certificate.KeyType != "rsa-2048" || export.Certificate.Fingerprint == before {
		t.Fatalf("cert export after cert create: %+v", export)
	}
	if got := e.servedFingerprint(d.proxy); got != export.Certificate.Fingerprint {
		t.Fatal("the proxy does not serve the new identity")
	}

	// Truststores.
	caFile := filepath.Join(e.dir, "ca.pem")
	e.mustCtl("truststore", "add", "clients", caFile)
	ts := e.mustCtl("truststore", "list", "clients", "-o", "json")
	var tsList struct {
		Truststores []struct {
			Certificates []struct {
				Fingerprint string `json:"sha256_fingerprint"`
			} `json:"certificates"`
		} `json:"truststores"`
	}
	if err := json.Unmarshal([]byte(ts), &tsList); err != nil || len(tsList.Truststores) != 1 || len(tsList.Truststores[0].Certificates) != 1 {
		t.Fatalf("truststore list: %v\n%s", err, ts)
	}
	_, errOut, code = e.ctl("", "truststore", "add", "clients", writeFile(t, "bad.pem", "not a certificate"))
	if code == 0 {
		t.Fatalf("bad PEM accepted: %q", errOut)
	}
	e.mustCtl("truststore", "remove", "clients", tsList.Truststores[0].Certificates[0].Fingerprint)

	// Master rotation: everything keeps working, the old secret no longer opens the store.
	oldSecret := e.secret
	newSecret := writeFile(t, "new-master", "a-new-master-secret-for-e2e-0003\n")
	_, errOut, code = e.ctl("", "master", "rotate", "--current-secret-file", newSecret, "--new-secret-file", oldSecret)
	if code == 0 || !strings.Contains(errOut, "wrong current master secret") {
		t.Fatalf("rotate with a wrong current secret: exit %d, %q", code, errOut)
	}
	e.mustCtl("master", "rotate", "--current-secret-file", oldSecret, "--new-secret-file", newSecret)
	if got := e.mustCtl("alias", "get", "api-key", "--reveal"); got != secretValues[0] {
		t.Fatal("alias does not reveal after rotation")
	}
	e.mustCtl("cert", "create", "--hostname", "localhost", "--hostname", "127.0.0.1")
	d.stop(t)
	logs := d.logs()
	for _, v := range append(secretValues, "a-new-master-secret-for-e2e-0003") {
		if strings.Contains(logs, v) {
			t.Fatal("the daemon's log holds a secret value")
		}
	}

	old, err := e.startNoWait()
	if err != nil {
		t.Fatal(err)
	}
	if err := old.wait(t, 30*time.Second); err == nil || !strings.Contains(old.logs(), "wrong master secret") {
		t.Fatalf("the old master secret after rotation: exit %v\n%s", err, old.logs())
	}
	e.secret = newSecret
	d = e.start()
	if _, body := httpGet(t, e.httpClient(), "https://"+d.proxy+"/gateway/own/echo/"); body != secretValues[1] {
		t.Fatal("after restart with the new secret, the topology's alias does not resolve")
	}
	if got := e.mustCtl("alias", "get", "api-key", "--reveal"); got != secretValues[0] {
		t.Fatal("alias does not reveal after restart")
	}
}

// mustCtlIn runs gatewayctl with stdin and fails the test on a non-zero exit.
func (e *env) mustCtlIn(stdin string, args ...string) string {
	e.t.Helper()
	out, errOut, code := e.ctl(stdin, args...)
	if code != 0 {
		e.t.Fatalf("gatewayctl %s: exit %d\nstderr: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}
