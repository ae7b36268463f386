package proxy

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"hash"
	"maps"
	"slices"
	"sync"

	"github.com/securegw/gateway/internal/topology"
)

// fingerprint identifies what serves a compiled service: its definition
// (backend URLs, dispatch and HA settings, params), its topology's provider
// chain with every param, the versions of the secrets the chain resolved
// and of the service's truststore and client certificate. Two compiled
// services with equal fingerprints serve a long-lived connection alike, so
// an upgraded connection carries over a redeploy that keeps it (upgrade.go).
//
// It is an HMAC under a per-proxy random key: a secret's version enters as
// its keyed digest, never in clear, and the fingerprint means nothing
// outside the process.
type fingerprint [sha256.Size]byte

// fingerprinter computes the fingerprints of one topology's services while
// it compiles. It records the keyed digests of the secrets the chain
// resolves (concurrently, if a provider does so).
type fingerprinter struct {
	mac     hash.Hash
	buf     bytes.Buffer
	enc     *json.Encoder
	chainID fingerprint

	mu      sync.Mutex
	secrets map[string]fingerprint // by alias
}

func (p *Proxy) newFingerprinter() *fingerprinter {
	f := &fingerprinter{mac: hmac.New(sha256.New, p.fpKey[:]), secrets: map[string]fingerprint{}}
	f.enc = json.NewEncoder(&f.buf)
	return f
}

// recordSecret notes the version of a secret the chain resolved.
func (f *fingerprinter) recordSecret(alias string, secret []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mac.Reset()
	f.mac.Write(secret)
	var d fingerprint
	f.mac.Sum(d[:0])
	f.secrets[alias] = d
}

// chain digests the providers (in document order, with their params) and
// the versions of the secrets they resolved; call it once the chain is built.
func (f *fingerprinter) chain(providers []topology.Provider) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mac.Reset()
	if err := f.writeJSON(providers); err != nil {
		return err
	}
	for _, alias := range slices.Sorted(maps.Keys(f.secrets)) {
		d := f.secrets[alias]
		f.mac.Write([]byte(alias))
		f.mac.Write([]byte{0})
		f.mac.Write(d[:])
	}
	f.mac.Sum(f.chainID[:0])
	return nil
}

// service combines the chain's digest with the service's definition and
// the digests of its truststore and client certificate.
func (f *fingerprinter) service(ts *topology.Service, bt backendTLS) (fingerprint, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mac.Reset()
	f.mac.Write(f.chainID[:])
	if err := f.writeJSON(ts); err != nil {
		return fingerprint{}, err
	}
	for _, id := range [...]string{bt.rootsID, bt.certID} {
		f.mac.Write([]byte(id))
		f.mac.Write([]byte{0})
	}
	var fp fingerprint
	f.mac.Sum(fp[:0])
	return fp, nil
}

// writeJSON hashes v's JSON (struct fields in order, map keys sorted: the
// same value gives the same bytes, newline-terminated).
func (f *fingerprinter) writeJSON(v any) error {
	f.buf.Reset()
	if err := f.enc.Encode(v); err != nil {
		return fmt.Errorf("fingerprinting: %w", err)
	}
	f.mac.Write(f.buf.Bytes())
	return nil
}
