package etcd

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/namespace"
)

// DefaultMemberTTL is the lease of a gateway's registration: a gateway
// that stops renewing it (crashed, partitioned) disappears from the list
// this long after.
const DefaultMemberTTL = 10 * time.Second

// prefixMember holds the registrations of running gateways.
const prefixMember = "members/"

// Member is a running gateway as it registered itself.
type Member struct {
	ID                string    `json:"id"`
	ProxyAddress      string    `json:"proxy_address,omitempty"`
	ManagementAddress string    `json:"management_address,omitempty"`
	Version           string    `json:"version,omitempty"`
	StartedAt         time.Time `json:"started_at"`
	// AppliedRevision is the store revision whose changes are live on it.
	AppliedRevision int64 `json:"applied_revision"`
	// Ready is false while it has lost etcd and not listed it again.
	Ready bool `json:"ready"`
	// KeyID is the data key it seals and opens with; Master whether the
	// master secret it would restart with opens the store (the daemon's
	// words: "current", "stale", "unknown").
	KeyID     string    `json:"key_id,omitempty"`
	Master    string    `json:"master,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Members returns the registered gateways, sorted by ID.
func (s *Store) Members(ctx context.Context) ([]Member, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	resp, err := s.kv.Get(ctx, prefixMember, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("listing gateways: %w", s.callErr(ctx, err))
	}
	out := make([]Member, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var m Member
		if err := json.Unmarshal(kv.Value, &m); err != nil {
			return nil, fmt.Errorf("gateway registration %s: %w", kv.Key, err)
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Registration keeps one gateway's entry under a lease, renewed while the
// process runs and re-created when it expired (a pause longer than the
// TTL). Update changes what it says; Close removes it.
type Registration struct {
	s      *Store
	lease  clientv3.Lease
	ttl    time.Duration
	mu     sync.Mutex
	m      Member
	dirty  chan struct{} // one slot: an update is pending
	cancel context.CancelFunc
	done   chan struct{}
}

// Register publishes m under a lease of ttl (0: DefaultMemberTTL) and
// keeps it there until Close.
func (s *Store) Register(m Member, ttl time.Duration) *Registration {
	if ttl <= 0 {
		ttl = DefaultMemberTTL
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Registration{
		s:      s,
		lease:  namespace.NewLease(s.cli.Lease, s.opts.Prefix),
		ttl:    ttl,
		m:      m,
		dirty:  make(chan struct{}, 1),
		cancel: cancel,
		done:   make(chan struct{}),
	}
	r.dirty <- struct{}{}
	go r.run(ctx)
	return r
}

// Update records the applied revision and readiness; the entry is
// rewritten soon after (updates in between are coalesced).
func (r *Registration) Update(applied int64, ready bool) {
	r.mu.Lock()
	r.m.AppliedRevision, r.m.Ready = applied, ready
	r.mu.Unlock()
	select {
	case r.dirty <- struct{}{}:
	default:
	}
}

// UpdateMaster records the data key id and the master secret's state,
// like Update.
func (r *Registration) UpdateMaster(keyID, master string) {
	r.mu.Lock()
	r.m.KeyID, r.m.Master = keyID, master
	r.mu.Unlock()
	select {
	case r.dirty <- struct{}{}:
	default:
	}
}

// Close stops renewing and deletes the entry (revoking its lease).
func (r *Registration) Close() {
	r.cancel()
	<-r.done
}

// run grants a lease, writes the entry, keeps the lease alive and
// rewrites the entry on Update; when the lease is lost it starts over.
func (r *Registration) run(ctx context.Context) {
	defer close(r.done)
	for ctx.Err() == nil {
		id, alive, err := r.grant(ctx)
		if err != nil {
			r.s.opts.Logger.Warn("registering this gateway in etcd failed; retrying", "err", err)
			if !sleep(ctx, time.Second) {
				return
			}
			continue
		}
		r.serve(ctx, id, alive)
		if ctx.Err() != nil {
			rctx, cancel := context.WithTimeout(context.Background(), r.s.opts.RequestTimeout)
			_, _ = r.lease.Revoke(rctx, id)
			cancel()
			return
		}
		// The lease was lost: write the entry again under a new one.
		select {
		case r.dirty <- struct{}{}:
		default:
		}
	}
}

func (r *Registration) grant(ctx context.Context) (clientv3.LeaseID, <-chan *clientv3.LeaseKeepAliveResponse, error) {
	gctx, cancel := context.WithTimeout(ctx, r.s.opts.RequestTimeout)
	defer cancel()
	lease, err := r.lease.Grant(gctx, int64(r.ttl/time.Second))
	if err != nil {
		return 0, nil, err
	}
	alive, err := r.lease.KeepAlive(ctx, lease.ID)
	if err != nil {
		return 0, nil, err
	}
	return lease.ID, alive, nil
}

// serve writes the entry on every update while the lease is alive.
func (r *Registration) serve(ctx context.Context, id clientv3.LeaseID, alive <-chan *clientv3.LeaseKeepAliveResponse) {
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-alive:
			if !ok {
				return
			}
		case <-r.dirty:
			r.mu.Lock()
			m := r.m
			r.mu.Unlock()
			m.UpdatedAt = time.Now().UTC()
			data, err := json.Marshal(m)
			if err != nil {
				continue
			}
			pctx, cancel := context.WithTimeout(ctx, r.s.opts.RequestTimeout)
			_, err = r.s.kv.Put(pctx, prefixMember+m.ID, string(data), clientv3.WithLease(id))
			cancel()
			if err != nil && ctx.Err() == nil {
				// Try again on the next update or lease renewal.
				select {
				case r.dirty <- struct{}{}:
				default:
				}
				if !sleep(ctx, 200*time.Millisecond) {
					return
				}
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
