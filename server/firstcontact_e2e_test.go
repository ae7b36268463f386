package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// --addr-file tells scripts (make run) the addresses gatewayd really
// listens on, written once every listener accepts connections.
func TestServeWritesTheAddrFile(t *testing.T) {
	e := newEnv(t)
	path := filepath.Join(t.TempDir(), "addrs")
	d := e.start("--addr-file", path)
	deadline := time.Now().Add(10 * time.Second)
	var b []byte
	for {
		var err error
		if b, err = os.ReadFile(path); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	want := "proxy=" + d.proxy + "\nmanagement=" + d.management + "\nmetrics=\n"
	if string(b) != want {
		t.Fatalf("addr file %q, want %q", b, want)
	}
}

// A failing command names the problem on one line, without a dangling
// "configuration:;" where the message had a line break.
func TestConfigErrorIsOneReadableLine(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(cfg, []byte("management:\n  principals:\n    ci-deployer: [operator]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(binDir, "gatewayd"), "serve", "--config", cfg, "--data-dir", dir).CombinedOutput()
	if err == nil {
		t.Fatal("serve accepted a configuration without an admin")
	}
	got := strings.TrimSpace(string(out))
	if strings.Count(got, "\n") != 0 || strings.Contains(got, ":;") || !strings.Contains(got, "invalid configuration: management.principals: no principal has the admin role") {
		t.Fatalf("got %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "gateway.db")); err == nil {
		t.Error("a refused serve created gateway.db")
	}
}
