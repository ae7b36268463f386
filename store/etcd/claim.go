package etcd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// prefixClaim holds the cluster's replay-cache keys (Claim), each under a
// lease that ends shortly after the key's validity.
const prefixClaim = "claim/"

// claimBucket is how finely claims share leases: every key valid until a
// time in the same bucket is kept under one lease that ends at the
// bucket's end (plus claimSlack), so a burst of signed requests costs one
// lease grant per bucket, not one per key.
const (
	claimBucket = 10 * time.Second
	claimSlack  = 2 * time.Second
)

// claimLeases are the leases of the buckets in use.
type claimLeases struct {
	mu sync.Mutex
	// byEnd: bucket end (unix seconds) → lease.
	byEnd map[int64]clientv3.LeaseID
}

// Claim records key for every gateway of the cluster until until: it
// reports true when this call recorded it, false when a gateway had
// already (the key is a replay). The key is stored as a digest, never as
// given, and disappears with its lease at most claimBucket+claimSlack
// after until. A key whose until is past is not recorded (false).
//
// When the outcome is unknown (etcd did not answer; a retried write whose
// first try may have committed) Claim returns an error or false: callers
// refuse then, so that a replay is never accepted twice.
func (s *Store) Claim(ctx context.Context, key string, until time.Time) (bool, error) {
	if err := s.usable(ctx); err != nil {
		return false, err
	}
	now := s.now()
	if !until.After(now) {
		return false, nil
	}
	sum := sha256.Sum256([]byte(key))
	k := prefixClaim + hex.EncodeToString(sum[:])
	ctx, cancel := s.callCtx(ctx) // the whole claim: lease and write
	defer cancel()
	for try := 0; ; try++ {
		lease, err := s.claimLease(ctx, now, until)
		if err != nil {
			return false, fmt.Errorf("claiming a replay-cache key: %w", err)
		}
		resp, err := s.txn(ctx,
			[]clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(k), "=", 0)},
			[]clientv3.Op{clientv3.OpPut(k, "", clientv3.WithLease(lease))})
		if err != nil {
			if try == 0 && errors.Is(err, rpctypes.ErrLeaseNotFound) {
				// The lease ended early (a restored cluster): take another.
				s.dropClaimLease(lease)
				continue
			}
			return false, fmt.Errorf("claiming a replay-cache key: %w", s.callErr(ctx, err))
		}
		return resp.Succeeded, nil
	}
}

// claimLease returns the lease of until's bucket, granting it when no
// claim used that bucket yet, and forgets the leases of ended buckets. ctx
// bounds the grant (Claim's request timeout).
func (s *Store) claimLease(ctx context.Context, now, until time.Time) (clientv3.LeaseID, error) {
	b := int64(claimBucket / time.Second)
	end := (until.Unix() + b - 1) / b * b
	c := &s.claims
	c.mu.Lock()
	defer c.mu.Unlock()
	if id, ok := c.byEnd[end]; ok {
		return id, nil
	}
	for e := range c.byEnd {
		if e < now.Unix() {
			delete(c.byEnd, e)
		}
	}
	ttl := end - now.Unix() + int64(claimSlack/time.Second)
	// Held under the lock: concurrent claims of a new bucket wait for one
	// grant instead of each granting a lease.
	resp, err := s.cli.Lease.Grant(ctx, ttl)
	if err != nil {
		return 0, s.callErr(ctx, err)
	}
	if c.byEnd == nil {
		c.byEnd = map[int64]clientv3.LeaseID{}
	}
	c.byEnd[end] = resp.ID
	return resp.ID, nil
}

func (s *Store) dropClaimLease(id clientv3.LeaseID) {
	c := &s.claims
	c.mu.Lock()
	defer c.mu.Unlock()
	for e, l := range c.byEnd {
		if l == id {
			delete(c.byEnd, e)
		}
	}
}
