package jwt

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/securegw/gateway/internal/jwtkit"
)

// parsePEM reads public keys and certificates from PEM text.
func parsePEM(data []byte) ([]crypto.PublicKey, error) {
	var out []crypto.PublicKey
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		switch b.Type {
		case "PUBLIC KEY":
			k, err := x509.ParsePKIXPublicKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parsing public key: %w", err)
			}
			out = append(out, k)
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parsing certificate: %w", err)
			}
			out = append(out, c.PublicKey)
		default:
			return nil, fmt.Errorf("PEM block %q is not a public key or certificate", b.Type)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM public key or certificate")
	}
	return out, nil
}

// jwksSource is a JWKS URL's keys: fetched on first use, refreshed when a
// token names an unknown kid, at most once per minInterval whatever the
// tokens say, with a timeout.
type jwksSource struct {
	url         string
	client      *http.Client
	minInterval time.Duration
	now         func() time.Time

	keys    atomic.Pointer[map[string]jwtkit.PublicEntry]
	mu      sync.Mutex   // one fetch at a time
	fetched atomic.Int64 // unix nanos of the last fetch attempt
	fetches atomic.Int64
}

// lookup returns the key for kid, refreshing the set when kid is unknown
// and the last fetch is older than minInterval.
func (s *jwksSource) lookup(ctx context.Context, kid string) (jwtkit.PublicEntry, bool) {
	if m := s.keys.Load(); m != nil {
		if e, ok := (*m)[kid]; ok {
			return e, true
		}
	}
	if !s.due() {
		return jwtkit.PublicEntry{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.keys.Load(); m != nil {
		if e, ok := (*m)[kid]; ok {
			return e, true
		}
	}
	if !s.due() {
		return jwtkit.PublicEntry{}, false
	}
	s.fetched.Store(s.now().UnixNano())
	s.fetches.Add(1)
	m, err := s.fetch(ctx)
	if err != nil {
		return jwtkit.PublicEntry{}, false
	}
	s.keys.Store(&m)
	e, ok := m[kid]
	return e, ok
}

func (s *jwksSource) due() bool {
	last := s.fetched.Load()
	return last == 0 || s.now().Sub(time.Unix(0, last)) >= s.minInterval
}

func (s *jwksSource) fetch(ctx context.Context) (map[string]jwtkit.PublicEntry, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("JWKS %s: status %d", s.url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	return jwtkit.ParseJWKS(body)
}
