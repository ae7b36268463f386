package main

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gatewayd init takes the key type, size and validity of the certificates it creates.
func TestInitKeyTypesAndValidity(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		check   func(t *testing.T, c *x509.Certificate)
		wantErr string
	}{
		{"rsa 3072", []string{"--key-type", "rsa", "--key-size", "3072"}, func(t *testing.T, c *x509.Certificate) {
			if k, ok := c.PublicKey.(*rsa.PublicKey); !ok || k.N.BitLen() != 3072 {
				t.Errorf("key %T", c.PublicKey)
			}
		}, ""},
		{"ecdsa P-384", []string{"--key-type", "ecdsa", "--curve", "P-384", "--client-validity", "30d"}, func(t *testing.T, c *x509.Certificate) {
			if k, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve.Params().Name != "P-384" {
				t.Errorf("key %T", c.PublicKey)
			}
			if d := time.Until(c.NotAfter); d > 31*24*time.Hour || d < 29*24*time.Hour {
				t.Errorf("admin certificate valid for %v, want 30 days", d)
			}
		}, ""},
		{"ed25519", []string{"--key-type", "ed25519"}, func(t *testing.T, c *x509.Certificate) {
			if _, ok := c.PublicKey.(ed25519.PublicKey); !ok {
				t.Errorf("key %T", c.PublicKey)
			}
		}, ""},
		{"unknown type", []string{"--key-type", "dsa"}, nil, "dsa"},
		{"bad rsa size", []string{"--key-type", "rsa", "--key-size", "1024"}, nil, "1024"},
		{"bad validity", []string{"--validity", "forever"}, nil, "--validity"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "gateway.yaml"), []byte(testConfigYAML), 0o600); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"init", "--data-dir", dir, "--generate", "--master-secret-file", filepath.Join(t.TempDir(), "m")}, tc.args...)
			out, err := exec.Command(filepath.Join(binDir, "gatewayd"), args...).CombinedOutput()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(string(out), tc.wantErr) {
					t.Fatalf("init %v: %v\n%s", tc.args, err, out)
				}
				if _, err := os.Stat(filepath.Join(dir, "admin.pem")); err == nil {
					t.Fatal("a refused init wrote certificates")
				}
				return
			}
			if err != nil {
				t.Fatalf("init: %v\n%s", err, out)
			}
			b, err := os.ReadFile(filepath.Join(dir, "admin.pem"))
			if err != nil {
				t.Fatal(err)
			}
			blk, _ := pem.Decode(b)
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}
