package tokensvc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/securegw/gateway/internal/jwtkit"
	"github.com/securegw/gateway/proxy/chain/revocation"
	"github.com/securegw/gateway/server/internal/secretsvc"
	"github.com/securegw/gateway/store"
)

// Sealer keeps sealed meta values (secretsvc.Service).
type Sealer interface {
	LoadSealedMeta(ctx context.Context, key string) ([]byte, int64, error)
	StoreSealedMeta(ctx context.Context, key string, plain []byte, expect int64) (int64, error)
}

// Options configure a Service.
type Options struct {
	// Issuer is the iss of the gateway's tokens.
	Issuer string
	// Algorithm signs tokens whose policy names none; jwtkit.DefaultAlgorithm when "".
	Algorithm string
	// RSABits is the modulus size of new RSA keys; jwtkit.DefaultRSABits when 0.
	RSABits int
	// WaitFor returns once the reconciler applied revision rev (every
	// mutation is acknowledged only once it is live). Nil: no wait.
	WaitFor func(ctx context.Context, rev int64) error
	// Groups looks up user's groups with the group sources of topology
	// (a policy's group_source), for on-behalf-of tokens whose policy
	// includes groups or names subject groups. Nil: such issuances are
	// refused.
	Groups func(ctx context.Context, topology, user string) ([]string, error)
	// EvictAfter is how long expired token state is kept (for listing and
	// audits) before the background sweep deletes it; 0: one hour.
	EvictAfter time.Duration
	Log        *slog.Logger
	// Now tells the time; time.Now when nil.
	Now func() time.Time
}

// Service is the token service. Reload it, then apply the store's changes
// to it (the reconciler does both); it is safe for concurrent use.
type Service struct {
	st     store.Store
	sealer Sealer
	opts   Options
	log    *slog.Logger

	keys     atomic.Pointer[keySet]
	tokens   sync.Map // id → *State (immutable values)
	policies sync.Map // name → *cachedPolicy
	revoked  *revocation.Set

	mu        sync.Mutex          // guards bySubject
	bySubject map[string][]string // subject → token ids

	keyMu   sync.Mutex     // serialises key file edits
	issueMu [64]sync.Mutex // serialises issuance per subject (per-user limits)
}

// New returns a token service over st; its in-memory view is empty until Reload.
func New(st store.Store, sealer Sealer, o Options) *Service {
	if o.Algorithm == "" {
		o.Algorithm = jwtkit.DefaultAlgorithm
	}
	if o.RSABits == 0 {
		o.RSABits = jwtkit.DefaultRSABits
	}
	if o.EvictAfter == 0 {
		o.EvictAfter = time.Hour
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := &Service{st: st, sealer: sealer, opts: o, log: o.Log, revoked: &revocation.Set{}, bySubject: map[string][]string{}}
	ks, _ := buildKeySet(keyFile{Active: map[string]string{}}, 0, s.now())
	s.keys.Store(ks)
	return s
}

// Revocations is the set of revoked and disabled token ids, for the data
// plane (chain.Host.Revocations).
func (s *Service) Revocations() *revocation.Set { return s.revoked }

func (s *Service) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

func (s *Service) waitFor(ctx context.Context, rev int64) error {
	if s.opts.WaitFor == nil {
		return nil
	}
	if err := s.opts.WaitFor(ctx, rev); err != nil {
		return fmt.Errorf("waiting for revision %d to be live: %w", rev, err)
	}
	return nil
}

// Reload reads the keys, the token policies and every token's state from
// the store and makes them the service's view (the reconciler calls it
// after listing the store).
func (s *Service) Reload(ctx context.Context) error {
	ks, err := s.loadKeys(ctx)
	if err != nil {
		return err
	}
	pols, err := s.st.ListObjects(ctx, store.KindTokenPolicy, "")
	if err != nil {
		return fmt.Errorf("listing token policies: %w", err)
	}
	objs, err := s.st.ListObjects(ctx, store.KindToken, "")
	if err != nil {
		return fmt.Errorf("listing token state: %w", err)
	}
	refused := map[string]time.Time{}
	bySubject := map[string][]string{}
	seen := map[string]bool{}
	for _, o := range objs {
		st, err := decodeState(o.Value)
		if err != nil {
			s.log.ErrorContext(ctx, "undecodable token state; the token is refused", "id", o.Key, "err", err)
			refused[o.Key] = time.Time{}
			continue
		}
		s.tokens.Store(st.ID, st)
		seen[st.ID] = true
		bySubject[st.Subject] = append(bySubject[st.Subject], st.ID)
		if st.refused() {
			refused[st.ID] = st.MaxAt
		}
	}
	s.tokens.Range(func(k, _ any) bool {
		if !seen[k.(string)] {
			s.tokens.Delete(k)
		}
		return true
	})
	named := map[string]bool{}
	for _, o := range pols {
		s.policies.Store(o.Key, s.decodePolicy(o))
		named[o.Key] = true
	}
	s.policies.Range(func(k, _ any) bool {
		if !named[k.(string)] {
			s.policies.Delete(k)
		}
		return true
	})
	s.mu.Lock()
	s.bySubject = bySubject
	s.mu.Unlock()
	s.revoked.Replace(refused)
	s.keys.Store(ks)
	return nil
}

// Apply applies a batch of store changes (the reconciler calls it before
// the batch's revision counts as applied): token state, token policies and
// the signing keys.
func (s *Service) Apply(ctx context.Context, changes []store.Change) error {
	add := map[string]time.Time{}
	var remove []string
	for _, c := range changes {
		switch {
		case c.Kind == store.KindMeta && c.Key == secretsvc.MetaTokenKeys:
			ks, err := s.loadKeys(ctx)
			if err != nil {
				return err
			}
			s.keys.Store(ks)
		case c.Kind == store.KindTokenPolicy && c.Delete:
			s.policies.Delete(c.Key)
		case c.Kind == store.KindTokenPolicy:
			o, err := s.st.GetObject(ctx, store.KindTokenPolicy, c.Key)
			if errors.Is(err, store.ErrNotFound) {
				s.policies.Delete(c.Key)
				continue
			}
			if err != nil {
				return fmt.Errorf("reading token policy %s: %w", c.Key, err)
			}
			s.policies.Store(c.Key, s.decodePolicy(o))
		case c.Kind == store.KindToken && c.Delete:
			s.forget(c.Key)
			remove = append(remove, c.Key)
		case c.Kind == store.KindToken:
			o, err := s.st.GetObject(ctx, store.KindToken, c.Key)
			if errors.Is(err, store.ErrNotFound) {
				s.forget(c.Key)
				remove = append(remove, c.Key)
				continue
			}
			if err != nil {
				return fmt.Errorf("reading token state %s: %w", c.Key, err)
			}
			st, err := decodeState(o.Value)
			if err != nil {
				s.log.ErrorContext(ctx, "undecodable token state; the token is refused", "id", c.Key, "err", err)
				add[c.Key] = time.Time{}
				continue
			}
			s.remember(st)
			if st.refused() {
				add[st.ID] = st.MaxAt
			} else {
				remove = append(remove, st.ID)
			}
		}
	}
	if len(add)+len(remove) > 0 {
		s.revoked.Apply(add, remove)
	}
	return nil
}

func (s *Service) remember(st *State) {
	_, known := s.tokens.Swap(st.ID, st)
	if !known {
		s.mu.Lock()
		s.bySubject[st.Subject] = append(s.bySubject[st.Subject], st.ID)
		s.mu.Unlock()
	}
}

func (s *Service) forget(id string) {
	v, ok := s.tokens.LoadAndDelete(id)
	if !ok {
		return
	}
	sub := v.(*State).Subject
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := s.bySubject[sub]
	for i, x := range ids {
		if x == id {
			ids = append(ids[:i:i], ids[i+1:]...)
			break
		}
	}
	if len(ids) == 0 {
		delete(s.bySubject, sub)
	} else {
		s.bySubject[sub] = ids
	}
}

// state returns a token's state from memory.
func (s *Service) state(id string) (*State, bool) {
	v, ok := s.tokens.Load(id)
	if !ok {
		return nil, false
	}
	return v.(*State), true
}

// subjectTokens returns the states of a subject's tokens.
func (s *Service) subjectTokens(subject string) []*State {
	s.mu.Lock()
	ids := append([]string(nil), s.bySubject[subject]...)
	s.mu.Unlock()
	out := make([]*State, 0, len(ids))
	for _, id := range ids {
		if st, ok := s.state(id); ok {
			out = append(out, st)
		}
	}
	return out
}

// Run sweeps expired token state and retired keys until ctx ends.
func (s *Service) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "sweeping expired tokens", "err", err)
			}
		}
	}
}

// Sweep deletes the state of tokens expired for longer than EvictAfter
// (a token without state is refused, so their revocation is moot), prunes the
// revocation set and drops retired keys that verify nothing live.
func (s *Service) Sweep(ctx context.Context) error {
	cutoff := s.now().Add(-s.opts.EvictAfter)
	var errs []error
	n := 0
	s.tokens.Range(func(_, v any) bool {
		st := v.(*State)
		if st.ExpiresAt.Before(cutoff) {
			_, err := s.st.DeleteObject(ctx, store.KindToken, st.ID, store.NoRevisionCheck)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				errs = append(errs, err)
				return false
			}
			n++
		}
		return true
	})
	s.revoked.Prune(s.now())
	if n > 0 {
		s.log.InfoContext(ctx, "expired token state evicted", "count", n)
	}
	errs = append(errs, s.dropRetiredKeys(ctx))
	return errors.Join(errs...)
}
