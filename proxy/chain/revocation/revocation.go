package revocation

import (
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/securegw/gateway/proxy/chain"
)

// Set is a set of revoked credential ids, each with the time the
// credential would have expired (zero: never). It is safe for concurrent
// use; the zero value is an empty set.
type Set struct {
	snap atomic.Pointer[map[string]time.Time]
	mu   sync.Mutex // serialises writers
}

var _ chain.RevocationChecker = (*Set)(nil)

// Revoked reports whether id is in the set: one atomic load, one map lookup.
func (s *Set) Revoked(id string) bool {
	m := s.snap.Load()
	if m == nil {
		return false
	}
	_, ok := (*m)[id]
	return ok
}

// Replace makes ids (id → the credential's expiry) the whole set, as read
// from the store. The map is copied.
func (s *Set) Replace(ids map[string]time.Time) {
	m := maps.Clone(ids)
	if m == nil {
		m = map[string]time.Time{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.snap.Store(&m)
}

// Revoke adds id, whose credential expires at expires (zero: never).
func (s *Set) Revoke(id string, expires time.Time) {
	s.update(func(m map[string]time.Time) { m[id] = expires })
}

// Apply adds the ids of add (id → expiry) and removes those of remove
// (a credential enabled again, or forgotten), as one swap.
func (s *Set) Apply(add map[string]time.Time, remove []string) {
	s.update(func(m map[string]time.Time) {
		for _, id := range remove {
			delete(m, id)
		}
		maps.Copy(m, add)
	})
}

// Prune forgets the revocations of credentials expired at now: they are
// refused as expired anyway.
func (s *Set) Prune(now time.Time) {
	s.update(func(m map[string]time.Time) {
		maps.DeleteFunc(m, func(_ string, exp time.Time) bool { return !exp.IsZero() && !exp.After(now) })
	})
}

// Len is the number of revoked ids.
func (s *Set) Len() int {
	if m := s.snap.Load(); m != nil {
		return len(*m)
	}
	return 0
}

// update applies f to a copy of the current snapshot and publishes it.
func (s *Set) update(f func(map[string]time.Time)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var m map[string]time.Time
	if cur := s.snap.Load(); cur != nil {
		m = maps.Clone(*cur)
	}
	if m == nil {
		m = map[string]time.Time{}
	}
	f(m)
	s.snap.Store(&m)
}
