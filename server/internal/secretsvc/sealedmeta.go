package secretsvc

import (
	"context"
	"fmt"
	"slices"
)

// LoadSealedMeta reads and opens a sealed meta value (one of the keys a
// master rotation reseals, such as MetaTokenKeys) and returns it with the
// revision of its last write. A missing value is store.ErrNotFound.
func (s *Service) LoadSealedMeta(ctx context.Context, key string) ([]byte, int64, error) {
	if !slices.Contains(sealedMeta, key) {
		return nil, 0, fmt.Errorf("meta value %q is not sealed", key)
	}
	var rev int64
	plain, err := s.openLive(ctx, key, func() ([]byte, error) {
		v, r, err := s.st.GetMetaRevision(ctx, key)
		rev = r
		return v, err
	})
	if err != nil {
		return nil, 0, rpcError(err)
	}
	return plain, rev, nil
}

// StoreSealedMeta seals plain under the live keyring and stores it as key
// if its revision is still expect (0: must not exist); it returns the new
// revision. Writes are serialised with master rotations, and sealed again
// when a data key rotation through another gateway got in between (as
// putAlias).
func (s *Service) StoreSealedMeta(ctx context.Context, key string, plain []byte, expect int64) (int64, error) {
	if !slices.Contains(sealedMeta, key) {
		return 0, fmt.Errorf("meta value %q is not sealed", key)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	kr, err := s.follow(ctx)
	if err != nil {
		return 0, err
	}
	sealed, err := kr.Seal(key, plain)
	if err != nil {
		return 0, fmt.Errorf("sealing %s: %w", key, err)
	}
	rev, err := s.st.PutMeta(ctx, key, sealed, expect)
	if err != nil {
		return 0, err
	}
	now, err := s.follow(ctx)
	if err != nil {
		return 0, fmt.Errorf("%s is stored, but whether a data key rotation got in between could not be checked: %w", key, err)
	}
	if now != kr {
		if sealed, err = now.Seal(key, plain); err != nil {
			return 0, fmt.Errorf("sealing %s: %w", key, err)
		}
		return s.st.PutMeta(ctx, key, sealed, rev)
	}
	return rev, nil
}
