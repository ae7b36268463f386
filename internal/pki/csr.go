package pki

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ParseCSR parses one PEM certificate request and checks its signature.
func ParseCSR(data []byte) (*x509.CertificateRequest, error) {
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("not a PEM CERTIFICATE REQUEST")
	}
	if len(strings.TrimSpace(string(rest))) != 0 {
		return nil, errors.New("trailing data after the certificate request")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing certificate request: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("certificate request signature: %w", err)
	}
	return csr, nil
}

// SignClientCSR issues a client certificate (ExtKeyUsageClientAuth only)
// for the request's public key, naming only its subject common name: what
// else the request asks (SANs, extensions, other subject fields) is not
// copied. The private key never leaves the requester.
func (a *Authority) SignClientCSR(csr *x509.CertificateRequest, validity time.Duration) ([]byte, error) {
	if a == nil || a.Cert == nil || a.Key == nil {
		return nil, errors.New("no CA certificate and key")
	}
	cn := strings.TrimSpace(csr.Subject.CommonName)
	if cn == "" || len(cn) > 64 || strings.ContainsFunc(cn, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return nil, errors.New("the request's subject common name must be 1-64 printable characters: it names the principal")
	}
	if err := checkValidity(validity, MaxLeafValidity); err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: cn},
		NotBefore:   now.Add(-backdate),
		NotAfter:    now.Add(validity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if tmpl.NotAfter.After(a.Cert.NotAfter) {
		return nil, fmt.Errorf("validity would end %s, after the CA certificate's (%s)",
			tmpl.NotAfter.UTC().Format(time.RFC3339), a.Cert.NotAfter.UTC().Format(time.RFC3339))
	}
	cert, err := sign(tmpl, a.Cert, csr.PublicKey, a.Key)
	if err != nil {
		return nil, fmt.Errorf("signing client certificate for %q: %w", cn, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), nil
}
