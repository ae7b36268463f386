package etcd

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/securegw/gateway/store"
)

// snap reads the store at one etcd revision: every read of a call sees
// the same state.
type snap struct {
	s   *Store
	ctx context.Context
	// at is the etcd revision read; cur and mod the store revision and the
	// etcd revision that wrote it.
	at, cur, mod int64
	// pre holds what snapshot read with the revision, by key (single keys)
	// or by prefix (ranges), so that a call needs one round trip for them.
	pre     map[string]*mvccpb.KeyValue
	preList map[string][]*mvccpb.KeyValue
}

// prefetch names what a snapshot reads along with the revision: single
// keys, and prefixes whose keys (only) it lists.
type prefetch struct {
	keys     []string
	prefixes []string
}

// snapshot reads the store revision, pins the etcd revision and reads what
// pre names, in one transaction.
func (s *Store) snapshot(ctx context.Context, pre ...prefetch) (*snap, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	ops := []clientv3.Op{clientv3.OpGet(keyRevision)}
	for _, p := range pre {
		for _, k := range p.keys {
			ops = append(ops, clientv3.OpGet(k))
		}
		for _, pf := range p.prefixes {
			ops = append(ops, clientv3.OpGet(pf, clientv3.WithRange(prefixEnd(pf)), clientv3.WithKeysOnly(),
				clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend)))
		}
	}
	resp, err := s.txn(ctx, nil, ops)
	if err != nil {
		return nil, s.callErr(ctx, err)
	}
	rng := func(i int) []*mvccpb.KeyValue { return resp.Responses[i].GetResponseRange().GetKvs() }
	cur, mod, err := parseRevision(rng(0))
	if err != nil {
		return nil, err
	}
	r := &snap{s: s, ctx: ctx, at: resp.Header.Revision, cur: cur, mod: mod,
		pre: map[string]*mvccpb.KeyValue{}, preList: map[string][]*mvccpb.KeyValue{}}
	i := 1
	for _, p := range pre {
		for _, k := range p.keys {
			var kv *mvccpb.KeyValue
			if kvs := rng(i); len(kvs) > 0 {
				kv = kvs[0]
			}
			r.pre[k] = kv
			i++
		}
		for _, pf := range p.prefixes {
			r.preList[pf] = rng(i)
			i++
		}
	}
	return r, nil
}

// get returns the value of key at the snapshot, nil when missing.
func (r *snap) get(key string) (*mvccpb.KeyValue, error) {
	if kv, ok := r.pre[key]; ok {
		return kv, nil
	}
	resp, err := r.s.kv.Get(r.ctx, key, clientv3.WithRev(r.at))
	if err != nil {
		return nil, r.s.callErr(r.ctx, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, nil
	}
	return resp.Kvs[0], nil
}

// list returns the keys in [from, to) at the snapshot, sorted by key,
// paging so that no response is large.
func (r *snap) list(from, to string, keysOnly bool) ([]*mvccpb.KeyValue, error) {
	const page = 1000
	var out []*mvccpb.KeyValue
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(to), clientv3.WithRev(r.at), clientv3.WithLimit(page),
			clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend)}
		if keysOnly {
			opts = append(opts, clientv3.WithKeysOnly())
		}
		resp, err := r.s.kv.Get(r.ctx, from, opts...)
		if err != nil {
			return nil, r.s.callErr(r.ctx, err)
		}
		out = append(out, resp.Kvs...)
		if !resp.More || len(resp.Kvs) == 0 {
			return out, nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

func (r *snap) listPrefix(p string, keysOnly bool) ([]*mvccpb.KeyValue, error) {
	if kvs, ok := r.preList[p]; ok && keysOnly {
		return kvs, nil
	}
	return r.list(p, prefixEnd(p), keysOnly)
}

// gen returns the current generation of kind's objects (0 before the
// first staged rewrite).
func (r *snap) gen(kind string) (int64, error) {
	kv, err := r.get(genKey(kind))
	if err != nil || kv == nil {
		return 0, err
	}
	g, err := strconv.ParseInt(string(kv.Value), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("corrupt generation of %s: %q", kind, kv.Value)
	}
	return g, nil
}

// errNoChange, returned by a mutation's build function, ends the call
// without a commit.
var errNoChange = errors.New("no change")

// mutate runs one revision-bumping commit. build reads the store through
// its snapshot and returns the writes and the changes to log under rev,
// the new store revision. The commit is one etcd transaction guarded by
// the mod revision of the revision key: when another commit got in
// between, build runs again on a new snapshot, so every commit sees the
// state it changes (compare-and-set then fails as it should).
//
// Writers of one process take turns (writer): they would otherwise only
// make each other's guards fail, and under load one could lose the race
// until its timeout. Writers in other processes still race on the guard.
func (s *Store) mutate(ctx context.Context, pre prefetch, build func(r *snap, rev int64) ([]clientv3.Op, []store.Change, error)) (int64, error) {
	select {
	case s.writer <- struct{}{}:
		defer func() { <-s.writer }()
	case <-ctx.Done():
		return 0, s.callErr(ctx, ctx.Err())
	case <-s.done:
		return 0, store.ErrClosed
	}
	for {
		r, err := s.snapshot(ctx, pre)
		if err != nil {
			return 0, err
		}
		rev := r.cur + 1
		ops, changes, err := build(r, rev)
		if errors.Is(err, errNoChange) {
			return r.cur, err
		}
		if err != nil {
			if errors.Is(err, rpctypes.ErrCompacted) {
				continue // the snapshot was compacted away: read again
			}
			return 0, err
		}
		if err := s.usable(ctx); err != nil {
			return 0, err
		}
		ok, err := s.commit(ctx, r, rev, changes, ops)
		if err != nil {
			return 0, err
		}
		if ok {
			return rev, nil
		}
	}
}

// commit sends the commit transaction of rev and reports whether its guard
// held.
func (s *Store) commit(ctx context.Context, r *snap, rev int64, changes []store.Change, ops []clientv3.Op) (bool, error) {
	id := rand.Text()
	logv, err := encodeChanges(id, changes)
	if err != nil {
		return false, err
	}
	all := make([]clientv3.Op, 0, len(ops)+3)
	all = append(all,
		clientv3.OpPut(keyRevision, strconv.FormatInt(rev, 10)),
		clientv3.OpPut(logKey(rev), string(logv)))
	if old := rev - int64(s.opts.WatchRetention); old > 0 {
		all = append(all, clientv3.OpDelete(logKey(old)))
	}
	all = append(all, ops...)
	actx, cancel := context.WithTimeout(ctx, s.attemptTimeout())
	defer cancel()
	resp, err := s.kv.KV.Txn(actx).
		If(clientv3.Compare(clientv3.ModRevision(keyRevision), "=", r.mod)).
		Then(all...).
		Commit()
	if err != nil {
		if ctx.Err() != nil || s.closed.Load() {
			return false, s.callErr(ctx, err)
		}
		// No answer (the member serving this client died, hangs, the
		// connection broke): the commit may or may not have been applied.
		// Its log entry says which; the client moves to another member.
		s.steer.suspect()
		return s.outcome(ctx, rev, id, err)
	}
	return resp.Succeeded, nil
}

// outcome learns whether the commit id of rev was applied, asking until
// ctx ends; a commit that was not applied is retried by mutate.
func (s *Store) outcome(ctx context.Context, rev int64, id string, cause error) (bool, error) {
	for {
		resp, err := s.kv.Get(ctx, logKey(rev))
		if err == nil {
			if len(resp.Kvs) == 0 {
				return false, nil
			}
			got, _, err := decodeChanges(resp.Kvs[0].Value)
			if err != nil {
				return false, err
			}
			return got == id, nil
		}
		select {
		case <-ctx.Done():
			return false, s.callErr(ctx, fmt.Errorf("%w (after %v)", err, cause))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// isUnavailable reports a gRPC Unavailable status (no connection).
func isUnavailable(err error) bool {
	st, ok := status.FromError(err)
	return ok && (st.Code() == codes.Unavailable || st.Code() == codes.DeadlineExceeded || serverTimeout(st))
}
