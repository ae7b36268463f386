package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"
)

// Validity limits. Leaves may not outlive their CA either.
const (
	// MaxLeafValidity is the longest validity of a server or client
	// certificate: ten years (the CA/Browser Forum's 825 days applies to
	// publicly trusted certificates, not to this private CA).
	MaxLeafValidity = 3653 * 24 * time.Hour
	// MaxCAValidity is the longest validity of a CA certificate: twenty years.
	MaxCAValidity = 2 * MaxLeafValidity
	// backdate is subtracted from NotBefore to absorb clock skew.
	backdate = time.Minute
)

// Authority is a certificate authority able to issue leaf certificates.
type Authority struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// NewCA creates a self-signed CA certificate and key. The CA signs leaf
// certificates only (MaxPathLen 0).
func NewCA(commonName string, key KeySpec, validity time.Duration) (*Authority, error) {
	if strings.TrimSpace(commonName) == "" {
		return nil, errors.New("creating CA: common name is empty")
	}
	if err := checkValidity(validity, MaxCAValidity); err != nil {
		return nil, fmt.Errorf("creating CA: %w", err)
	}
	signer, err := key.Generate()
	if err != nil {
		return nil, fmt.Errorf("creating CA: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	cert, err := sign(tmpl, nil, signer.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("creating CA: %w", err)
	}
	return &Authority{Cert: cert, Key: signer}, nil
}

// LoadAuthority loads a CA from its PEM certificate and PEM private key
// (PKCS#8, or the legacy PKCS#1 and SEC 1 forms). The certificate must be a
// CA allowed to sign certificates, and the key must match it.
func LoadAuthority(certPEM, keyPEM []byte) (*Authority, error) {
	certs, err := ParseCertificatesPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("loading CA certificate: %w", err)
	}
	if len(certs) != 1 {
		return nil, fmt.Errorf("loading CA certificate: expected one certificate, found %d", len(certs))
	}
	cert := certs[0]
	if !cert.BasicConstraintsValid || !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("loading CA certificate: %q is not a CA certificate allowed to sign certificates", cert.Subject.CommonName)
	}
	key, err := ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("loading CA key: %w", err)
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, errors.New("loading CA: the private key does not match the certificate")
	}
	return &Authority{Cert: cert, Key: key}, nil
}

// CertPEM returns the CA certificate in PEM form.
func (a *Authority) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.Cert.Raw})
}

// KeyPEM returns the CA private key as PKCS#8 PEM. Write it with mode 0600.
func (a *Authority) KeyPEM() ([]byte, error) { return keyPEM(a.Key) }

// CertPool returns a pool holding only the CA certificate, for
// tls.Config.RootCAs or ClientCAs.
func (a *Authority) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(a.Cert)
	return p
}

// IssueServer issues a TLS server certificate for hosts, DNS names and IP
// addresses (IPv6 may be bracketed). The first host is also the subject's
// common name. The key is returned as PKCS#8 PEM.
func (a *Authority) IssueServer(hosts []string, key KeySpec, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	if len(hosts) == 0 {
		return nil, nil, errors.New("issuing server certificate: no hosts")
	}
	tmpl := &x509.Certificate{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	seen := make(map[string]bool, len(hosts))
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")); ip != nil {
			if !seen[ip.String()] {
				seen[ip.String()] = true
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			}
			continue
		}
		name := strings.ToLower(strings.TrimSuffix(h, "."))
		if err := CheckDNSName(name); err != nil {
			return nil, nil, fmt.Errorf("issuing server certificate: invalid host %q: %w", h, err)
		}
		if !seen[name] {
			seen[name] = true
			tmpl.DNSNames = append(tmpl.DNSNames, name)
		}
	}
	// The common name is the first host, normalised like its SAN.
	first := strings.TrimSpace(hosts[0])
	if ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(first, "["), "]")); ip != nil {
		tmpl.Subject.CommonName = ip.String()
	} else if len(tmpl.DNSNames[0]) <= 64 {
		tmpl.Subject.CommonName = tmpl.DNSNames[0]
	}
	certPEM, keyPEM, err = a.issue(tmpl, key, validity)
	if err != nil {
		return nil, nil, fmt.Errorf("issuing server certificate: %w", err)
	}
	return certPEM, keyPEM, nil
}

// IssueClient issues a TLS client certificate whose subject is commonName
// with the organizations orgs (used as the principal and its groups by the
// management API). The key is returned as PKCS#8 PEM.
func (a *Authority) IssueClient(commonName string, orgs []string, key KeySpec, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	if strings.TrimSpace(commonName) == "" {
		return nil, nil, errors.New("issuing client certificate: common name is empty")
	}
	for _, o := range orgs {
		if strings.TrimSpace(o) == "" {
			return nil, nil, errors.New("issuing client certificate: empty organization")
		}
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: commonName, Organization: orgs},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	certPEM, keyPEM, err = a.issue(tmpl, key, validity)
	if err != nil {
		return nil, nil, fmt.Errorf("issuing client certificate for %q: %w", commonName, err)
	}
	return certPEM, keyPEM, nil
}

// issue completes a leaf template (validity, key usage, key) and signs it.
func (a *Authority) issue(tmpl *x509.Certificate, spec KeySpec, validity time.Duration) (certPEM, keyPEMBytes []byte, err error) {
	if a == nil || a.Cert == nil || a.Key == nil {
		return nil, nil, errors.New("no CA certificate and key")
	}
	if err := checkValidity(validity, MaxLeafValidity); err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl.NotBefore = now.Add(-backdate)
	tmpl.NotAfter = now.Add(validity)
	if tmpl.NotAfter.After(a.Cert.NotAfter) {
		return nil, nil, fmt.Errorf("validity would end %s, after the CA certificate's (%s)",
			tmpl.NotAfter.UTC().Format(time.RFC3339), a.Cert.NotAfter.UTC().Format(time.RFC3339))
	}
	key, err := spec.Generate()
	if err != nil {
		return nil, nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	if _, ok := key.(*rsa.PrivateKey); ok {
		// RSA key transport in TLS 1.2; harmless where unused.
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	cert, err := sign(tmpl, a.Cert, key.Public(), a.Key)
	if err != nil {
		return nil, nil, err
	}
	kp, err := keyPEM(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), kp, nil
}

// sign fills the serial number and subject key identifier of tmpl and signs
// it with signer; a nil parent means self-signed.
func sign(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	skid, err := subjectKeyID(pub)
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	tmpl.SubjectKeyId = skid
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("signing certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// maxSerial is 2^128 - 1; serials are uniform in [1, 2^128-1].
var maxSerial = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))

func randomSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, maxSerial)
	if err != nil {
		return nil, fmt.Errorf("generating serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

// subjectKeyID computes the key identifier of RFC 7093, section 2, method 1
// (the leftmost 160 bits of the SHA-256 of the subjectPublicKey bits), the
// method crypto/x509 uses for CA certificates, so that leaves carry one too.
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("computing subject key id: %w", err)
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, fmt.Errorf("computing subject key id: %w", err)
	}
	sum := sha256.Sum256(spki.PublicKey.Bytes)
	return sum[:20], nil
}

func checkValidity(d, maxValidity time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("validity %s must be positive", d)
	}
	if d > maxValidity {
		return fmt.Errorf("validity %s exceeds the maximum of %d days", d, maxValidity/(24*time.Hour))
	}
	return nil
}

// CheckDNSName accepts lower-case host names with an optional leading
// wildcard label, as used in a certificate's DNS SANs.
func CheckDNSName(name string) error {
	if name == "" {
		return errors.New("empty name")
	}
	if len(name) > 253 {
		return errors.New("longer than 253 characters")
	}
	for i, label := range strings.Split(name, ".") {
		if i == 0 && label == "*" && strings.Contains(name, ".") {
			continue
		}
		if label == "" || len(label) > 63 {
			return errors.New("empty or over-long label")
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return errors.New("label starts or ends with a hyphen")
		}
		for _, c := range label {
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
				return fmt.Errorf("character %q not allowed in a host name", c)
			}
		}
	}
	return nil
}

func keyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
