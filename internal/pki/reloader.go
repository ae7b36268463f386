package pki

import (
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// Reloader holds a TLS identity that can be replaced while servers use it.
// Set tls.Config.GetCertificate to its method; each new handshake sees the
// current identity, and open connections keep theirs.
type Reloader struct {
	load func() (*tls.Certificate, error)
	mu   sync.Mutex // serialises Reload so that the last load wins
	cur  atomic.Pointer[tls.Certificate]
}

// NewReloader loads the first identity with load, which Reload calls again.
func NewReloader(load func() (*tls.Certificate, error)) (*Reloader, error) {
	if load == nil {
		return nil, errors.New("tls reloader: no load function")
	}
	r := &Reloader{load: load}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// FileLoader returns a load function reading a PEM certificate chain and key
// from two files, for [NewReloader].
func FileLoader(certFile, keyFile string) func() (*tls.Certificate, error) {
	return func() (*tls.Certificate, error) {
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, err
		}
		return &c, nil
	}
}

// Reload loads the identity again. On success it replaces the current one;
// on failure the current one stays in use and the error is returned.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.load()
	if err != nil {
		return fmt.Errorf("reloading TLS identity: %w", err)
	}
	if c == nil || len(c.Certificate) == 0 {
		return errors.New("reloading TLS identity: load returned no certificate")
	}
	r.cur.Store(c)
	return nil
}

// Current returns the identity in use.
func (r *Reloader) Current() *tls.Certificate { return r.cur.Load() }

// GetCertificate is a tls.Config.GetCertificate returning the current identity.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cur.Load(), nil
}
