package etcd

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
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
	// byEnd: bucket end (unix seconds) → its lease, granted or being
	// granted.
	byEnd map[int64]*claimLease
	// self makes the values Claim writes unique to one call: this store's
	// random prefix, then a counter.
	once sync.Once
	self string
	seq  atomic.Uint64
}

// claimLease is one bucket's lease: ready is closed once the grant ended,
// then id (err nil) or err is set.
type claimLease struct {
	ready chan struct{}
	id    clientv3.LeaseID
	err   error
}

// Claim records key for every gateway of the cluster until until: it
// reports true when this call recorded it, false when a gateway had
// already (the key is a replay). The key is stored as a digest, never as
// given, and disappears with its lease at most claimBucket+claimSlack
// after until (an etcd leader change renews leases: then up to a lease's
// TTL later). A key whose until is past is not recorded (false).
//
// A try that gets no answer is sent again (to another member); the value
// written is unique to this call, so a try that finds the key written by
// this call's earlier try (committed, its answer lost) still reports
// true. When the outcome stays unknown (etcd did not answer within the
// request timeout) Claim returns an error: callers refuse then, so that a
// replay is never accepted twice.
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
	v := s.claimValue()
	ctx, cancel := s.callCtx(ctx) // the whole claim: lease and write
	defer cancel()
	for try := 0; ; try++ {
		lease, err := s.claimLease(ctx, now, until)
		if err != nil {
			return false, fmt.Errorf("claiming a replay-cache key: %w", s.callErr(ctx, err))
		}
		fresh, err := s.claimKey(ctx, k, v, lease)
		if err != nil {
			if try == 0 && errors.Is(err, rpctypes.ErrLeaseNotFound) {
				// The lease ended early (a restored cluster): take another.
				s.dropClaimLease(lease)
				continue
			}
			return false, fmt.Errorf("claiming a replay-cache key: %w", s.callErr(ctx, err))
		}
		return fresh, nil
	}
}

// claimKey writes k = v under lease unless k exists, trying again while
// members do not answer. It reports true when k holds v afterwards: this
// call's write, in this try or in an earlier one whose answer was lost.
func (s *Store) claimKey(ctx context.Context, k, v string, lease clientv3.LeaseID) (bool, error) {
	var resp *clientv3.TxnResponse
	err := s.attempts(ctx, func(ctx context.Context) (err error) {
		resp, err = s.kv.KV.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
			Then(clientv3.OpPut(k, v, clientv3.WithLease(lease))).
			Else(clientv3.OpGet(k)).
			Commit()
		return err
	})
	if err != nil {
		return false, err
	}
	if resp.Succeeded {
		return true, nil
	}
	if len(resp.Responses) != 1 {
		return false, nil
	}
	kvs := resp.Responses[0].GetResponseRange().GetKvs()
	return len(kvs) == 1 && string(kvs[0].Value) == v, nil
}

// claimValue returns a value no other Claim call writes, of any store.
func (s *Store) claimValue() string {
	c := &s.claims
	c.once.Do(func() {
		var b [9]byte
		_, _ = rand.Read(b[:])
		c.self = hex.EncodeToString(b[:])
	})
	return c.self + "." + strconv.FormatUint(c.seq.Add(1), 36)
}

// claimLease returns the lease of until's bucket, granting it when no
// claim used that bucket yet, and forgets the leases of ended buckets. ctx
// bounds the grant and the wait for another claim's grant of the same
// bucket; claims of other buckets do not wait for it.
func (s *Store) claimLease(ctx context.Context, now, until time.Time) (clientv3.LeaseID, error) {
	b := int64(claimBucket / time.Second)
	end := (until.Unix() + b - 1) / b * b
	c := &s.claims
	for {
		c.mu.Lock()
		l, ok := c.byEnd[end]
		if !ok {
			break // granted below, still locked
		}
		c.mu.Unlock()
		select {
		case <-l.ready:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		if l.err == nil {
			return l.id, nil
		}
		// That grant failed (and was forgotten): try one, time permitting.
		if err := ctx.Err(); err != nil {
			return 0, l.err
		}
	}
	for e := range c.byEnd {
		if e < now.Unix() {
			delete(c.byEnd, e)
		}
	}
	l := &claimLease{ready: make(chan struct{})}
	if c.byEnd == nil {
		c.byEnd = map[int64]*claimLease{}
	}
	c.byEnd[end] = l
	c.mu.Unlock()

	slack := int64(claimSlack / time.Second)
	err := s.attempts(ctx, func(ctx context.Context) error {
		if s.hook != nil && s.hook("claim-grant") {
			return errCrashed
		}
		// From this try's time: a grant that waited (for another claim's,
		// or tries that got no answer) does not outlive the bucket longer.
		ttl := max(end-s.now().Unix()+slack, slack)
		resp, err := s.cli.Lease.Grant(ctx, ttl)
		if err == nil {
			l.id = resp.ID
		}
		return err
	})
	if err != nil {
		l.err = err
		c.mu.Lock()
		if c.byEnd[end] == l {
			delete(c.byEnd, end)
		}
		c.mu.Unlock()
	}
	close(l.ready)
	return l.id, err
}

// dropClaimLease forgets lease id (etcd no longer has it).
func (s *Store) dropClaimLease(id clientv3.LeaseID) {
	c := &s.claims
	c.mu.Lock()
	defer c.mu.Unlock()
	for e, l := range c.byEnd {
		select {
		case <-l.ready:
			if l.err == nil && l.id == id {
				delete(c.byEnd, e)
			}
		default:
		}
	}
}
