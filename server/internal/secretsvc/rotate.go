package secretsvc

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/securegw/gateway/internal/secrets"
	"github.com/securegw/gateway/server/internal/apierr"
	"github.com/securegw/gateway/store"
)

// sealedMeta are the meta values sealed under the data key.
var sealedMeta = []string{MetaCAKey, MetaTLSKey, MetaTokenKeys}

// reencrypt reseals every record written with older settings (a cipher
// other than the configured one) in one transaction, and returns how many
// it rewrote.
func (s *Service) reencrypt(ctx context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kr := s.kr.Load()
	meta, read, err := s.resealMeta(ctx, func(key string, sealed []byte) ([]byte, error) {
		if !kr.Stale(sealed) {
			return nil, nil
		}
		return kr.Reseal(key, sealed)
	})
	if err != nil {
		return 0, err
	}
	// Only the values rewritten must be as read.
	for key := range read {
		if _, ok := meta[key]; !ok {
			delete(read, key)
		}
	}
	n, err := s.st.RewriteObjectsIf(ctx, []string{store.KindAlias}, func(o store.Object) ([]byte, error) {
		r, err := parseAliasKey(o.Key)
		if err != nil {
			return nil, err
		}
		v, err := kr.Reseal(r.aad(), o.Value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r, err)
		}
		return v, nil
	}, meta, unchangedMeta(read))
	if err != nil {
		return 0, rewriteErr("re-encrypting (nothing changed)", err)
	}
	n += len(meta)
	s.log.InfoContext(ctx, "records re-encrypted", "count", n, "cipher", kr.Settings().Cipher)
	return n, nil
}

// resealMeta applies reseal to each sealed meta value that exists and
// returns the new values (reseal returning nil leaves one out; nil when
// there are none) and the values it read (nil for a missing one), which
// the rewrite storing the new values must find unchanged (unchangedMeta).
func (s *Service) resealMeta(ctx context.Context, reseal func(key string, sealed []byte) ([]byte, error)) (meta, read map[string][]byte, err error) {
	read = map[string][]byte{}
	for _, key := range sealedMeta {
		sealed, err := s.st.GetMeta(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			read[key] = nil
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading %s: %w", key, err)
		}
		read[key] = sealed
		v, err := reseal(key, sealed)
		if err != nil {
			return nil, nil, fmt.Errorf("re-encrypting %s: %w", key, err)
		}
		if v != nil {
			if meta == nil {
				meta = map[string][]byte{}
			}
			meta[key] = v
		}
	}
	return meta, read, nil
}

// errMetaChanged is unchangedMeta's refusal.
var errMetaChanged = errors.New("changed meanwhile")

// unchangedMeta is the check of a rewrite whose meta values were computed
// from read: each key still holds what was read (nil: still missing).
// Another gateway sharing the store may have written one meanwhile (a
// plain master rotation, a new token signing key); writing values
// computed from the old ones would undo that write.
func unchangedMeta(read map[string][]byte) store.Check {
	return func(ctx context.Context, r store.Reader) error {
		for key, want := range read {
			cur, err := r.GetMeta(ctx, key)
			switch {
			case errors.Is(err, store.ErrNotFound):
				if want != nil {
					return fmt.Errorf("%s %w (removed)", key, errMetaChanged)
				}
			case err != nil:
				return err
			case want == nil || !bytes.Equal(cur, want):
				return fmt.Errorf("%s %w", key, errMetaChanged)
			}
		}
		return nil
	}
}

// rewriteErr maps a failed guarded rewrite: a check that found its inputs
// changed (another gateway wrote meanwhile) is Aborted, worth a retry.
func rewriteErr(what string, err error) error {
	if errors.Is(err, errMetaChanged) {
		return apierr.Errorf(apierr.Aborted, "%s: %v (another gateway wrote it); try again", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// rotateMaster checks current against the stored verifier and protects
// the data key with newSecret: one compare-and-set of the verifier, which
// every gateway sharing the store sees at once and which changes no
// record, so that gateways running with the data key keep sealing and
// opening. With newDataKey it also replaces the data key: a new one
// protected by newSecret, every alias and sealed meta value resealed under
// it in the transaction that stores the new verifier, and only then the new
// keyring live here (other gateways follow through the verifier's link). It
// returns how many records it resealed.
func (s *Service) rotateMaster(ctx context.Context, current, newSecret []byte, newDataKey bool) (int, error) {
	switch {
	case len(current) == 0:
		return 0, invalidf("the current master secret is empty")
	case len(newSecret) == 0:
		return 0, invalidf("the new master secret is empty")
	case len(newSecret) < secrets.MinSecretLen && !s.settings.AllowWeak:
		return 0, invalidf("the new master secret is shorter than %d bytes (crypto.allow_weak accepts it)", secrets.MinSecretLen)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// A data key rotated through another gateway is followed first.
	old, err := s.follow(ctx)
	if err != nil {
		return 0, err
	}

	verifier, verifierRev, err := s.st.GetMetaRevision(ctx, MetaVerifier)
	if err != nil {
		return 0, fmt.Errorf("reading the master-secret verifier: %w", err)
	}
	check, _, err := secrets.Unlock(current, verifier, s.settings)
	if errors.Is(err, secrets.ErrWrongMasterSecret) {
		return 0, apierr.Errorf(apierr.PermissionDenied, "wrong current master secret; nothing changed")
	}
	if err != nil {
		return 0, fmt.Errorf("checking the current master secret: %w", err)
	}
	same := check.KeyID() == old.KeyID()
	check.Close()
	if !same {
		// Another gateway replaced the data key since the follow above.
		return 0, apierr.Errorf(apierr.Aborted, "the stored data key (%s) changed while rotating (another gateway rotated it); nothing changed: try again", check.KeyID())
	}
	if !newDataKey {
		return 0, s.rewrap(ctx, old, newSecret, verifierRev)
	}

	next, newVerifier, err := secrets.Rotate(old, newSecret, s.settings)
	if errors.Is(err, secrets.ErrWeakSettings) {
		return 0, invalidf("%v", err)
	}
	if err != nil {
		return 0, fmt.Errorf("creating the new master key: %w", err)
	}
	meta, read, err := s.resealMeta(ctx, func(key string, sealed []byte) ([]byte, error) {
		return old.ResealWith(next, key, sealed)
	})
	if err != nil {
		next.Close()
		return 0, err
	}
	if meta == nil {
		meta = map[string][]byte{}
	}
	resealedMeta := len(meta)
	meta[MetaVerifier] = newVerifier
	read[MetaVerifier] = verifier // the rotation is computed from it
	if s.metaRead != nil {
		s.metaRead()
	}

	s.next.Store(next)
	n := 0
	// Every sealed meta value must be as read: one written meanwhile
	// (sealed under the old data key) would be lost or unreadable.
	changed, err := s.st.RewriteObjectsIf(ctx, []string{store.KindAlias}, func(o store.Object) ([]byte, error) {
		r, err := parseAliasKey(o.Key)
		if err != nil {
			return nil, err
		}
		v, err := old.ResealWith(next, r.aad(), o.Value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r, err)
		}
		n++
		if s.resealed != nil {
			if err := s.resealed(n); err != nil {
				return nil, err
			}
		}
		return v, nil
	}, meta, unchangedMeta(read))
	if err != nil {
		s.next.Store(nil)
		next.Close()
		return 0, rewriteErr("re-encrypting under the new master secret (nothing changed)", err)
	}
	if s.committed != nil {
		s.committed()
	}
	// A reader here may have followed the committed key already (it then
	// swapped old out): close whatever was live.
	if prev := s.kr.Swap(next); prev != old {
		prev.Close()
	}
	s.next.Store(nil)
	old.Close()
	s.dataKeyChanged(next)
	s.log.InfoContext(ctx, "master secret and data key rotated", "reencrypted", changed+resealedMeta, "key_id", next.KeyID())
	return changed + resealedMeta, s.rotated(ctx, newSecret)
}

// rewrap stores a verifier protecting kr's data key with newSecret if the
// stored one is still at revision expect.
func (s *Service) rewrap(ctx context.Context, kr *secrets.Keyring, newSecret []byte, expect int64) error {
	v, err := secrets.Rewrap(kr, newSecret, s.settings)
	if errors.Is(err, secrets.ErrWeakSettings) {
		return invalidf("%v", err)
	}
	if err != nil {
		return fmt.Errorf("wrapping the data key with the new master secret: %w", err)
	}
	if _, err := s.st.PutMeta(ctx, MetaVerifier, v, expect); err != nil {
		if errors.Is(err, store.ErrRevisionMismatch) {
			return apierr.Errorf(apierr.Aborted, "the master-secret verifier changed while rotating (another gateway rotated it); nothing changed: try again")
		}
		return fmt.Errorf("storing the master-secret verifier (nothing changed): %w", err)
	}
	s.log.InfoContext(ctx, "master secret rotated", "key_id", kr.KeyID())
	return s.rotated(ctx, newSecret)
}

// rotated runs OnMasterRotated after a committed rotation.
func (s *Service) rotated(ctx context.Context, newSecret []byte) error {
	if s.opts.OnMasterRotated == nil {
		return nil
	}
	if err := s.opts.OnMasterRotated(newSecret); err != nil {
		s.log.ErrorContext(ctx, "after the master rotation", "err", err)
		return apierr.Errorf(apierr.Incomplete, "the master secret is rotated, but: %v", err)
	}
	return nil
}
