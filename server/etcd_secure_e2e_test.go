package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/securegw/gateway/internal/etcdtest"
)

// secureEtcdEnv is one gatewayd on c with extra store.etcd settings,
// initialized through them (gatewayd init on etcd).
func secureEtcdEnv(t *testing.T, c *etcdtest.Cluster, extra string) *env {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "gw")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: dir, secret: filepath.Join(t.TempDir(), "master"), config: filepath.Join(dir, "gateway.yaml"), ctlConf: filepath.Join(dir, "gatewayctl.yaml")}
	e.writeEtcdConfig(c, extra)
	out, err := exec.Command(filepath.Join(binDir, "gatewayd"), "init", "--data-dir", dir, "--generate", "--master-secret-file", e.secret).CombinedOutput()
	if err != nil {
		t.Fatalf("gatewayd init through %q: %v\n%s", extra, err, out)
	}
	return e
}

func (e *env) writeEtcdConfig(c *etcdtest.Cluster, extra string) {
	e.t.Helper()
	if err := os.WriteFile(e.config, []byte(testConfigYAML+etcdStoreYAML(c, "/secure/", nil)+extra), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// serves deploys a topology through the gateway and gets an answer
// through its proxy.
func (e *env) serves(d *gwProcess) {
	e.t.Helper()
	be := echoBackend(e.t, "secure")
	e.mustCtl("topology", "deploy", writeFile(e.t, "secure.yaml", topologyDoc("secure", be)))
	if _, body := httpGet(e.t, e.httpClient(), "https://"+d.proxy+"/gateway/secure/echo/x"); body != "secure /x" {
		e.t.Fatalf("the gateway on etcd answered %q", body)
	}
	if out := e.mustCtl("status"); !strings.Contains(out, "etcd") {
		e.t.Fatalf("status does not say etcd:\n%s", out)
	}
}

// failsToStart starts the gateway and wants it to exit with a log naming
// want, without the secrets.
func (e *env) failsToStart(want string, secrets ...string) {
	e.t.Helper()
	d, err := e.startNoWait()
	if err != nil {
		e.t.Fatal(err)
	}
	err = d.wait(e.t, 60*time.Second)
	logs := d.logs()
	if err == nil || !strings.Contains(logs, want) {
		e.t.Fatalf("gatewayd: exit %v, want a failure naming %q:\n%s", err, want, logs)
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			e.t.Fatal("the log holds a secret")
		}
	}
}

// gatewayd reaches etcd over TLS with a client certificate, and with
// etcd's authentication, the password from a file (never argv): it
// initializes the store, serves a deploy, and without the client
// certificate, or with a wrong password, it stops with a clear error.
func TestEtcdTLSAndAuth(t *testing.T) {
	t.Run("TLS with a client certificate", func(t *testing.T) {
		c := etcdtest.StartWith(t, 1, etcdtest.Options{TLS: true})
		cert, key := c.ClientCertFiles()
		tlsConf := fmt.Sprintf("    ca_file: %s\n    cert_file: %s\n    key_file: %s\n", c.CAFile(), cert, key)
		e := secureEtcdEnv(t, c, tlsConf)
		d := e.start()
		e.serves(d)
		d.stop(t)

		e.writeEtcdConfig(c, fmt.Sprintf("    ca_file: %s\n", c.CAFile()))
		e.failsToStart("do the TLS settings match it")
	})

	t.Run("user and password from a file", func(t *testing.T) {
		c := etcdtest.StartWith(t, 1, etcdtest.Options{})
		const password = "etcd-p4ssw0rd-not-in-logs"
		c.EnableAuth(t, "gateway", password, "/secure/")
		pwFile := writeFile(t, "etcd-password", password+"\n")
		e := secureEtcdEnv(t, c, fmt.Sprintf("    username: gateway\n    password_file: %s\n", pwFile))
		d := e.start()
		if strings.Contains(strings.Join(d.cmd.Args, " "), password) {
			t.Fatal("the password is on the command line")
		}
		e.serves(d)
		d.stop(t)

		wrong := writeFile(t, "wrong-password", "not-the-password\n")
		e.writeEtcdConfig(c, fmt.Sprintf("    username: gateway\n    password_file: %s\n", wrong))
		e.failsToStart("authentication failed", password, "not-the-password")
	})
}
