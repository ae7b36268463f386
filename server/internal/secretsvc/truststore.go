package secretsvc

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/securegw/gateway/internal/pki"
	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
	"github.com/securegw/gateway/store"
)

var truststoreNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// casAttempts bounds the compare-and-set retries of a truststore change
// racing with another.
const casAttempts = 5

func checkTruststoreName(name string) error {
	if !truststoreNameRE.MatchString(name) {
		return invalidf("invalid truststore name %s: a truststore name is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", clip(name))
	}
	return nil
}

// Truststore returns the named truststore as a pool, for a listener's
// client authentication or a backend's server verification. A missing one
// gives an error wrapping store.ErrNotFound.
func (s *Service) Truststore(ctx context.Context, name string) (*x509.CertPool, error) {
	certs, _, err := s.truststore(ctx, name)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// TruststorePEM returns a named truststore's certificates as PEM, checked
// to parse. The proxy uses it for services' dispatch.truststore.
func (s *Service) TruststorePEM(ctx context.Context, name string) ([]byte, error) {
	certs, _, err := s.truststore(ctx, name)
	if err != nil {
		return nil, err
	}
	return encodePEM(certs), nil
}

// truststore reads and parses a truststore and returns its revision.
func (s *Service) truststore(ctx context.Context, name string) ([]*x509.Certificate, int64, error) {
	o, err := s.st.GetObject(ctx, store.KindTruststore, name)
	if err != nil {
		return nil, 0, fmt.Errorf("truststore %q: %w", name, err)
	}
	certs, err := pki.ParseCertificatesPEM(o.Value)
	if err != nil {
		return nil, 0, fmt.Errorf("stored truststore %q: %w", name, err)
	}
	return certs, o.Revision, nil
}

// updateTruststore applies change to a truststore's certificates (none when
// it does not exist) and stores the result with compare-and-set, retrying
// when another change came first. An empty result deletes the truststore.
func (s *Service) updateTruststore(ctx context.Context, name string, change func([]*x509.Certificate) ([]*x509.Certificate, error)) error {
	for range casAttempts {
		certs, rev, err := s.truststore(ctx, name)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		next, err := change(certs)
		if err != nil || next == nil {
			return err
		}
		switch {
		case len(next) == 0 && rev == 0:
			return nil
		case len(next) == 0:
			_, err = s.st.DeleteObject(ctx, store.KindTruststore, name, rev)
		default:
			_, err = s.st.PutObject(ctx, store.Object{Kind: store.KindTruststore, Key: name, Value: encodePEM(next)}, rev)
		}
		if errors.Is(err, store.ErrRevisionMismatch) || (rev != 0 && errors.Is(err, store.ErrNotFound)) {
			continue
		}
		if err != nil {
			return fmt.Errorf("storing truststore %q: %w", name, err)
		}
		return nil
	}
	return fmt.Errorf("truststore %q: %w: it kept changing, try again", name, store.ErrRevisionMismatch)
}

func (p pkiServer) AddTrustedCertificates(ctx context.Context, req *gatewayv1.AddTrustedCertificatesRequest) (*gatewayv1.AddTrustedCertificatesResponse, error) {
	name := req.GetTruststore()
	if err := checkTruststoreName(name); err != nil {
		return nil, err
	}
	in, err := pki.ParseCertificatesPEM(req.GetPem())
	if err != nil {
		return nil, invalidf("certificates for truststore %q: %v", name, err)
	}
	var added []*x509.Certificate
	err = p.s.updateTruststore(ctx, name, func(certs []*x509.Certificate) ([]*x509.Certificate, error) {
		added = added[:0]
		seen := map[string]bool{}
		for _, c := range certs {
			seen[pki.Fingerprint(c)] = true
		}
		for _, c := range in {
			if fp := pki.Fingerprint(c); !seen[fp] {
				seen[fp] = true
				added = append(added, c)
			}
		}
		if len(added) == 0 {
			return nil, nil // nothing to write
		}
		return append(certs, added...), nil
	})
	if err != nil {
		return nil, err
	}
	if len(added) > 0 {
		if err := p.s.changed(ctx, store.KindTruststore, "", name); err != nil {
			return nil, err
		}
	}
	resp := &gatewayv1.AddTrustedCertificatesResponse{Added: make([]*gatewayv1.CertificateInfo, 0, len(added))}
	for _, c := range added {
		resp.Added = append(resp.Added, certInfo(c))
	}
	return resp, nil
}

func (p pkiServer) ListTruststores(ctx context.Context, req *gatewayv1.ListTruststoresRequest) (*gatewayv1.ListTruststoresResponse, error) {
	var names []string
	if name := req.GetName(); name != "" {
		if err := checkTruststoreName(name); err != nil {
			return nil, err
		}
		names = []string{name}
	} else {
		objs, err := p.s.st.ListObjects(ctx, store.KindTruststore, "")
		if err != nil {
			return nil, fmt.Errorf("listing truststores: %w", err)
		}
		for _, o := range objs {
			names = append(names, o.Key)
		}
	}
	resp := &gatewayv1.ListTruststoresResponse{Truststores: make([]*gatewayv1.Truststore, 0, len(names))}
	for _, name := range names {
		certs, _, err := p.s.truststore(ctx, name)
		if errors.Is(err, store.ErrNotFound) && req.GetName() == "" {
			continue // removed since listed
		}
		if err != nil {
			return nil, err
		}
		ts := &gatewayv1.Truststore{Name: name, Certificates: make([]*gatewayv1.CertificateInfo, 0, len(certs))}
		for _, c := range certs {
			ts.Certificates = append(ts.Certificates, certInfo(c))
		}
		resp.Truststores = append(resp.Truststores, ts)
	}
	return resp, nil
}

func (p pkiServer) RemoveTrustedCertificate(ctx context.Context, req *gatewayv1.RemoveTrustedCertificateRequest) (*gatewayv1.RemoveTrustedCertificateResponse, error) {
	name := req.GetTruststore()
	if err := checkTruststoreName(name); err != nil {
		return nil, err
	}
	fp, err := normalizeFingerprint(req.GetSha256Fingerprint())
	if err != nil {
		return nil, err
	}
	err = p.s.updateTruststore(ctx, name, func(certs []*x509.Certificate) ([]*x509.Certificate, error) {
		if certs == nil {
			return nil, fmt.Errorf("truststore %q: %w", name, store.ErrNotFound)
		}
		kept := make([]*x509.Certificate, 0, len(certs))
		for _, c := range certs {
			if pki.Fingerprint(c) != fp {
				kept = append(kept, c)
			}
		}
		if len(kept) == len(certs) {
			return nil, fmt.Errorf("truststore %q has no certificate with SHA-256 fingerprint %s: %w", name, fp, store.ErrNotFound)
		}
		return kept, nil
	})
	if err != nil {
		return nil, err
	}
	if err := p.s.changed(ctx, store.KindTruststore, "", name); err != nil {
		return nil, err
	}
	return &gatewayv1.RemoveTrustedCertificateResponse{}, nil
}

// normalizeFingerprint accepts a SHA-256 fingerprint as 64 hex digits, in
// either case, with or without colons (as openssl prints it).
func normalizeFingerprint(s string) (string, error) {
	fp := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), ":", ""))
	if b, err := hex.DecodeString(fp); err != nil || len(b) != 32 {
		return "", invalidf("invalid SHA-256 fingerprint %s: expected 64 hex digits", clip(s))
	}
	return fp, nil
}
