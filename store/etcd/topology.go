package etcd

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/securegw/gateway/store"
)

// PutTopology stores a new version of t.Name at a new revision, following
// the compare-and-set rule of the store contract; the version and its
// history entry are written in the commit transaction, which also drops
// the oldest history entries beyond Options.HistoryLimit.
func (s *Store) PutTopology(ctx context.Context, t store.Topology, expect int64) (store.Topology, error) {
	return s.PutTopologyIf(ctx, t, expect, nil)
}

// PutTopologyIf implements store.Store: check reads the snapshot the
// commit is guarded on, and runs again when another commit got in first.
func (s *Store) PutTopologyIf(ctx context.Context, t store.Topology, expect int64, check store.Check) (store.Topology, error) {
	out, err := s.putTopology(ctx, t, expect, check)
	if err != nil {
		return store.Topology{}, fmt.Errorf("putting topology %q: %w", t.Name, err)
	}
	return out, nil
}

func (s *Store) putTopology(ctx context.Context, t store.Topology, expect int64, check store.Check) (store.Topology, error) {
	if err := checkKey("topology name", t.Name); err != nil {
		return store.Topology{}, err
	}
	if len(t.Spec) == 0 {
		return store.Topology{}, errors.New("empty spec")
	}
	switch t.Action {
	case "":
		t.Action = actionDeploy
	case actionDeploy, actionRollback:
	default:
		return store.Topology{}, fmt.Errorf("invalid action %q (want %q or %q)", t.Action, actionDeploy, actionRollback)
	}
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	var rec topologyRecord
	pre := prefetch{keys: []string{topoKey(t.Name)}, prefixes: []string{histPrefix(t.Name)}}
	_, err := s.mutate(ctx, pre, func(r *snap, rev int64) ([]clientv3.Op, []store.Change, error) {
		cur, exists, err := r.topology(t.Name)
		if err != nil {
			return nil, nil, err
		}
		if err := checkExpect(expect, exists, cur.Revision); err != nil {
			return nil, nil, err
		}
		if check != nil {
			if err := check(ctx, snapReader{r}); err != nil {
				return nil, nil, err
			}
		}
		rec = topologyRecord{
			Name:           t.Name,
			Spec:           t.Spec,
			Revision:       rev,
			CreateRevision: rev,
			UpdatedAt:      s.now(),
			UpdatedBy:      t.UpdatedBy,
			Action:         t.Action,
		}
		if exists {
			rec.CreateRevision = cur.CreateRevision
		}
		data, err := encodeTopology(rec)
		if err != nil {
			return nil, nil, err
		}
		ops := []clientv3.Op{clientv3.OpPut(topoKey(t.Name), string(data))}
		hist, err := s.historyOps(r, t.Name, rev, data)
		if err != nil {
			return nil, nil, err
		}
		return append(ops, hist...), []store.Change{{Kind: store.KindTopology, Key: t.Name}}, nil
	})
	if err != nil {
		return store.Topology{}, err
	}
	out := rec.Topology()
	out.Spec = bytes.Clone(t.Spec)
	return out, nil
}

// historyOps adds the version data at rev to name's history and drops the
// oldest entries beyond the limit (a lowered limit drops the backlog a few
// entries per commit).
func (s *Store) historyOps(r *snap, name string, rev int64, data []byte) ([]clientv3.Op, error) {
	keys, err := r.listPrefix(histPrefix(name), true)
	if err != nil {
		return nil, err
	}
	ops := []clientv3.Op{clientv3.OpPut(histKey(name, rev), string(data))}
	drop := len(keys) + 1 - s.opts.HistoryLimit
	for i := 0; i < drop && i < MaxTxnOps/2; i++ {
		ops = append(ops, clientv3.OpDelete(string(keys[i].Key)))
	}
	return ops, nil
}

// topology reads the current version of name at the snapshot.
func (r *snap) topology(name string) (topologyRecord, bool, error) {
	kv, err := r.get(topoKey(name))
	if err != nil || kv == nil {
		return topologyRecord{}, false, err
	}
	rec, err := decodeTopology(kv.Value)
	return rec, err == nil, err
}

// GetTopology returns the current version of a topology, or an error
// wrapping store.ErrNotFound.
func (s *Store) GetTopology(ctx context.Context, name string) (store.Topology, error) {
	rec, err := getRecord(s, ctx, topoKey(name), decodeTopology)
	if err != nil {
		return store.Topology{}, fmt.Errorf("getting topology %q: %w", name, err)
	}
	return rec.Topology(), nil
}

// getRecord reads and decodes one key; a missing key is store.ErrNotFound.
func getRecord[T any](s *Store, ctx context.Context, key string, decode func([]byte) (T, error)) (T, error) {
	var zero T
	if err := s.usable(ctx); err != nil {
		return zero, err
	}
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	resp, err := s.kv.Get(ctx, key)
	if err != nil {
		return zero, s.callErr(ctx, err)
	}
	if len(resp.Kvs) == 0 {
		return zero, store.ErrNotFound
	}
	return decode(resp.Kvs[0].Value)
}

// GetTopologyRevision returns the version of a topology stored at
// revision, a "delete" entry included; store.ErrNotFound when the history
// does not hold it.
func (s *Store) GetTopologyRevision(ctx context.Context, name string, revision int64) (store.Topology, error) {
	var (
		rec topologyRecord
		err error
	)
	if revision <= 0 {
		err = s.usable(ctx)
		if err == nil {
			err = store.ErrNotFound
		}
	} else {
		rec, err = getRecord(s, ctx, histKey(name, revision), decodeTopology)
	}
	if err != nil {
		return store.Topology{}, fmt.Errorf("getting topology %q at revision %d: %w", name, revision, err)
	}
	return rec.Topology(), nil
}

// ListTopologies returns the current version of every topology, sorted by
// name, and the store revision they were read at.
func (s *Store) ListTopologies(ctx context.Context) ([]store.Topology, int64, error) {
	out, rev, err := s.listTopologies(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("listing topologies: %w", err)
	}
	return out, rev, nil
}

func (s *Store) listTopologies(ctx context.Context) ([]store.Topology, int64, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	r, err := s.snapshot(ctx)
	if err != nil {
		return nil, 0, err
	}
	return r.topologies()
}

// topologies lists the current topologies at the snapshot.
func (r *snap) topologies() ([]store.Topology, int64, error) {
	kvs, err := r.listPrefix(prefixTopo, false)
	if err != nil {
		return nil, 0, err
	}
	out := make([]store.Topology, 0, len(kvs))
	for _, kv := range kvs {
		rec, err := decodeTopology(kv.Value)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", kv.Key, err)
		}
		out = append(out, rec.Topology())
	}
	return out, r.cur, nil
}

// snapReader is the store.Reader of a guarded write: it reads the snapshot
// the commit is guarded on.
type snapReader struct{ r *snap }

func (x snapReader) ListTopologies(context.Context) ([]store.Topology, int64, error) {
	return x.r.topologies()
}

func (x snapReader) ListObjects(_ context.Context, kind, prefix string) ([]store.Object, error) {
	if err := checkKind(kind); err != nil {
		return nil, err
	}
	return x.r.objects(kind, prefix)
}

func (x snapReader) GetMeta(_ context.Context, key string) ([]byte, error) {
	rec, exists, err := x.r.object(metaKey(key))
	if err == nil && !exists {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("getting meta %q: %w", key, err)
	}
	if rec.Value == nil {
		rec.Value = []byte{}
	}
	return rec.Value, nil
}

// DeleteTopology removes a topology and records a "delete" entry, with an
// empty spec, in its history. A missing topology gives store.ErrNotFound
// whatever expect is.
func (s *Store) DeleteTopology(ctx context.Context, name, by string, expect int64) (int64, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	pre := prefetch{keys: []string{topoKey(name)}, prefixes: []string{histPrefix(name)}}
	rev, err := s.mutate(ctx, pre, func(r *snap, rev int64) ([]clientv3.Op, []store.Change, error) {
		cur, exists, err := r.topology(name)
		if err != nil {
			return nil, nil, err
		}
		if !exists {
			return nil, nil, store.ErrNotFound
		}
		if err := checkExpect(expect, exists, cur.Revision); err != nil {
			return nil, nil, err
		}
		data, err := encodeTopology(topologyRecord{
			Name:           name,
			Revision:       rev,
			CreateRevision: cur.CreateRevision,
			UpdatedAt:      s.now(),
			UpdatedBy:      by,
			Action:         actionDelete,
		})
		if err != nil {
			return nil, nil, err
		}
		ops := []clientv3.Op{clientv3.OpDelete(topoKey(name))}
		hist, err := s.historyOps(r, name, rev, data)
		if err != nil {
			return nil, nil, err
		}
		return append(ops, hist...), []store.Change{{Kind: store.KindTopology, Key: name, Delete: true}}, nil
	})
	if err != nil {
		return 0, fmt.Errorf("deleting topology %q: %w", name, err)
	}
	return rev, nil
}

// TopologyHistory returns the kept versions of a topology, newest first,
// deletions included; store.ErrNotFound when it has none.
func (s *Store) TopologyHistory(ctx context.Context, name string) ([]store.Topology, error) {
	out, err := s.topologyHistory(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("reading history of topology %q: %w", name, err)
	}
	return out, nil
}

func (s *Store) topologyHistory(ctx context.Context, name string) ([]store.Topology, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	r, err := s.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	kvs, err := r.listPrefix(histPrefix(name), false)
	if err != nil {
		return nil, err
	}
	if len(kvs) == 0 {
		return nil, store.ErrNotFound
	}
	out := make([]store.Topology, 0, len(kvs))
	for i := len(kvs) - 1; i >= 0; i-- {
		rec, err := decodeTopology(kvs[i].Value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", kvs[i].Key, err)
		}
		out = append(out, rec.Topology())
	}
	return out, nil
}
