package main

import (
	"bufio"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// exampleTopology reads a topology of server/examples with the demo
// backend's address replaced by backend (host:port).
func exampleTopology(t *testing.T, name, backend string, more ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("examples", "topologies", name))
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.ReplaceAll(string(b), "127.0.0.1:18080", backend)
	for i := 0; i+1 < len(more); i += 2 {
		doc = strings.ReplaceAll(doc, more[i], more[i+1])
	}
	return writeFile(t, name, doc)
}

func getAs(t *testing.T, c *http.Client, url, user, password string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, password)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// make run's authenticated demo: secure.yaml lets the printed demo user in,
// and nobody else.
func TestSecureDemoTopology(t *testing.T) {
	e := newEnv(t)
	d := e.start()
	backend := strings.TrimPrefix(echoBackend(t, "demo"), "http://")
	e.mustCtl("topology", "deploy", exampleTopology(t, "secure.yaml", backend))
	hc := e.httpClient()
	url := "https://" + d.proxy + "/gateway/secure/echo/hello"
	for _, tc := range []struct {
		user, password string
		want           int
	}{{"demo", "demo-password", 200}, {"demo", "wrong", 401}, {"admin", "demo-password", 401}} {
		if got := getAs(t, hc, url, tc.user, tc.password); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.user, got, tc.want)
		}
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// scripts/ldap-demo.sh gives the README's LDAP example a directory: with
// the aliases it prints, corp.yaml deploys and lets alice (analysts) in,
// not bob.
func TestLDAPDemoScript(t *testing.T) {
	dir := t.TempDir()
	ldapPort, ldapsPort := freePort(t), freePort(t)
	cmd := exec.Command("../scripts/ldap-demo.sh")
	cmd.Env = append(os.Environ(), "LDAP_DEMO_DIR="+dir, "LDAP_DEMO_PORT="+ldapPort, "LDAPS_DEMO_PORT="+ldapsPort)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "Ctrl-C stops slapd") {
				ready <- true
			}
		}
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		<-exited
	})
	select {
	case <-ready:
	case <-exited:
		t.Fatalf("ldap-demo.sh exited: %s", stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("ldap-demo.sh not ready: %s", stderr.String())
	}

	e := newEnv(t)
	d := e.start()
	for alias, file := range map[string]string{"ldap-bind": "bind-password", "ldap-ca": "ca.pem"} {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		if _, errOut, code := e.ctl(string(b), "alias", "create", alias, "--topology", "corp"); code != 0 {
			t.Fatalf("alias create %s: %s", alias, errOut)
		}
	}
	backend := strings.TrimPrefix(echoBackend(t, "demo"), "http://")
	e.mustCtl("topology", "deploy", exampleTopology(t, "corp.yaml", backend, "127.0.0.1:3636", "127.0.0.1:"+ldapsPort))
	hc := e.httpClient()
	url := "https://" + d.proxy + "/gateway/corp/echo/hello"
	for _, tc := range []struct {
		user, password string
		want           int
	}{{"alice", "alice-password", 200}, {"bob", "bob-password", 403}, {"alice", "wrong", 401}} {
		if got := getAs(t, hc, url, tc.user, tc.password); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.user, got, tc.want)
		}
	}
}
