package replay

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/securegw/gateway/proxy/chain"
)

// Claimer records a key once for every gateway sharing a store (the etcd
// store's Claim): true when this call recorded it, false when a gateway
// had already.
type Claimer interface {
	Claim(ctx context.Context, key string, until time.Time) (bool, error)
}

// Shared is the replay cache of gateways that share a store: a key is
// accepted once by the whole cluster. It asks the process's own Cache
// first (a replay to this gateway costs no round trip and the local bound
// still holds), then claims the key in the store. When the store does not
// answer within timeout, or fails, it fails closed: the key counts as seen,
// so a signed request or authenticator is refused rather than possibly
// accepted twice.
type Shared struct {
	local   *Cache
	claim   Claimer
	timeout time.Duration
	log     *slog.Logger
	// lastWarn (unix nanoseconds) and unlogged bound the warnings of a
	// store that fails every claim to one per warnEvery.
	lastWarn atomic.Int64
	unlogged atomic.Int64
}

// warnEvery is how often a store that keeps failing claims is logged.
const warnEvery = 10 * time.Second

var _ chain.ReplayCache = (*Shared)(nil)

// NewShared returns a cluster-wide cache over local and c, each claim
// bounded by timeout (0: by c alone); log (nil: the default logger) says
// when the store failed a claim.
func NewShared(local *Cache, c Claimer, timeout time.Duration, log *slog.Logger) *Shared {
	if log == nil {
		log = slog.Default()
	}
	return &Shared{local: local, claim: c, timeout: timeout, log: log}
}

// Seen reports whether any gateway of the cluster recorded key and it is
// still valid; if none did, it records key until until and reports false.
func (s *Shared) Seen(key string, until time.Time) bool {
	if s.local.Seen(key, until) {
		return true
	}
	ctx := context.Background()
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	fresh, err := s.claim.Claim(ctx, key, until)
	if err != nil {
		s.warn(err)
		return true
	}
	return !fresh
}

// warn logs a failed claim, at most once per warnEvery (an unreachable
// store fails every signed request: one line each would flood the log
// while it is down), with how many went unlogged before it.
func (s *Shared) warn(err error) {
	now := time.Now().UnixNano()
	last := s.lastWarn.Load()
	if last != 0 && now-last < int64(warnEvery) || !s.lastWarn.CompareAndSwap(last, now) {
		s.unlogged.Add(1)
		return
	}
	s.log.Warn("replay cache: the shared store did not record a key; the request is refused",
		"err", err, "refused_unlogged", s.unlogged.Swap(0))
}
