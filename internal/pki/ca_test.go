package pki

import (
	"bytes"
	"crypto/x509"
	"net"
	"strings"
	"testing"
	"time"
)

const day = 24 * time.Hour

// allSpecs is every key type and size the package supports.
var allSpecs = []KeySpec{
	{Type: KeyRSA, RSABits: 2048},
	{Type: KeyRSA, RSABits: 3072},
	{Type: KeyRSA, RSABits: 4096},
	{Type: KeyECDSA, Curve: "P-256"},
	{Type: KeyECDSA, Curve: "P-384"},
	{Type: KeyEd25519},
}

func newTestCA(t *testing.T, spec KeySpec) *Authority {
	t.Helper()
	ca, err := NewCA("test CA", spec, 365*day)
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	return ca
}

func mustParseOne(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	certs, err := ParseCertificatesPEM(certPEM)
	if err != nil {
		t.Fatalf("ParseCertificatesPEM: %v", err)
	}
	if len(certs) != 1 {
		t.Fatalf("got %d certificates, want 1", len(certs))
	}
	return certs[0]
}

// TestChainPerKeyType issues a server and a client certificate with every
// key type and size and verifies both chains against the CA alone.
func TestChainPerKeyType(t *testing.T) {
	for _, spec := range allSpecs {
		t.Run(spec.String(), func(t *testing.T) {
			ca := newTestCA(t, spec)
			if got := KeyTypeOf(ca.Cert); got != spec.String() {
				t.Errorf("CA key type %q, want %q", got, spec.String())
			}
			roots := ca.CertPool()

			srvPEM, srvKey, err := ca.IssueServer([]string{"gw.example.test", "127.0.0.1", "::1"}, spec, 90*day)
			if err != nil {
				t.Fatalf("IssueServer: %v", err)
			}
			srv := mustParseOne(t, srvPEM)
			if got := KeyTypeOf(srv); got != spec.String() {
				t.Errorf("server key type %q, want %q", got, spec.String())
			}
			if _, err := ParsePrivateKeyPEM(srvKey); err != nil {
				t.Errorf("server key does not parse: %v", err)
			}
			for _, host := range []string{"gw.example.test", "127.0.0.1", "::1"} {
				opts := x509.VerifyOptions{Roots: roots, DNSName: host, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
				if _, err := srv.Verify(opts); err != nil {
					t.Errorf("server certificate does not verify for %s: %v", host, err)
				}
			}
			if err := srv.VerifyHostname("other.example.test"); err == nil {
				t.Error("server certificate verifies for a host it does not name")
			}
			if _, err := srv.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
				t.Error("server certificate verifies for client authentication")
			}

			cliPEM, _, err := ca.IssueClient("admin", []string{"admins"}, spec, 90*day)
			if err != nil {
				t.Fatalf("IssueClient: %v", err)
			}
			cli := mustParseOne(t, cliPEM)
			if _, err := cli.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Errorf("client certificate does not verify for client authentication: %v", err)
			}
			if _, err := cli.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
				t.Error("client certificate verifies for server authentication")
			}
			if cli.Subject.CommonName != "admin" || len(cli.Subject.Organization) != 1 || cli.Subject.Organization[0] != "admins" {
				t.Errorf("client subject %v, want CN=admin,O=admins", cli.Subject)
			}

			other := newTestCA(t, KeySpec{})
			if _, err := srv.Verify(x509.VerifyOptions{Roots: other.CertPool(), DNSName: "gw.example.test"}); err == nil {
				t.Error("server certificate verifies against another CA")
			}
		})
	}
}

func TestCertificateProfile(t *testing.T) {
	before := time.Now()
	ca := newTestCA(t, KeySpec{})
	srvPEM, _, err := ca.IssueServer([]string{"GW.Example.Test.", "[::1]", "gw.example.test"}, KeySpec{Type: KeyRSA, RSABits: 2048}, 30*day)
	if err != nil {
		t.Fatalf("IssueServer: %v", err)
	}
	srv := mustParseOne(t, srvPEM)
	cliPEM, _, err := ca.IssueClient("alice", nil, KeySpec{Type: KeyEd25519}, 30*day)
	if err != nil {
		t.Fatalf("IssueClient: %v", err)
	}
	cli := mustParseOne(t, cliPEM)
	after := time.Now()

	t.Run("CA", func(t *testing.T) {
		c := ca.Cert
		if !c.IsCA || !c.BasicConstraintsValid || c.MaxPathLen != 0 || !c.MaxPathLenZero {
			t.Errorf("CA basic constraints: IsCA=%v valid=%v MaxPathLen=%d zero=%v", c.IsCA, c.BasicConstraintsValid, c.MaxPathLen, c.MaxPathLenZero)
		}
		if c.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
			t.Errorf("CA key usage %b", c.KeyUsage)
		}
		if len(c.SubjectKeyId) != 20 {
			t.Errorf("CA subject key id has %d bytes, want 20", len(c.SubjectKeyId))
		}
	})
	t.Run("server", func(t *testing.T) {
		if srv.IsCA {
			t.Error("server certificate is a CA")
		}
		if srv.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment {
			t.Errorf("RSA server key usage %b", srv.KeyUsage)
		}
		if len(srv.ExtKeyUsage) != 1 || srv.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
			t.Errorf("server ext key usage %v", srv.ExtKeyUsage)
		}
		if srv.Subject.CommonName != "gw.example.test" {
			t.Errorf("common name %q, want the first host normalised", srv.Subject.CommonName)
		}
		if strings.Join(srv.DNSNames, ",") != "gw.example.test" {
			t.Errorf("DNS names %v, want the one name normalised and deduplicated", srv.DNSNames)
		}
		if len(srv.IPAddresses) != 1 || !srv.IPAddresses[0].Equal(net.ParseIP("::1")) {
			t.Errorf("IP addresses %v, want [::1]", srv.IPAddresses)
		}
	})
	t.Run("client", func(t *testing.T) {
		if cli.KeyUsage != x509.KeyUsageDigitalSignature {
			t.Errorf("ed25519 client key usage %b", cli.KeyUsage)
		}
		if len(cli.ExtKeyUsage) != 1 || cli.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
			t.Errorf("client ext key usage %v", cli.ExtKeyUsage)
		}
	})
	t.Run("common", func(t *testing.T) {
		serials := map[string]bool{}
		for _, c := range []*x509.Certificate{ca.Cert, srv, cli} {
			if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() > 128 {
				t.Errorf("%s: serial %v not in [1, 2^128)", c.Subject, c.SerialNumber)
			}
			serials[c.SerialNumber.String()] = true
			if c.NotBefore.Before(before.Add(-time.Minute-time.Second)) || c.NotBefore.After(after.Add(-time.Minute)) {
				t.Errorf("%s: NotBefore %v is not about a minute before issuance", c.Subject, c.NotBefore)
			}
			if len(c.SubjectKeyId) == 0 {
				t.Errorf("%s: no subject key id", c.Subject)
			}
			if c != ca.Cert && !bytes.Equal(c.AuthorityKeyId, ca.Cert.SubjectKeyId) {
				t.Errorf("%s: authority key id does not match the CA's subject key id", c.Subject)
			}
		}
		if len(serials) != 3 {
			t.Errorf("serial numbers repeat: %v", serials)
		}
		if srv.NotAfter.Before(before.Add(30*day).Truncate(time.Second)) || srv.NotAfter.After(after.Add(30*day)) {
			t.Errorf("server NotAfter %v is not 30 days after issuance", srv.NotAfter)
		}
	})
}

func TestValidityLimits(t *testing.T) {
	ca, err := NewCA("long CA", KeySpec{}, MaxCAValidity)
	if err != nil {
		t.Fatalf("NewCA with the maximum validity: %v", err)
	}
	short := newTestCA(t, KeySpec{})
	tests := []struct {
		name     string
		ca       *Authority
		validity time.Duration
		wantErr  string
	}{
		{"825 days", ca, 825 * day, ""},
		{"ten years", ca, MaxLeafValidity, ""},
		{"zero", ca, 0, "must be positive"},
		{"negative", ca, -time.Hour, "must be positive"},
		{"over ten years", ca, MaxLeafValidity + time.Second, "exceeds the maximum"},
		{"outlives the CA", short, 400 * day, "after the CA certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, issue := range []func() error{
				func() error {
					_, _, err := tt.ca.IssueServer([]string{"localhost"}, KeySpec{}, tt.validity)
					return err
				},
				func() error { _, _, err := tt.ca.IssueClient("bob", nil, KeySpec{}, tt.validity); return err },
			} {
				err := issue()
				if tt.wantErr == "" && err != nil {
					t.Fatalf("issuing with validity %s: %v", tt.validity, err)
				}
				if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
					t.Fatalf("issuing with validity %s: error %v, want one containing %q", tt.validity, err, tt.wantErr)
				}
			}
		})
	}
	t.Run("CA limits", func(t *testing.T) {
		for _, v := range []time.Duration{0, -day, MaxCAValidity + time.Second} {
			if _, err := NewCA("bad", KeySpec{}, v); err == nil {
				t.Errorf("NewCA with validity %s succeeded", v)
			}
		}
	})
}

func TestIssueRefusesBadInput(t *testing.T) {
	ca := newTestCA(t, KeySpec{})
	tests := []struct {
		name  string
		issue func() error
	}{
		{"no hosts", func() error { _, _, err := ca.IssueServer(nil, KeySpec{}, day); return err }},
		{"empty host", func() error { _, _, err := ca.IssueServer([]string{""}, KeySpec{}, day); return err }},
		{"space in host", func() error { _, _, err := ca.IssueServer([]string{"bad host"}, KeySpec{}, day); return err }},
		{"empty label", func() error { _, _, err := ca.IssueServer([]string{"a..b"}, KeySpec{}, day); return err }},
		{"leading hyphen", func() error { _, _, err := ca.IssueServer([]string{"-a.example"}, KeySpec{}, day); return err }},
		{"URL", func() error { _, _, err := ca.IssueServer([]string{"https://gw.example"}, KeySpec{}, day); return err }},
		{"host and port", func() error { _, _, err := ca.IssueServer([]string{"gw.example:8443"}, KeySpec{}, day); return err }},
		{"inner wildcard", func() error { _, _, err := ca.IssueServer([]string{"a.*.example"}, KeySpec{}, day); return err }},
		{"bad key spec", func() error {
			_, _, err := ca.IssueServer([]string{"gw"}, KeySpec{Type: "rsa", RSABits: 1024}, day)
			return err
		}},
		{"empty client name", func() error { _, _, err := ca.IssueClient(" ", nil, KeySpec{}, day); return err }},
		{"empty organization", func() error { _, _, err := ca.IssueClient("bob", []string{""}, KeySpec{}, day); return err }},
		{"no CA key", func() error {
			_, _, err := (&Authority{Cert: ca.Cert}).IssueClient("bob", nil, KeySpec{}, day)
			return err
		}},
		{"empty CA name", func() error { _, err := NewCA("", KeySpec{}, day); return err }},
		{"bad CA key spec", func() error { _, err := NewCA("ca", KeySpec{Type: "dsa"}, day); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.issue(); err == nil {
				t.Fatal("succeeded, want an error")
			}
		})
	}
	t.Run("wildcard accepted", func(t *testing.T) {
		certPEM, _, err := ca.IssueServer([]string{"*.gw.example"}, KeySpec{}, day)
		if err != nil {
			t.Fatalf("IssueServer(*.gw.example): %v", err)
		}
		if err := mustParseOne(t, certPEM).VerifyHostname("a.gw.example"); err != nil {
			t.Fatalf("wildcard certificate does not cover a.gw.example: %v", err)
		}
	})
}

func TestLoadAuthority(t *testing.T) {
	for _, spec := range []KeySpec{{}, {Type: KeyRSA, RSABits: 2048}, {Type: KeyEd25519}} {
		t.Run("round trip "+spec.String(), func(t *testing.T) {
			ca := newTestCA(t, spec)
			keyPEM, err := ca.KeyPEM()
			if err != nil {
				t.Fatalf("KeyPEM: %v", err)
			}
			if !bytes.HasPrefix(keyPEM, []byte("-----BEGIN PRIVATE KEY-----")) {
				t.Fatal("KeyPEM is not PKCS#8")
			}
			loaded, err := LoadAuthority(ca.CertPEM(), keyPEM)
			if err != nil {
				t.Fatalf("LoadAuthority: %v", err)
			}
			cliPEM, _, err := loaded.IssueClient("carol", nil, KeySpec{}, day)
			if err != nil {
				t.Fatalf("IssueClient with the loaded CA: %v", err)
			}
			if _, err := mustParseOne(t, cliPEM).Verify(x509.VerifyOptions{Roots: ca.CertPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Fatalf("certificate from the loaded CA does not verify against the original: %v", err)
			}
		})
	}

	ca := newTestCA(t, KeySpec{})
	caKey, _ := ca.KeyPEM()
	other := newTestCA(t, KeySpec{})
	otherKey, _ := other.KeyPEM()
	leafPEM, leafKey, err := ca.IssueServer([]string{"gw"}, KeySpec{}, day)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name             string
		certPEM, keyPEM  []byte
		wantErrSubstring string
	}{
		{"key of another CA", ca.CertPEM(), otherKey, "does not match"},
		{"leaf as CA", leafPEM, leafKey, "not a CA"},
		{"two certificates", append(ca.CertPEM(), other.CertPEM()...), caKey, "expected one certificate"},
		{"no certificate", nil, caKey, "no PEM certificate"},
		{"key instead of certificate", caKey, caKey, "not a CERTIFICATE"},
		{"no key", ca.CertPEM(), nil, "no PEM private key"},
		{"certificate instead of key", ca.CertPEM(), ca.CertPEM(), "not a private key"},
		{"garbage key", ca.CertPEM(), []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), "parsing PRIVATE KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadAuthority(tt.certPEM, tt.keyPEM)
			if err == nil || !strings.Contains(err.Error(), tt.wantErrSubstring) {
				t.Fatalf("LoadAuthority error = %v, want one containing %q", err, tt.wantErrSubstring)
			}
			if bytes.Contains([]byte(err.Error()), tt.keyPEM) && len(tt.keyPEM) > 0 {
				t.Fatal("error contains the key")
			}
		})
	}
}
