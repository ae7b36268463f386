package pki

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"strings"
	"testing"
	"time"
)

func csrPEM(t *testing.T, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	key, err := DefaultKeySpec().Generate()
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func TestSignClientCSR(t *testing.T) {
	ca, err := NewCA("test CA", DefaultKeySpec(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// Only the common name is copied: a request asking for a server name,
	// an IP or an organisation gets a plain client certificate.
	csr, err := ParseCSR(csrPEM(t, &x509.CertificateRequest{
		Subject:     pkix.Name{CommonName: "ops", Organization: []string{"admins"}},
		DNSNames:    []string{"gateway.example.com"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}))
	if err != nil {
		t.Fatal(err)
	}
	out, err := ca.SignClientCSR(csr, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := ParseCertificatesPEM(out)
	if err != nil {
		t.Fatal(err)
	}
	c := certs[0]
	if c.Subject.CommonName != "ops" || len(c.Subject.Organization) != 0 || len(c.DNSNames) != 0 || len(c.IPAddresses) != 0 {
		t.Fatalf("issued %v, DNS %v, IP %v", c.Subject, c.DNSNames, c.IPAddresses)
	}
	if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth || c.IsCA {
		t.Fatalf("usages %v, CA %v", c.ExtKeyUsage, c.IsCA)
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: ca.CertPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Fatal("the client certificate verifies as a server certificate")
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: ca.CertPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("client verification: %v", err)
	}
}

func TestSignClientCSRRefuses(t *testing.T) {
	ca, err := NewCA("test CA", DefaultKeySpec(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	good := csrPEM(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "ops"}})
	blk, _ := pem.Decode(good)
	der := append([]byte(nil), blk.Bytes...)
	der[len(der)-3] ^= 0x01 // inside the signature
	tampered := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	cases := []struct {
		name     string
		pem      []byte
		validity time.Duration
		want     string
	}{
		{"not PEM", []byte("hello"), time.Hour, "PEM"},
		{"a certificate", ca.CertPEM(), time.Hour, "CERTIFICATE REQUEST"},
		{"no common name", csrPEM(t, &x509.CertificateRequest{Subject: pkix.Name{Organization: []string{"x"}}}), time.Hour, "common name"},
		{"control character", csrPEM(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "a\nb"}}), time.Hour, "common name"},
		{"past the CA", good, 48 * time.Hour, "after the CA"},
		{"zero validity", good, 0, "validity"},
		{"tampered", tampered, time.Hour, "signature"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			csr, err := ParseCSR(tc.pem)
			if err == nil {
				_, err = ca.SignClientCSR(csr, tc.validity)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
