package secretsvc

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/securegw/gateway/internal/pki"
	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
	"github.com/securegw/gateway/store"
)

func leafOf(t *testing.T, f *fixture) *x509.Certificate {
	t.Helper()
	c, err := f.svc.LoadIdentity(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

func adminCA(t *testing.T, f *fixture) *x509.CertPool {
	t.Helper()
	caPEM, err := f.st.GetMeta(context.Background(), MetaCACert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return pool
}

func TestCreateCertificate(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name      string
		req       *gatewayv1.CreateCertificateRequest
		wantKey   string
		wantDNS   []string
		wantIPs   []string
		wantValid time.Duration
	}{
		{"defaults: ECDSA P-256, current hostnames, 825 days", &gatewayv1.CreateCertificateRequest{},
			"ecdsa-P-256", []string{"localhost"}, []string{"127.0.0.1"}, 825 * day},
		{"RSA 2048", &gatewayv1.CreateCertificateRequest{
			Key:       &gatewayv1.KeySpec{Type: gatewayv1.KeyType_KEY_TYPE_RSA, RsaBits: 2048},
			Hostnames: []string{"gw.example.com", " 10.0.0.5 ", "[::1]"}, Validity: durationpb.New(30 * day)},
			"rsa-2048", []string{"gw.example.com"}, []string{"10.0.0.5", "::1"}, 30 * day},
		{"ECDSA P-384", &gatewayv1.CreateCertificateRequest{
			Key:       &gatewayv1.KeySpec{Type: gatewayv1.KeyType_KEY_TYPE_ECDSA, Curve: "P-384"},
			Hostnames: []string{"*.example.com", "Example.COM."}, Validity: durationpb.New(day)},
			"ecdsa-P-384", []string{"*.example.com", "example.com"}, []string{}, day},
		{"Ed25519", &gatewayv1.CreateCertificateRequest{
			Key:       &gatewayv1.KeySpec{Type: gatewayv1.KeyType_KEY_TYPE_ED25519},
			Hostnames: []string{"gw.internal"}},
			"ed25519", []string{"gw.internal"}, []string{}, 825 * day},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			before := leafOf(t, f)
			resp, err := f.svc.PKIServer().CreateCertificate(ctx, tt.req)
			if err != nil {
				t.Fatal(err)
			}
			info := resp.GetCertificate()
			if got := f.identityChanges.Load(); got != 1 {
				t.Fatalf("OnIdentityChange called %d times, want 1", got)
			}
			leaf := leafOf(t, f)
			if pki.Fingerprint(leaf) == pki.Fingerprint(before) || pki.Fingerprint(leaf) != info.GetSha256Fingerprint() {
				t.Fatal("LoadIdentity does not return the new certificate")
			}
			if info.GetKeyType() != tt.wantKey || pki.KeyTypeOf(leaf) != tt.wantKey {
				t.Errorf("key %s, want %s", info.GetKeyType(), tt.wantKey)
			}
			if !slices.Equal(info.GetDnsNames(), tt.wantDNS) || !slices.Equal(info.GetIpAddresses(), tt.wantIPs) {
				t.Errorf("names %q %q, want %q %q", info.GetDnsNames(), info.GetIpAddresses(), tt.wantDNS, tt.wantIPs)
			}
			if got := leaf.NotAfter.Sub(leaf.NotBefore); got < tt.wantValid || got > tt.wantValid+2*time.Minute {
				t.Errorf("validity %v, want %v", got, tt.wantValid)
			}
			if info.GetSerial() != leaf.SerialNumber.Text(16) || info.GetIssuer() != "CN=test admin CA" {
				t.Errorf("serial %s issuer %s", info.GetSerial(), info.GetIssuer())
			}
			opts := x509.VerifyOptions{Roots: adminCA(t, f), DNSName: tt.wantDNS[0]}
			if strings.HasPrefix(opts.DNSName, "*.") {
				opts.DNSName = "gw" + opts.DNSName[1:]
			}
			if _, err := leaf.Verify(opts); err != nil {
				t.Errorf("the new identity does not verify with the admin CA: %v", err)
			}
			export, err := f.svc.PKIServer().ExportCertificate(ctx, &gatewayv1.ExportCertificateRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if export.GetCertificate().GetSha256Fingerprint() != info.GetSha256Fingerprint() {
				t.Error("export does not return the new identity")
			}
		})
	}
}

func TestCreateCertificateRefused(t *testing.T) {
	day := 24 * time.Hour
	rsa := gatewayv1.KeyType_KEY_TYPE_RSA
	ecdsa := gatewayv1.KeyType_KEY_TYPE_ECDSA
	many := make([]string, maxHostnames+1)
	for i := range many {
		many[i] = "h" + strings.Repeat("x", i%50) + ".example.com"
	}
	tests := []struct {
		name string
		req  *gatewayv1.CreateCertificateRequest
	}{
		{"RSA 1024", &gatewayv1.CreateCertificateRequest{Key: &gatewayv1.KeySpec{Type: rsa, RsaBits: 1024}}},
		{"RSA with a curve", &gatewayv1.CreateCertificateRequest{Key: &gatewayv1.KeySpec{Type: rsa, Curve: "P-256"}}},
		{"ECDSA P-521", &gatewayv1.CreateCertificateRequest{Key: &gatewayv1.KeySpec{Type: ecdsa, Curve: "P-521"}}},
		{"ECDSA with bits", &gatewayv1.CreateCertificateRequest{Key: &gatewayv1.KeySpec{Type: ecdsa, RsaBits: 2048}}},
		{"Ed25519 with bits", &gatewayv1.CreateCertificateRequest{Key: &gatewayv1.KeySpec{Type: gatewayv1.KeyType_KEY_TYPE_ED25519, RsaBits: 2048}}},
		{"unknown key type", &gatewayv1.CreateCertificateRequest{Key: &gatewayv1.KeySpec{Type: 9}}},
		{"hostname with a space", &gatewayv1.CreateCertificateRequest{Hostnames: []string{"bad host"}}},
		{"hostname with an underscore", &gatewayv1.CreateCertificateRequest{Hostnames: []string{"a_b.example.com"}}},
		{"hostname with a leading hyphen", &gatewayv1.CreateCertificateRequest{Hostnames: []string{"-gw.example.com"}}},
		{"hostname with an empty label", &gatewayv1.CreateCertificateRequest{Hostnames: []string{"gw..example.com"}}},
		{"wildcard alone", &gatewayv1.CreateCertificateRequest{Hostnames: []string{"*"}}},
		{"too many hostnames", &gatewayv1.CreateCertificateRequest{Hostnames: many}},
		{"zero validity", &gatewayv1.CreateCertificateRequest{Validity: durationpb.New(0)}},
		{"negative validity", &gatewayv1.CreateCertificateRequest{Validity: durationpb.New(-day)}},
		{"validity over the maximum", &gatewayv1.CreateCertificateRequest{Validity: durationpb.New(pki.MaxLeafValidity + day)}},
		{"validity past the CA's", &gatewayv1.CreateCertificateRequest{Validity: durationpb.New(pki.MaxLeafValidity - day)}},
	}
	f := newFixture(t)
	before := pki.Fingerprint(leafOf(t, f))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.PKIServer().CreateCertificate(context.Background(), tt.req)
			if codeOf(err) != codes.InvalidArgument {
				t.Fatalf("code %v (%v), want InvalidArgument", codeOf(err), err)
			}
			if pki.Fingerprint(leafOf(t, f)) != before || f.identityChanges.Load() != 0 {
				t.Fatal("a refused request changed the identity")
			}
		})
	}
}

func TestExportCertificate(t *testing.T) {
	f := newFixture(t)
	resp, err := f.svc.PKIServer().ExportCertificate(context.Background(), &gatewayv1.ExportCertificateRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(resp.GetPem(), []byte("PRIVATE KEY")) {
		t.Fatal("export contains a private key")
	}
	certs, err := pki.ParseCertificatesPEM(resp.GetPem())
	if err != nil {
		t.Fatal(err)
	}
	leaf := leafOf(t, f)
	info := resp.GetCertificate()
	if pki.Fingerprint(certs[0]) != pki.Fingerprint(leaf) || info.GetSha256Fingerprint() != pki.Fingerprint(leaf) {
		t.Fatal("export is not the live identity")
	}
	if info.GetSubject() != "CN=localhost" || info.GetKeyType() != "ecdsa-P-256" ||
		!info.GetNotBefore().AsTime().Equal(leaf.NotBefore) || !info.GetNotAfter().AsTime().Equal(leaf.NotAfter) {
		t.Errorf("certificate info %v", info)
	}
}

// testCA returns a CA and its certificate's PEM.
func testCA(t *testing.T, name string) (*pki.Authority, []byte) {
	t.Helper()
	ca, err := pki.NewCA(name, pki.DefaultKeySpec(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca, ca.CertPEM()
}

func TestTruststores(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	caA, pemA := testCA(t, "A")
	_, pemB := testCA(t, "B")
	_, pemC := testCA(t, "C")
	fpA, fpB, fpC := pki.Fingerprint(caA.Cert), mustFingerprint(t, pemB), mustFingerprint(t, pemC)
	keyPEM, err := caA.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	srv := f.svc.PKIServer()
	add := func(name string, pem ...[]byte) ([]string, error) {
		resp, err := srv.AddTrustedCertificates(ctx, &gatewayv1.AddTrustedCertificatesRequest{Truststore: name, Pem: bytes.Join(pem, nil)})
		var fps []string
		for _, c := range resp.GetAdded() {
			fps = append(fps, c.GetSha256Fingerprint())
		}
		return fps, err
	}
	list := func(name string) ([]*gatewayv1.Truststore, error) {
		resp, err := srv.ListTruststores(ctx, &gatewayv1.ListTruststoresRequest{Name: name})
		return resp.GetTruststores(), err
	}
	remove := func(name, fp string) error {
		_, err := srv.RemoveTrustedCertificate(ctx, &gatewayv1.RemoveTrustedCertificateRequest{Truststore: name, Sha256Fingerprint: fp})
		return err
	}

	t.Run("add refuses bad input", func(t *testing.T) {
		for _, tc := range []struct {
			name, store string
			pem         []byte
		}{
			{"empty name", "", pemA},
			{"name with a slash", "a/b", pemA},
			{"name of 65 characters", strings.Repeat("n", 65), pemA},
			{"no PEM", "ts", nil},
			{"garbage", "ts", []byte("not a certificate")},
			{"a private key", "ts", keyPEM},
			{"a certificate and a key", "ts", append(bytes.Clone(pemA), keyPEM...)},
			{"trailing garbage", "ts", append(bytes.Clone(pemA), "junk"...)},
			{"corrupt certificate", "ts", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := add(tc.store, tc.pem)
				if codeOf(err) != codes.InvalidArgument {
					t.Fatalf("code %v (%v), want InvalidArgument", codeOf(err), err)
				}
				assertNoLeak(t, "the error", err.Error(), keyPEM)
			})
		}
		if got, err := list(""); err != nil || len(got) != 0 {
			t.Fatalf("refused adds stored something: %v %v", got, err)
		}
	})

	t.Run("add dedupes by fingerprint", func(t *testing.T) {
		for _, step := range []struct {
			pem  [][]byte
			want []string
		}{
			{[][]byte{pemA}, []string{fpA}},
			{[][]byte{pemA, pemB, pemB}, []string{fpB}},
			{[][]byte{[]byte("openssl text before a block\n"), pemA}, nil},
		} {
			got, err := add("backends", step.pem...)
			if err != nil || !slices.Equal(got, step.want) {
				t.Fatalf("added %q (%v), want %q", got, err, step.want)
			}
		}
	})

	t.Run("list", func(t *testing.T) {
		if _, err := add("other", pemC); err != nil {
			t.Fatal(err)
		}
		all, err := list("")
		if err != nil || len(all) != 2 || all[0].GetName() != "backends" || all[1].GetName() != "other" {
			t.Fatalf("list all: %v %v", all, err)
		}
		one, err := list("backends")
		if err != nil || len(one) != 1 || len(one[0].GetCertificates()) != 2 {
			t.Fatalf("list backends: %v %v", one, err)
		}
		c := one[0].GetCertificates()[0]
		if c.GetSubject() != "CN=A" || c.GetIssuer() != "CN=A" || c.GetSha256Fingerprint() != fpA ||
			c.GetKeyType() != "ecdsa-P-256" || c.GetSerial() != caA.Cert.SerialNumber.Text(16) ||
			!c.GetNotAfter().AsTime().Equal(caA.Cert.NotAfter) {
			t.Errorf("certificate info %v", c)
		}
		if _, err := list("nope"); codeOf(err) != codes.NotFound {
			t.Fatalf("list unknown: %v", err)
		}
		if _, err := list("bad name"); codeOf(err) != codes.InvalidArgument {
			t.Fatalf("list bad name: %v", err)
		}
	})

	t.Run("pool", func(t *testing.T) {
		leafPEM, _, err := caA.IssueServer([]string{"backend.example.com"}, pki.DefaultKeySpec(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := pki.ParseCertificatesPEM(leafPEM)
		if err != nil {
			t.Fatal(err)
		}
		pool, err := f.svc.Truststore(ctx, "backends")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := leaf[0].Verify(x509.VerifyOptions{Roots: pool, DNSName: "backend.example.com"}); err != nil {
			t.Fatalf("the truststore does not verify a leaf of its CA: %v", err)
		}
		other, err := f.svc.Truststore(ctx, "other")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := leaf[0].Verify(x509.VerifyOptions{Roots: other}); err == nil {
			t.Fatal("another truststore verifies the leaf")
		}
		if _, err := f.svc.Truststore(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown truststore: %v", err)
		}
	})

	t.Run("remove", func(t *testing.T) {
		for _, tc := range []struct {
			name, store, fp string
			want            codes.Code
		}{
			{"bad fingerprint", "backends", "xyz", codes.InvalidArgument},
			{"short fingerprint", "backends", fpA[:62], codes.InvalidArgument},
			{"bad name", "a/b", fpA, codes.InvalidArgument},
			{"unknown truststore", "nope", fpA, codes.NotFound},
			{"certificate not in it", "backends", fpC, codes.NotFound},
			{"openssl form", "backends", colons(strings.ToUpper(fpA)), codes.OK},
			{"already removed", "backends", fpA, codes.NotFound},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if err := remove(tc.store, tc.fp); codeOf(err) != tc.want {
					t.Fatalf("code %v (%v), want %v", codeOf(err), err, tc.want)
				}
			})
		}
		one, err := list("backends")
		if err != nil || len(one[0].GetCertificates()) != 1 || one[0].GetCertificates()[0].GetSha256Fingerprint() != fpB {
			t.Fatalf("after removing A: %v %v", one, err)
		}
		// Removing the last certificate removes the truststore.
		if err := remove("backends", fpB); err != nil {
			t.Fatal(err)
		}
		if _, err := list("backends"); codeOf(err) != codes.NotFound {
			t.Fatalf("emptied truststore still listed: %v", err)
		}
		if all, err := list(""); err != nil || len(all) != 1 {
			t.Fatalf("list all: %v %v", all, err)
		}
	})
}

func mustFingerprint(t *testing.T, pem []byte) string {
	t.Helper()
	certs, err := pki.ParseCertificatesPEM(pem)
	if err != nil {
		t.Fatal(err)
	}
	return pki.Fingerprint(certs[0])
}

// colons writes a hex fingerprint as openssl does: AB:CD:…
func colons(hex string) string {
	var parts []string
	for i := 0; i < len(hex); i += 2 {
		parts = append(parts, hex[i:i+2])
	}
	return strings.Join(parts, ":")
}
