package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"
)

// wsEchoBackend is a plain ws:// echo server.
func wsEchoBackend(t *testing.T) string {
	t.Helper()
	up := websocket.Upgrader{}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if c.WriteMessage(mt, msg) != nil {
				return
			}
		}
	})}
	ln := listen(t)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "ws://" + ln.Addr().String()
}

func (e *env) wsDialer() *websocket.Dialer {
	e.t.Helper()
	ca, err := os.ReadFile(filepath.Join(e.dir, "ca.pem"))
	if err != nil {
		e.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	return &websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}, HandshakeTimeout: 10 * time.Second}
}

func wsCloseCode(t *testing.T, c *websocket.Conn, within time.Duration) (int, string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(within))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Text
		}
		t.Fatalf("socket ended without a close frame within %v: %v", within, err)
	}
}

func wsEcho(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	if _, got, err := c.ReadMessage(); err != nil || string(got) != msg {
		t.Fatalf("echo of %q: %q %v", msg, got, err)
	}
}

// WebSocket through the real daemon over wss: token-authenticated
// upgrades; gatewayctl status shows the socket and the descriptor ceiling;
// `gatewayctl token revoke` closes the socket opened with that token (1008)
// within a second while another token's stays open; shutdown closes the
// rest with 1001.
func TestWebSocketEndToEnd(t *testing.T) {
	e := newEnv(t)
	d := e.start()
	backend := wsEchoBackend(t)
	doc := `name: ws
providers:
  - role: federation
    name: jwt
  - role: identity-assertion
    name: default
services:
  - path: echo
    urls: ["` + backend + `"]
    websocket: true
`
	e.mustCtl("topology", "deploy", writeFile(t, "ws.yaml", doc))
	issue := func() (id, token string) {
		out := e.mustCtl("token", "issue", "--ttl", "1h", "-o", "json")
		var v struct {
			Token string `json:"token"`
			Info  struct {
				ID string `json:"id"`
			} `json:"info"`
		}
		if err := json.Unmarshal([]byte(out), &v); err != nil || v.Token == "" || v.Info.ID == "" {
			t.Fatalf("token issue -o json: %v: %s", err, out)
		}
		return v.Info.ID, v.Token
	}
	id1, tok1 := issue()
	_, tok2 := issue()
	url := "wss://" + d.proxy + "/gateway/ws/echo"
	dial := func(tok string) *websocket.Conn {
		c, resp, err := e.wsDialer().Dial(url, http.Header{"Authorization": {"Bearer " + tok}})
		if err != nil {
			t.Fatalf("dial: %v %v", err, resp)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	if _, resp, err := e.wsDialer().Dial(url, nil); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("upgrade without a token: %v %v", resp, err)
	}
	c1, c2 := dial(tok1), dial(tok2)
	wsEcho(t, c1, "one")
	wsEcho(t, c2, "two")

	status := e.mustCtl("status")
	if !strings.Contains(status, "WebSockets:") || !strings.Contains(status, " 2\n") || !strings.Contains(status, "Descriptors:") {
		t.Fatalf("gatewayctl status:\n%s", status)
	}
	var hard syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &hard)
	if want := " of " + itoa(hard.Max); !strings.Contains(status, want) {
		t.Fatalf("gatewayctl status does not show the raised ceiling (%q):\n%s", want, status)
	}

	start := time.Now()
	e.mustCtl("token", "revoke", id1)
	if code, reason := wsCloseCode(t, c1, 5*time.Second); code != websocket.ClosePolicyViolation || reason != "credential revoked" {
		t.Fatalf("after revoke: close %d %q", code, reason)
	}
	if took := time.Since(start); took > 2*time.Second { // the CLI's own run included
		t.Fatalf("closed %v after gatewayctl token revoke began", took)
	}
	wsEcho(t, c2, "the other token's socket stays open")

	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, _ := wsCloseCode(t, c2, 20*time.Second); code != websocket.CloseGoingAway {
		t.Fatalf("at shutdown: close %d, want 1001", code)
	}
	if err := d.wait(t, 30*time.Second); err != nil {
		t.Fatalf("gatewayd exit: %v\n%s", err, d.logs())
	}
}

// wscat (npm), a real command-line client, through the gateway over wss
// with Basic credentials; without them the upgrade is refused.
func TestWebSocketWscat(t *testing.T) {
	wscat, err := exec.LookPath("wscat")
	if err != nil {
		t.Skip("wscat not installed (npm install -g wscat; scripts/test-deps.sh does when npm is present)")
	}
	e := newEnv(t)
	d := e.start()
	backend := wsEchoBackend(t)
	hash := bcryptHash(t, "wscat-pass")
	doc := `name: ws
providers:
  - role: authentication
    name: basic
    params:
      user.alice: "` + hash + `"
  - role: identity-assertion
    name: default
services:
  - path: echo
    urls: ["` + backend + `"]
    websocket: true
`
	e.mustCtl("topology", "deploy", writeFile(t, "ws.yaml", doc))
	url := "wss://localhost:" + d.proxy[strings.LastIndexByte(d.proxy, ':')+1:] + "/gateway/ws/echo"
	// wscat prints what it receives only to a terminal: script(1) gives it one.
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script (util-linux) not installed")
	}
	run := func(args ...string) (string, error) {
		var quoted []string
		for _, a := range append([]string{wscat, "--no-color", "-c", url, "--ca", filepath.Join(e.dir, "ca.pem")}, args...) {
			quoted = append(quoted, "'"+a+"'")
		}
		out, err := exec.Command(script, "-qec", strings.Join(quoted, " "), "/dev/null").CombinedOutput()
		return string(out), err
	}
	out, err := run("--auth", "alice:wscat-pass", "-x", "hello through the gateway", "-w", "2")
	if err != nil || !strings.Contains(out, "hello through the gateway") {
		t.Fatalf("wscat with credentials: %v\n%s", err, out)
	}
	out, err = run("-x", "hello", "-w", "1")
	if err == nil || !strings.Contains(out, "401") {
		t.Fatalf("wscat without credentials: %v\n%s", err, out)
	}
}

func itoa(n uint64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func bcryptHash(t *testing.T, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}
