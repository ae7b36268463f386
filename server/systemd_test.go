package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const systemdUnit = "examples/systemd/gatewayd.service"

// The example unit passes systemd-analyze verify (where systemd is
// installed) without a warning, with the ExecStart binary pointed at the
// gatewayd under test.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	b, err := os.ReadFile(systemdUnit)
	if err != nil {
		t.Fatal(err)
	}
	unit := strings.ReplaceAll(string(b), "/usr/local/bin/gatewayd", filepath.Join(binDir, "gatewayd"))
	path := filepath.Join(t.TempDir(), "gatewayd.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || strings.Contains(string(out), "gatewayd.service") {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// What the unit relies on: the hardening the README promises, and a
// master secret that comes from a systemd credential, which gatewayd reads
// as a file.
func TestSystemdUnitHardening(t *testing.T) {
	b, err := os.ReadFile(systemdUnit)
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	for _, want := range []string{
		"\nUser=gateway\n", "\nNoNewPrivileges=yes\n", "\nProtectSystem=strict\n", "\nStateDirectory=gateway\n",
		"\nLimitNOFILE=65536\n", "\nLoadCredential=gw-master:/etc/gateway/gw-master\n", "--master-secret-file %d/gw-master",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("the unit lacks %q", strings.TrimSpace(want))
		}
	}
}
