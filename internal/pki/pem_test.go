package pki

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

func TestParseCertificatesPEM(t *testing.T) {
	ca := newTestCA(t, KeySpec{})
	other := newTestCA(t, KeySpec{Type: KeyEd25519})
	keyPEM, err := ca.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	a, b := string(ca.CertPEM()), string(other.CertPEM())
	tests := []struct {
		name    string
		in      string
		want    int
		wantErr string
	}{
		{"one", a, 1, ""},
		{"two in order", a + b, 2, ""},
		{"openssl text before blocks", "subject=CN = test CA\n" + a + "subject=x\n" + b, 2, ""},
		{"trailing newlines", a + "\n\n", 1, ""},
		{"empty", "", 0, "no PEM certificate"},
		{"not PEM", "hello", 0, "no PEM certificate"},
		{"key block", a + string(keyPEM), 0, `"PRIVATE KEY", not a CERTIFICATE`},
		{"truncated second block", a + b[:len(b)/2], 0, "not a PEM block"},
		{"bad DER", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 0, "PEM block 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certs, err := ParseCertificatesPEM([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCertificatesPEM: %v", err)
			}
			if len(certs) != tt.want {
				t.Fatalf("got %d certificates, want %d", len(certs), tt.want)
			}
			if certs[0].Subject.CommonName != "test CA" {
				t.Fatalf("first certificate is %v, want the first in the input", certs[0].Subject)
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	ca := newTestCA(t, KeySpec{})
	other := newTestCA(t, KeySpec{})
	fp := Fingerprint(ca.Cert)
	sum := sha256.Sum256(ca.Cert.Raw)
	if fp != hex.EncodeToString(sum[:]) {
		t.Fatalf("Fingerprint = %q, want the SHA-256 of the DER", fp)
	}
	if len(fp) != 64 || strings.ToLower(fp) != fp || strings.Contains(fp, ":") {
		t.Fatalf("Fingerprint %q is not 64 lower-case hex digits without colons", fp)
	}
	if Fingerprint(other.Cert) == fp {
		t.Fatal("two certificates share a fingerprint")
	}
	reparsed := mustParseOne(t, ca.CertPEM())
	if Fingerprint(reparsed) != fp {
		t.Fatal("fingerprint changes across a PEM round trip")
	}
}
