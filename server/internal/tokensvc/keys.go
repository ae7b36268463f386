package tokensvc

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/securegw/gateway/internal/jwtkit"
	"github.com/securegw/gateway/server/internal/secretsvc"
	"github.com/securegw/gateway/store"
)

// storedKey is one signing key as sealed in the store (MetaTokenKeys).
type storedKey struct {
	Kid          string    `json:"kid"`
	Alg          string    `json:"alg"`
	PKCS8        []byte    `json:"pkcs8"`
	Created      time.Time `json:"created"`
	Retired      time.Time `json:"retired,omitzero"`
	RetiredUntil time.Time `json:"retired_until,omitzero"`
}

// keyFile is the sealed document: every key, and per algorithm the active one.
type keyFile struct {
	Keys   []storedKey       `json:"keys"`
	Active map[string]string `json:"active"` // alg → kid
}

// signingKey is a decoded key.
type signingKey struct {
	storedKey
	signer crypto.Signer
}

// keySet is the live view of the keys, swapped atomically.
type keySet struct {
	rev    int64
	file   keyFile
	byKid  map[string]*signingKey
	active map[string]*signingKey // alg → key
	jwks   []byte
}

func buildKeySet(f keyFile, rev int64, now time.Time) (*keySet, error) {
	ks := &keySet{rev: rev, file: f, byKid: map[string]*signingKey{}, active: map[string]*signingKey{}}
	set := jwtkit.JWKS{Keys: []jwtkit.JWK{}}
	for _, k := range f.Keys {
		priv, err := x509.ParsePKCS8PrivateKey(k.PKCS8)
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", k.Kid, err)
		}
		signer, ok := priv.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("signing key %s: not a signer", k.Kid)
		}
		sk := &signingKey{storedKey: k, signer: signer}
		ks.byKid[k.Kid] = sk
		if !k.Retired.IsZero() && !now.Before(k.RetiredUntil) {
			continue // verifies nothing live: out of the JWKS
		}
		j, err := jwtkit.PublicJWK(signer.Public(), k.Kid, k.Alg)
		if err != nil {
			return nil, err
		}
		set.Keys = append(set.Keys, j)
	}
	for alg, kid := range f.Active {
		if k := ks.byKid[kid]; k != nil {
			ks.active[alg] = k
		}
	}
	var err error
	if ks.jwks, err = json.Marshal(set); err != nil {
		return nil, err
	}
	return ks, nil
}

// newStoredKey generates a key for alg.
func newStoredKey(alg string, rsaBits int, now time.Time) (storedKey, error) {
	signer, err := jwtkit.Generate(alg, rsaBits)
	if err != nil {
		return storedKey{}, err
	}
	kid, err := jwtkit.Thumbprint(signer.Public())
	if err != nil {
		return storedKey{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(signer)
	if err != nil {
		return storedKey{}, err
	}
	return storedKey{Kid: kid, Alg: alg, PKCS8: der, Created: now.UTC()}, nil
}

// loadKeys reads the sealed key file; a missing one is an empty set.
func (s *Service) loadKeys(ctx context.Context) (*keySet, error) {
	plain, rev, err := s.sealer.LoadSealedMeta(ctx, secretsvc.MetaTokenKeys)
	if errors.Is(err, store.ErrNotFound) {
		return buildKeySet(keyFile{Active: map[string]string{}}, 0, s.now())
	}
	if err != nil {
		return nil, fmt.Errorf("reading the token signing keys: %w", err)
	}
	var f keyFile
	if err := json.Unmarshal(plain, &f); err != nil {
		return nil, fmt.Errorf("decoding the token signing keys: %w", err)
	}
	if f.Active == nil {
		f.Active = map[string]string{}
	}
	return buildKeySet(f, rev, s.now())
}

// editKeys changes the stored key file with edit (compare-and-set on its
// revision, retried when another writer won) and waits until the change is
// live. It returns the key set edit saw.
func (s *Service) editKeys(ctx context.Context, edit func(f *keyFile, now time.Time) error) error {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	for range 5 {
		cur, err := s.loadKeys(ctx)
		if err != nil {
			return err
		}
		f := cur.file
		f.Keys = slices.Clone(f.Keys)
		active := make(map[string]string, len(f.Active))
		for k, v := range f.Active {
			active[k] = v
		}
		f.Active = active
		if err := edit(&f, s.now()); err != nil {
			return err
		}
		plain, err := json.Marshal(f)
		if err != nil {
			return err
		}
		rev, err := s.sealer.StoreSealedMeta(ctx, secretsvc.MetaTokenKeys, plain, cur.rev)
		if errors.Is(err, store.ErrRevisionMismatch) {
			continue
		}
		if err != nil {
			return fmt.Errorf("storing the token signing keys: %w", err)
		}
		return s.waitFor(ctx, rev)
	}
	return errors.New("storing the token signing keys: too many concurrent changes")
}

// activeKey returns the active key for alg, creating one when there is none.
func (s *Service) activeKey(ctx context.Context, alg string) (*signingKey, error) {
	if k := s.keys.Load().active[alg]; k != nil {
		return k, nil
	}
	err := s.editKeys(ctx, func(f *keyFile, now time.Time) error {
		if _, ok := f.Active[alg]; ok {
			return nil
		}
		k, err := newStoredKey(alg, s.opts.RSABits, now)
		if err != nil {
			return err
		}
		f.Keys = append(f.Keys, k)
		f.Active[alg] = k.Kid
		return nil
	})
	if err != nil {
		return nil, err
	}
	if k := s.keys.Load().active[alg]; k != nil {
		return k, nil
	}
	return nil, fmt.Errorf("no active %s signing key", alg)
}

// RotateKey makes a new key active for alg. The key it replaces is retired:
// it signs nothing more, and stays in the JWKS until the last token it
// signed has expired.
func (s *Service) RotateKey(ctx context.Context, alg string, rsaBits int) (storedKey, error) {
	alg, err := jwtkit.CheckAlgorithm(alg)
	if err != nil {
		return storedKey{}, invalid(err.Error())
	}
	if rsaBits == 0 {
		rsaBits = s.opts.RSABits
	}
	var created storedKey
	err = s.editKeys(ctx, func(f *keyFile, now time.Time) error {
		k, err := newStoredKey(alg, rsaBits, now)
		if err != nil {
			return invalid(err.Error())
		}
		if old, ok := f.Active[alg]; ok {
			for i := range f.Keys {
				if f.Keys[i].Kid == old {
					f.Keys[i].Retired = now.UTC()
					f.Keys[i].RetiredUntil = s.lastExpiry(old, now)
				}
			}
		}
		f.Keys = append(f.Keys, k)
		f.Active[alg] = k.Kid
		created = k
		return nil
	})
	return created, err
}

// lastExpiry is when the last token signed by kid expires (now when none
// lives), from the token state.
func (s *Service) lastExpiry(kid string, now time.Time) time.Time {
	last := now
	s.tokens.Range(func(_, v any) bool {
		st := v.(*State)
		if st.KeyID == kid && st.MaxAt.After(last) {
			last = st.MaxAt
		}
		return true
	})
	return last.UTC().Add(jwtkit.DefaultLeeway)
}

// dropRetiredKeys removes retired keys that verify nothing live any more.
func (s *Service) dropRetiredKeys(ctx context.Context) error {
	now := s.now()
	stale := false
	for _, k := range s.keys.Load().file.Keys {
		if !k.Retired.IsZero() && !now.Before(k.RetiredUntil) {
			stale = true
		}
	}
	if !stale {
		return nil
	}
	return s.editKeys(ctx, func(f *keyFile, now time.Time) error {
		f.Keys = slices.DeleteFunc(f.Keys, func(k storedKey) bool { return !k.Retired.IsZero() && !now.Before(k.RetiredUntil) })
		return nil
	})
}

// Keys lists the signing keys, oldest first.
func (s *Service) Keys() []storedKey {
	ks := s.keys.Load()
	out := make([]storedKey, 0, len(ks.file.Keys))
	for _, k := range ks.file.Keys {
		k.PKCS8 = nil
		out = append(out, k)
	}
	return out
}

// JWKS is the JSON Web Key Set of every key that verifies live tokens.
func (s *Service) JWKS() []byte { return s.keys.Load().jwks }
