package main

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"

	"github.com/securegw/gateway/internal/fedsig"
)

// Seed 001 with two real gateways: on-prem authenticates alice (Basic) and
// federates her requests to the cloud gateway over two-way TLS, signed with
// a secret both hold as an alias; certificates are exchanged with
// gatewayctl truststore add. The cloud's backend sees alice. Requests sent
// straight to the cloud with a forged header, a replayed signature or a
// stale timestamp are refused. A WebSocket crosses the chain as alice too.
func TestFederationBetweenTwoGateways(t *testing.T) {
	backend := echoHeaderBackend(t, "X-Forwarded-User")
	wsBackend := wsGreeter(t)
	onprem, cloud := newEnv(t), newEnv(t)
	// The cloud asks for client certificates, verified with truststore onprem.
	cfg := strings.Replace(testConfigYAML, "proxy:\n", "proxy:\n  client_auth: optional\n  client_truststore: onprem\n", 1)
	if err := os.WriteFile(cloud.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cd, od := cloud.start(), onprem.start()

	// The shared secret, as an alias on both sides (from a pipe, never argv).
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	secret := base64.RawURLEncoding.EncodeToString(raw)
	for _, e := range []*env{onprem, cloud} {
		if out, errOut, code := e.ctl(secret+"\n", "alias", "create", "fed-secret"); code != 0 {
			t.Fatalf("alias create: %s %s", out, errOut)
		}
	}

	// Cloud: trusts on-prem's CA for client certificates.
	cloud.mustCtl("truststore", "add", "onprem", filepath.Join(onprem.dir, "ca.pem"))
	cloud.mustCtl("topology", "deploy", writeFile(t, "aws.yaml", fmt.Sprintf(`name: aws
providers:
  - role: federation
    name: header-preauth
    params:
      allowed_addresses: 127.0.0.1, ::1
      truststore: onprem
      allowed_clients: CN=onprem-fed
      secret: ${alias:fed-secret}
  - role: identity-assertion
    name: default
    params:
      header: X-Forwarded-User
services:
  - path: webhdfs
    urls: [%q]
  - path: ws
    urls: [%q]
    websocket: true
`, backend, wsBackend)))

	// On-prem: a client certificate from its CA (CN=onprem-fed) as an
	// alias, the cloud's CA as a truststore.
	fed := filepath.Join(t.TempDir(), "fed")
	onprem.mustCtl("cert", "client", "onprem-fed", "--out-dir", fed)
	certPEM, err := os.ReadFile(filepath.Join(fed, "onprem-fed.pem"))
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(fed, "onprem-fed-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	onprem.mustCtl("alias", "create", "cloud-client", "--from-file", writeFile(t, "bundle.pem", string(certPEM)+string(keyPEM)))
	onprem.mustCtl("truststore", "add", "cloud", filepath.Join(cloud.dir, "ca.pem"))
	hash, err := bcrypt.GenerateFromPassword([]byte("alice-password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	onprem.mustCtl("topology", "deploy", writeFile(t, "onprem.yaml", fmt.Sprintf(`name: onprem
providers:
  - role: authentication
    name: basic
    params:
      user.alice: %q
  - role: identity-assertion
    name: default
services:
  - path: webhdfs
    urls: ["https://%s/gateway/aws/webhdfs"]
    dispatch:
      federate: true
      federation_secret: fed-secret
      use_two_way_tls: true
      client_certificate: cloud-client
      truststore: cloud
  - path: ws
    urls: ["wss://%s/gateway/aws/ws"]
    websocket: true
    dispatch: {federate: true, federation_secret: fed-secret, use_two_way_tls: true, client_certificate: cloud-client, truststore: cloud}
`, hash, cd.proxy, cd.proxy)))

	// alice through on-prem reaches the cloud's backend as alice, whatever
	// identity header she sends herself.
	oc := onprem.httpClient()
	req, _ := http.NewRequest("GET", "https://"+od.proxy+"/gateway/onprem/webhdfs/v1/tmp?op=LISTSTATUS", nil)
	req.SetBasicAuth("alice", "alice-password")
	req.Header.Set("SM_USER", "admin")
	if status, body := send(t, oc, req); status != 200 || body != "alice" {
		t.Fatalf("alice via on-prem: %d %q, want 200 alice", status, body)
	}
	req, _ = http.NewRequest("GET", "https://"+od.proxy+"/gateway/onprem/webhdfs/v1/tmp", nil)
	req.SetBasicAuth("alice", "wrong")
	if status, _ := send(t, oc, req); status != 401 {
		t.Fatalf("wrong password at on-prem: %d, want 401", status)
	}

	// A WebSocket crosses the chain as alice too.
	ca, err := os.ReadFile(filepath.Join(onprem.dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca)
	wsd := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "localhost"}, HandshakeTimeout: 10 * time.Second}
	wh := http.Header{}
	wh.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("alice:alice-password")))
	ws, resp, err := wsd.Dial("wss://"+od.proxy+"/gateway/onprem/ws", wh)
	if err != nil {
		t.Fatalf("WebSocket via on-prem: %v (%v)", err, resp)
	}
	_, msg, err := ws.ReadMessage()
	ws.Close()
	if err != nil || string(msg) != "hello alice" {
		t.Fatalf("WebSocket via on-prem: first message %q, %v; want hello alice", msg, err)
	}

	// Straight to the cloud.
	cloudURL := "https://" + cd.proxy + "/gateway/aws/webhdfs/v1/tmp"
	stranger := cloud.httpClient() // trusts the cloud, has no client certificate
	sender := cloud.httpClient()   // presents on-prem's client certificate
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	sender.Transport.(*http.Transport).TLSClientConfig.Certificates = []tls.Certificate{pair}
	signed := func(key string, at time.Time) *http.Request {
		r, _ := http.NewRequest("GET", cloudURL, nil)
		s, err := fedsig.NewSigner([]byte(key))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("SM_USER", "alice")
		r.Header.Set(fedsig.Header, s.Sign(&fedsig.Request{Method: "GET", Path: r.URL.Path, User: "alice"}, at))
		return r
	}
	forged, _ := http.NewRequest("GET", cloudURL, nil)
	forged.Header.Set("SM_USER", "alice")
	if status, _ := send(t, stranger, forged); status != 403 {
		t.Fatalf("forged header from a client without the certificate: %d, want 403", status)
	}
	if status, _ := send(t, stranger, signed(secret, time.Now())); status != 403 {
		t.Fatalf("good signature from a client without the certificate: %d, want 403", status)
	}
	if status, _ := send(t, sender, signed("a-secret-the-cloud-does-not-hold", time.Now())); status != 403 {
		t.Fatalf("wrong secret: %d, want 403", status)
	}
	if status, _ := send(t, sender, signed(secret, time.Now().Add(-10*time.Minute))); status != 403 {
		t.Fatalf("stale timestamp: %d, want 403", status)
	}
	first := signed(secret, time.Now())
	replayed := first.Clone(first.Context())
	if status, body := send(t, sender, first); status != 200 || body != "alice" {
		t.Fatalf("a signature of the secret with on-prem's certificate: %d %q, want 200 alice", status, body)
	}
	if status, _ := send(t, sender, replayed); status != 403 {
		t.Fatalf("replayed signature: %d, want 403", status)
	}
	// The cloud's log says which validator refused each, never the secret.
	// (It reaches us through a pipe: wait for it.)
	wants := []string{`"validator":"client-cert"`, `"validator":"hmac"`, "nonce already used", "timestamp outside the window", "signature does not match"}
	logs := cd.logs()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); logs = cd.logs() {
		missing := false
		for _, w := range wants {
			missing = missing || !strings.Contains(logs, w)
		}
		if !missing {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range wants {
		if !strings.Contains(logs, want) {
			t.Errorf("the cloud's log lacks %s:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, secret) || strings.Contains(od.logs(), secret) {
		t.Error("a log carries the shared secret")
	}
}

func send(t *testing.T, c *http.Client, req *http.Request) (int, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String()
}

// wsGreeter is a WebSocket backend whose first message greets the user the
// gateway asserted (X-Forwarded-User).
func wsGreeter(t *testing.T) string {
	t.Helper()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.WriteMessage(websocket.TextMessage, []byte("hello "+r.Header.Get("X-Forwarded-User")))
		_, _, _ = c.ReadMessage()
	})}
	ln := listen(t)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "ws://" + ln.Addr().String()
}

// proxy.replay_cache_size bounds the replay cache the providers share: a
// gateway with the smallest cache accepts that many fresh signatures
// within their window, then refuses new ones (fails closed) rather than
// forgetting nonces that could be replayed.
func TestReplayCacheSizeSetting(t *testing.T) {
	backend := echoHeaderBackend(t, "X-Forwarded-User")
	e := newEnv(t)
	cfg := strings.Replace(testConfigYAML, "proxy:\n", "proxy:\n  replay_cache_size: 1024\n", 1)
	if err := os.WriteFile(e.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	d := e.start()
	secret := newFedSecret()
	e.mustCtlIn(secret+"\n", "alias", "create", "fed-secret")
	e.mustCtl("topology", "deploy", writeFile(t, "signed.yaml", signedTopology(backend)))
	signer := mustSigner(t, secret)
	c := e.httpClient()
	url := "https://" + d.proxy + "/gateway/signed/echo/x"
	req := func() *http.Request {
		r, _ := http.NewRequest("GET", url, nil)
		r.Header.Set("SM_USER", "alice")
		r.Header.Set(fedsig.Header, signer.Sign(&fedsig.Request{Method: "GET", Path: r.URL.Path, User: "alice"}, time.Now()))
		return r
	}
	for i := range 1024 {
		if status, body := send(t, c, req()); status != 200 || body != "alice" {
			t.Fatalf("fresh signature %d of 1024: %d %q, want 200 alice", i+1, status, body)
		}
	}
	if status, _ := send(t, c, req()); status != 403 {
		t.Fatalf("a fresh signature with the cache full of live nonces: %d, want 403 (fail closed)", status)
	}
}

// newFedSecret returns a random shared secret for a header-preauth topology.
func newFedSecret() string {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	return base64.RawURLEncoding.EncodeToString(raw)
}

// signedTopology is topology "signed": header pre-auth checked against the
// alias fed-secret, the asserted user in X-Forwarded-User to backend.
func signedTopology(backend string) string {
	return fmt.Sprintf(`name: signed
providers:
  - role: federation
    name: header-preauth
    params:
      secret: ${alias:fed-secret}
  - role: identity-assertion
    name: default
    params:
      header: X-Forwarded-User
services:
  - path: echo
    urls: [%q]
`, backend)
}

func mustSigner(t *testing.T, secret string) *fedsig.Signer {
	t.Helper()
	s, err := fedsig.NewSigner([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
