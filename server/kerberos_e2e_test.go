package main

// End-to-end test of the kerberos provider through the real gatewayd and
// gatewayctl (helpers in e2e_test.go) and a real MIT KDC: the keytab is an
// alias made with --from-file, the topology is the README's example, the
// user comes in with kinit and curl --negotiate, as the README says.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/securegw/gateway/proxy/providers/kerberos/krbtest"
)

// kerberosTopologyDoc is the README's example topology (section "Kerberos
// (SPNEGO)"), for localhost, the given keytab alias and backend.
func kerberosTopologyDoc(t *testing.T, alias, backend string) string {
	t.Helper()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(readme), "\n### Kerberos (SPNEGO)\n")
	_, doc, ok2 := strings.Cut(sec, "cat > kerberos.yaml <<'YAML'\n")
	ok = ok && ok2
	if ok {
		doc, _, ok = strings.Cut(doc, "\nYAML\n")
	}
	if !ok || !strings.Contains(doc, "HTTP/gw.example.test") || !strings.Contains(doc, "${alias:http-keytab}") ||
		!strings.Contains(doc, `"http://127.0.0.1:18080"`) {
		t.Fatalf("the README's Kerberos example changed:\n%s", doc)
	}
	return strings.NewReplacer("HTTP/gw.example.test", "HTTP/localhost", "${alias:http-keytab}", "${alias:"+alias+"}",
		`"http://127.0.0.1:18080"`, fmt.Sprintf("%q", backend)).Replace(doc) + "\n"
}

func TestKerberosEndToEnd(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatal("curl is missing (Debian package curl)")
	}
	k := krbtest.Start(t, krbtest.Options{})
	password := krbtest.Password()
	k.AddUser(t, "alice", password)
	keytab := filepath.Join(t.TempDir(), "http.keytab")
	if err := os.WriteFile(keytab, k.AddService(t, "HTTP/localhost"), 0o600); err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int64
	backend := identityBackend(t, &hits)
	e := newEnv(t)
	d := e.start()

	// A keytab alias that does not exist: the deploy is refused, by name.
	_, errOut, code := e.ctl("", "topology", "deploy", writeFile(t, "kerberos.yaml", kerberosTopologyDoc(t, "http-keytab", backend)))
	if code == 0 || !strings.Contains(errOut, "missing aliases: [http-keytab]") {
		t.Fatalf("deploy without the keytab alias: exit %d, %q", code, errOut)
	}
	e.mustCtl("alias", "create", "http-keytab", "--from-file", keytab)
	e.mustCtl("topology", "deploy", writeFile(t, "kerberos.yaml", kerberosTopologyDoc(t, "http-keytab", backend)))

	k.Kinit(t, "alice", "alice", password)
	url := "https://" + strings.Replace(d.proxy, "127.0.0.1", "localhost", 1) + "/gateway/kerberos/echo/"
	jar := filepath.Join(t.TempDir(), "jar")
	curlRun := func(ccache string, args ...string) (string, error) {
		cmd := exec.Command(curl, append([]string{"-sS", "--fail-with-body", "--cacert", filepath.Join(e.dir, "ca.pem"),
			"-c", jar, "-b", jar}, append(args, url)...)...)
		cmd.Env = k.Env(ccache)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := curlRun("alice", "--negotiate", "-u", ":")
	if err != nil {
		t.Fatalf("curl --negotiate: %v: %s\n%s", err, out, d.logs())
	}
	var saw backendSaw
	if err := json.Unmarshal([]byte(out), &saw); err != nil || len(saw.Users) != 1 || saw.Users[0] != "alice" {
		t.Fatalf("backend saw %q (%v)", out, err)
	}
	// The session cookie: HttpOnly, Secure (TLS), for /gateway/kerberos.
	b, err := os.ReadFile(jar)
	if err != nil || !strings.Contains(string(b), "#HttpOnly_localhost\tFALSE\t/gateway/kerberos\tTRUE\t") {
		t.Fatalf("cookie jar: %v\n%s", err, b)
	}
	// With the cookie and no ticket: in. With neither: 401 Negotiate.
	if out, err := curlRun("none"); err != nil || !strings.Contains(out, `"alice"`) {
		t.Fatalf("curl with the session cookie: %v: %s", err, out)
	}
	os.Remove(jar)
	out, err = curlRun("none", "-D", "-")
	if err == nil || !strings.Contains(out, "401") || !strings.Contains(strings.ToLower(out), "www-authenticate: negotiate") {
		t.Fatalf("no credentials: %v: %s", err, out)
	}
	if hits.Load() != 2 {
		t.Fatalf("the backend saw %d requests, want 2", hits.Load())
	}
}
