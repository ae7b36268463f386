package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An admin issues a management certificate for a new principal; the key is
// made by gatewayctl and never sent; the principal gets exactly the rights
// of the role gateway.yaml gives it.
func TestClientCertificateForANewPrincipal(t *testing.T) {
	e := newEnv(t)
	cfg := strings.Replace(testConfigYAML, "management:\n", "management:\n  principals:\n    admin: [admin]\n    ops: [operator]\n", 1)
	if err := os.WriteFile(e.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	e.start()
	dir := filepath.Join(t.TempDir(), "ops")
	out := e.mustCtl("cert", "client", "ops", "--out-dir", dir, "--validity", "30d")
	// The advice printed keeps the admin: following it must not lock anyone out.
	if !strings.Contains(out, "      admin: [admin]\n      ops: [operator]\n") {
		t.Fatalf("cert client output: %s", out)
	}
	fi, err := os.Stat(filepath.Join(dir, "ops-key.pem"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	// Refuses to overwrite.
	if _, errOut, code := e.ctl("", "cert", "client", "ops", "--out-dir", dir); code == 0 || !strings.Contains(errOut, "exists") {
		t.Fatalf("second cert client into the same dir: exit %d, %q", code, errOut)
	}

	ops := *e
	ops.ctlConf = filepath.Join(dir, "gatewayctl.yaml")
	if who := ops.mustCtl("status"); !strings.Contains(who, "operator") {
		t.Fatalf("status as ops:\n%s", who)
	}
	ops.mustCtl("topology", "deploy", writeFile(t, "ops.yaml", topologyDoc("opsy", echoBackend(t, "A"))))
	if _, errOut, code := ops.ctl("secret\n", "alias", "create", "x"); code == 0 || !strings.Contains(errOut, "permission denied") {
		t.Fatalf("ops creating an alias: exit %d, %q", code, errOut)
	}
	if _, errOut, code := ops.ctl("", "cert", "client", "eve", "--out-dir", filepath.Join(t.TempDir(), "eve")); code == 0 || !strings.Contains(errOut, "permission denied") {
		t.Fatalf("ops issuing certificates: exit %d, %q", code, errOut)
	}

	// A principal without a role may do nothing.
	mdir := filepath.Join(t.TempDir(), "mallory")
	e.mustCtl("cert", "client", "mallory", "--out-dir", mdir)
	mallory := *e
	mallory.ctlConf = filepath.Join(mdir, "gatewayctl.yaml")
	if _, errOut, code := mallory.ctl("", "topology", "list"); code == 0 || !strings.Contains(errOut, "permission denied") {
		t.Fatalf("mallory listing topologies: exit %d, %q", code, errOut)
	}
	if audit := e.mustCtl("audit", "list"); !strings.Contains(audit, "client-certificate/ops") {
		t.Fatalf("the issuance is not audited:\n%s", audit)
	}
}
