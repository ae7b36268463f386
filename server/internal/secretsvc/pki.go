package secretsvc

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/securegw/gateway/internal/pki"
	"github.com/securegw/gateway/internal/secrets"
	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
	"github.com/securegw/gateway/store"
)

// Defaults and limits of CreateCertificate.
const (
	DefaultTLSValidity = 825 * 24 * time.Hour
	maxHostnames       = 100
)

// LoadIdentity returns the gateway's TLS identity from the store, its key
// unsealed, for pki.NewReloader.
func (s *Service) LoadIdentity(ctx context.Context) (*tls.Certificate, error) {
	// The certificate and the key are two reads: a certificate that did not
	// change across the key's read belongs with it (CreateCertificate
	// writes both in one transaction, always with a new certificate).
	for range 3 {
		certPEM, err := s.st.GetMeta(ctx, MetaTLSCert)
		if err != nil {
			return nil, fmt.Errorf("reading the TLS certificate: %w", err)
		}
		var again []byte
		keyPEM, err := s.openLive(ctx, MetaTLSKey, func() ([]byte, error) {
			sealed, err := s.st.GetMeta(ctx, MetaTLSKey)
			if err == nil {
				again, err = s.st.GetMeta(ctx, MetaTLSCert)
			}
			return sealed, err
		})
		if err != nil {
			return nil, fmt.Errorf("unsealing the TLS key: %w", err)
		}
		if !bytes.Equal(certPEM, again) {
			clear(keyPEM)
			continue
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		clear(keyPEM)
		if err != nil {
			return nil, fmt.Errorf("TLS identity: %w", err)
		}
		return &cert, nil
	}
	return nil, errors.New("TLS identity: changing too fast to read")
}

// pkiServer implements gatewayv1.PKIServiceServer.
type pkiServer struct {
	gatewayv1.UnimplementedPKIServiceServer
	s *Service
}

func (p pkiServer) CreateCertificate(ctx context.Context, req *gatewayv1.CreateCertificateRequest) (*gatewayv1.CreateCertificateResponse, error) {
	spec, err := keySpecFromProto(req.GetKey())
	if err != nil {
		return nil, err
	}
	validity := DefaultTLSValidity
	if v := req.GetValidity(); v != nil {
		if err := v.CheckValid(); err != nil {
			return nil, invalidf("validity: %v", err)
		}
		validity = v.AsDuration()
	}
	if validity <= 0 || validity > pki.MaxLeafValidity {
		return nil, invalidf("validity %s out of range (0, %d days]", validity, pki.MaxLeafValidity/(24*time.Hour))
	}
	hosts, err := checkHosts(req.GetHostnames())
	if err != nil {
		return nil, err
	}
	cert, err := p.s.createCertificate(ctx, spec, hosts, validity)
	if err != nil {
		return nil, rpcError(err)
	}
	if p.s.onIdentity != nil {
		p.s.onIdentity()
	}
	p.s.log.InfoContext(ctx, "new TLS identity stored", "subject", cert.Subject.String(), "key", spec.String(),
		"not_after", cert.NotAfter, "fingerprint", pki.Fingerprint(cert))
	return &gatewayv1.CreateCertificateResponse{Certificate: certInfo(cert)}, nil
}

// authority unseals the admin CA.
func (s *Service) authority(ctx context.Context, kr *secrets.Keyring) (*pki.Authority, error) {
	caPEM, err := s.st.GetMeta(ctx, MetaCACert)
	if err != nil {
		return nil, fmt.Errorf("reading the CA certificate: %w", err)
	}
	sealed, err := s.st.GetMeta(ctx, MetaCAKey)
	if err != nil {
		return nil, fmt.Errorf("reading the CA key: %w", err)
	}
	caKey, err := kr.Open(MetaCAKey, sealed)
	if err != nil {
		return nil, fmt.Errorf("unsealing the CA key: %w", err)
	}
	defer clear(caKey)
	return pki.LoadAuthority(caPEM, caKey)
}

// DefaultClientValidity is the validity of an issued management client certificate.
const DefaultClientValidity = 90 * 24 * time.Hour

// IssueClientCertificate signs a management client certificate for a CSR.
func (p pkiServer) IssueClientCertificate(ctx context.Context, req *gatewayv1.IssueClientCertificateRequest) (*gatewayv1.IssueClientCertificateResponse, error) {
	validity := DefaultClientValidity
	if v := req.GetValidity(); v != nil {
		if err := v.CheckValid(); err != nil {
			return nil, invalidf("validity: %v", err)
		}
		validity = v.AsDuration()
	}
	csr, err := pki.ParseCSR(req.GetCsrPem())
	if err != nil {
		return nil, invalidf("%v", err)
	}
	p.s.mu.Lock()
	var ca *pki.Authority
	kr, err := p.s.follow(ctx)
	if err == nil {
		ca, err = p.s.authority(ctx, kr)
	}
	p.s.mu.Unlock()
	if err != nil {
		return nil, rpcError(err)
	}
	certPEM, err := ca.SignClientCSR(csr, validity)
	if err != nil {
		return nil, invalidf("%v", err)
	}
	certs, err := pki.ParseCertificatesPEM(certPEM)
	if err != nil {
		return nil, err
	}
	p.s.log.InfoContext(ctx, "management client certificate issued", "principal", certs[0].Subject.CommonName,
		"not_after", certs[0].NotAfter, "fingerprint", pki.Fingerprint(certs[0]))
	return &gatewayv1.IssueClientCertificateResponse{CertificatePem: certPEM, CaPem: ca.CertPEM(), Certificate: certInfo(certs[0])}, nil
}

// createCertificate issues a server certificate with the admin CA and
// stores it with its sealed key. No hosts means the current identity's.
func (s *Service) createCertificate(ctx context.Context, spec pki.KeySpec, hosts []string, validity time.Duration) (*x509.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kr, err := s.follow(ctx) // then no rotation through this gateway can swap it while s.mu is held
	if err != nil {
		return nil, err
	}
	if len(hosts) == 0 {
		cur, err := s.identityChain(ctx)
		if errors.Is(err, store.ErrNotFound) {
			return nil, invalidf("no current TLS identity to take hostnames from: give hostnames")
		}
		if err != nil {
			return nil, err
		}
		hosts = append(hosts, cur[0].DNSNames...)
		for _, ip := range cur[0].IPAddresses {
			hosts = append(hosts, ip.String())
		}
		if len(hosts) == 0 {
			return nil, invalidf("the current TLS identity names no host: give hostnames")
		}
	}
	ca, err := s.authority(ctx, kr)
	if err != nil {
		return nil, err
	}
	if end := time.Now().Add(validity); end.After(ca.Cert.NotAfter) {
		return nil, invalidf("validity %s would end after the CA certificate (%s)", validity, ca.Cert.NotAfter.UTC().Format(time.RFC3339))
	}
	certPEM, keyPEM, err := ca.IssueServer(hosts, spec, validity)
	if err != nil {
		return nil, err
	}
	defer clear(keyPEM)
	sealedKey, err := kr.Seal(MetaTLSKey, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("sealing the TLS key: %w", err)
	}
	if _, err := s.st.RewriteObjects(ctx, nil, keepValue, map[string][]byte{MetaTLSCert: certPEM, MetaTLSKey: sealedKey}); err != nil {
		return nil, fmt.Errorf("storing the TLS identity: %w", err)
	}
	certs, err := pki.ParseCertificatesPEM(certPEM)
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}

// keySpecFromProto validates a requested key; nil means ECDSA P-256.
func keySpecFromProto(k *gatewayv1.KeySpec) (pki.KeySpec, error) {
	var typ string
	switch k.GetType() {
	case gatewayv1.KeyType_KEY_TYPE_UNSPECIFIED:
	case gatewayv1.KeyType_KEY_TYPE_RSA:
		typ = pki.KeyRSA
	case gatewayv1.KeyType_KEY_TYPE_ECDSA:
		typ = pki.KeyECDSA
	case gatewayv1.KeyType_KEY_TYPE_ED25519:
		typ = pki.KeyEd25519
	default:
		return pki.KeySpec{}, invalidf("unknown key type %d", k.GetType())
	}
	spec, err := pki.ParseKeySpec(typ, int(k.GetRsaBits()), k.GetCurve())
	if err != nil {
		return pki.KeySpec{}, invalidf("key: %v", err)
	}
	return spec, nil
}

// checkHosts trims the requested hostnames and refuses what a certificate
// cannot name: host names with the rule of internal/pki, or IP addresses.
func checkHosts(in []string) ([]string, error) {
	var hosts []string
	for _, h := range in {
		if h = strings.TrimSpace(h); h != "" {
			hosts = append(hosts, h)
		}
	}
	if len(hosts) > maxHostnames {
		return nil, invalidf("%d hostnames, more than %d", len(hosts), maxHostnames)
	}
	for _, h := range hosts {
		if net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")) != nil {
			continue
		}
		if err := pki.CheckDNSName(strings.ToLower(strings.TrimSuffix(h, "."))); err != nil {
			return nil, invalidf("invalid hostname %s: %v", clip(h), err)
		}
	}
	return hosts, nil
}

// identityChain returns the stored TLS certificate chain.
func (s *Service) identityChain(ctx context.Context) ([]*x509.Certificate, error) {
	certPEM, err := s.st.GetMeta(ctx, MetaTLSCert)
	if err != nil {
		return nil, fmt.Errorf("reading the TLS certificate: %w", err)
	}
	certs, err := pki.ParseCertificatesPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("stored TLS certificate: %w", err)
	}
	return certs, nil
}

func (p pkiServer) ExportCertificate(ctx context.Context, _ *gatewayv1.ExportCertificateRequest) (*gatewayv1.ExportCertificateResponse, error) {
	certs, err := p.s.identityChain(ctx)
	if err != nil {
		return nil, err
	}
	return &gatewayv1.ExportCertificateResponse{Pem: encodePEM(certs), Certificate: certInfo(certs[0])}, nil
}

// encodePEM encodes certificates as PEM blocks, nothing in between.
func encodePEM(certs []*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}) // writing to a Buffer cannot fail
	}
	return b.Bytes()
}

// certInfo describes a certificate.
func certInfo(c *x509.Certificate) *gatewayv1.CertificateInfo {
	ips := make([]string, len(c.IPAddresses))
	for i, ip := range c.IPAddresses {
		ips[i] = ip.String()
	}
	return &gatewayv1.CertificateInfo{
		Subject:           c.Subject.String(),
		Issuer:            c.Issuer.String(),
		DnsNames:          c.DNSNames,
		IpAddresses:       ips,
		NotBefore:         timestamppb.New(c.NotBefore),
		NotAfter:          timestamppb.New(c.NotAfter),
		KeyType:           pki.KeyTypeOf(c),
		Sha256Fingerprint: pki.Fingerprint(c),
		Serial:            c.SerialNumber.Text(16),
	}
}
