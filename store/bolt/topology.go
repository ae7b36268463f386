package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/securegw/gateway/store"
)

// PutTopology stores a new version of t.Name at a new revision, following
// the compare-and-set rule of the store contract. t.Action must be empty
// (meaning "deploy"), "deploy" or "rollback"; t.Spec must not be empty.
// Revision, CreateRevision and UpdatedAt of t are ignored: the store sets
// them.
func (s *Store) PutTopology(ctx context.Context, t store.Topology, expect int64) (store.Topology, error) {
	return s.PutTopologyIf(ctx, t, expect, nil)
}

// PutTopologyIf implements store.Store: check runs in the write
// transaction, on what it sees.
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
	var rec topologyRecord
	err := s.update(ctx, func(tx *bolt.Tx) error {
		if check != nil {
			if err := check(ctx, txReader{tx}); err != nil {
				return err
			}
		}
		var err error
		rec, err = putTopologyTx(tx, t, expect, s.now(), s.opts)
		return err
	})
	if err != nil {
		return store.Topology{}, err
	}
	out := rec.Topology()
	out.Spec = bytes.Clone(t.Spec) // never hand back the caller's slice
	return out, nil
}

// putTopologyTx writes a version of t in tx: compare-and-set, revision
// bump, current version and history entry.
func putTopologyTx(tx *bolt.Tx, t store.Topology, expect int64, now time.Time, opts Options) (topologyRecord, error) {
	tops, err := bucket(tx, bucketTopologies)
	if err != nil {
		return topologyRecord{}, err
	}
	cur, exists, err := getTopologyRecord(tops, t.Name)
	if err != nil {
		return topologyRecord{}, err
	}
	if err := checkExpect(expect, exists, cur.Revision); err != nil {
		return topologyRecord{}, err
	}
	rev, err := bumpRevision(tx, opts.WatchRetention, store.Change{Kind: store.KindTopology, Key: t.Name})
	if err != nil {
		return topologyRecord{}, err
	}
	rec := topologyRecord{
		Name:           t.Name,
		Spec:           t.Spec,
		Revision:       rev,
		CreateRevision: rev,
		UpdatedAt:      now,
		UpdatedBy:      t.UpdatedBy,
		Action:         t.Action,
	}
	if exists {
		rec.CreateRevision = cur.CreateRevision
	}
	data, err := encodeTopology(rec)
	if err != nil {
		return topologyRecord{}, err
	}
	if err := tops.Put([]byte(t.Name), data); err != nil {
		return topologyRecord{}, fmt.Errorf("writing topology: %w", err)
	}
	if err := appendHistory(tx, t.Name, rev, data, opts.HistoryLimit); err != nil {
		return topologyRecord{}, err
	}
	return rec, nil
}

// getTopologyRecord decodes the current version of name, if any.
func getTopologyRecord(tops *bolt.Bucket, name string) (topologyRecord, bool, error) {
	v := tops.Get([]byte(name))
	if v == nil {
		return topologyRecord{}, false, nil
	}
	rec, err := decodeTopology(v)
	return rec, err == nil, err
}

// appendHistory adds the encoded version data at rev to name's history and
// drops the oldest versions beyond limit.
func appendHistory(tx *bolt.Tx, name string, rev int64, data []byte, limit int) error {
	hist, err := bucket(tx, bucketHistory)
	if err != nil {
		return err
	}
	hb, err := hist.CreateBucketIfNotExists([]byte(name))
	if err != nil {
		return fmt.Errorf("creating history bucket: %w", err)
	}
	if err := hb.Put(u64key(uint64(rev)), data); err != nil {
		return fmt.Errorf("writing history: %w", err)
	}
	// Walk back over the limit newest entries; whatever is older goes.
	c := hb.Cursor()
	k, _ := c.Last()
	for i := 1; i < limit && k != nil; i++ {
		k, _ = c.Prev()
	}
	if k == nil {
		return nil
	}
	var old [][]byte
	for k, _ = c.Prev(); k != nil; k, _ = c.Prev() {
		old = append(old, bytes.Clone(k))
	}
	for _, k := range old {
		if err := hb.Delete(k); err != nil {
			return fmt.Errorf("trimming history: %w", err)
		}
	}
	return nil
}

// GetTopology returns the current version of a topology, or an error
// wrapping store.ErrNotFound.
func (s *Store) GetTopology(ctx context.Context, name string) (store.Topology, error) {
	var rec topologyRecord
	err := s.view(ctx, func(tx *bolt.Tx) error {
		tops, err := bucket(tx, bucketTopologies)
		if err != nil {
			return err
		}
		var exists bool
		rec, exists, err = getTopologyRecord(tops, name)
		if err == nil && !exists {
			err = store.ErrNotFound
		}
		return err
	})
	if err != nil {
		return store.Topology{}, fmt.Errorf("getting topology %q: %w", name, err)
	}
	return rec.Topology(), nil
}

// GetTopologyRevision returns the version of a topology stored at revision,
// a "delete" entry included. A revision that is not in the topology's
// history (never was, or trimmed) gives store.ErrNotFound.
func (s *Store) GetTopologyRevision(ctx context.Context, name string, revision int64) (store.Topology, error) {
	var rec topologyRecord
	err := s.view(ctx, func(tx *bolt.Tx) error {
		hist, err := bucket(tx, bucketHistory)
		if err != nil {
			return err
		}
		hb := hist.Bucket([]byte(name))
		if hb == nil || revision <= 0 {
			return store.ErrNotFound
		}
		v := hb.Get(u64key(uint64(revision)))
		if v == nil {
			return store.ErrNotFound
		}
		rec, err = decodeTopology(v)
		return err
	})
	if err != nil {
		return store.Topology{}, fmt.Errorf("getting topology %q at revision %d: %w", name, revision, err)
	}
	return rec.Topology(), nil
}

// ListTopologies returns the current version of every topology, sorted by
// name, and the store revision they were read at.
func (s *Store) ListTopologies(ctx context.Context) ([]store.Topology, int64, error) {
	var (
		out []store.Topology
		rev int64
	)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		out, rev, err = listTopologiesTx(tx)
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("listing topologies: %w", err)
	}
	return out, rev, nil
}

func listTopologiesTx(tx *bolt.Tx) ([]store.Topology, int64, error) {
	tops, err := bucket(tx, bucketTopologies)
	if err != nil {
		return nil, 0, err
	}
	out := []store.Topology{}
	err = tops.ForEach(func(_, v []byte) error {
		rec, err := decodeTopology(v)
		if err != nil {
			return err
		}
		out = append(out, rec.Topology())
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return out, int64(readRevision(tx)), nil
}

// txReader is the store.Reader of a guarded write's transaction.
type txReader struct{ tx *bolt.Tx }

func (r txReader) ListTopologies(context.Context) ([]store.Topology, int64, error) {
	return listTopologiesTx(r.tx)
}

func (r txReader) ListObjects(_ context.Context, kind, prefix string) ([]store.Object, error) {
	return listObjectsTx(r.tx, kind, prefix)
}

func (r txReader) GetMeta(_ context.Context, key string) ([]byte, error) {
	um, err := bucket(r.tx, bucketUserMeta)
	if err != nil {
		return nil, err
	}
	rec, exists, err := getObjectRecord(um, key)
	if err == nil && !exists {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("getting meta %q: %w", key, err)
	}
	return bytes.Clone(rec.Value), nil
}

// DeleteTopology removes a topology and records a "delete" entry, with an
// empty spec, in its history. A missing topology gives store.ErrNotFound
// whatever expect is.
func (s *Store) DeleteTopology(ctx context.Context, name, by string, expect int64) (int64, error) {
	var rev int64
	err := s.update(ctx, func(tx *bolt.Tx) error {
		tops, err := bucket(tx, bucketTopologies)
		if err != nil {
			return err
		}
		cur, exists, err := getTopologyRecord(tops, name)
		if err != nil {
			return err
		}
		if !exists {
			return store.ErrNotFound
		}
		if err := checkExpect(expect, exists, cur.Revision); err != nil {
			return err
		}
		if rev, err = bumpRevision(tx, s.opts.WatchRetention, store.Change{Kind: store.KindTopology, Key: name, Delete: true}); err != nil {
			return err
		}
		if err := tops.Delete([]byte(name)); err != nil {
			return fmt.Errorf("removing topology: %w", err)
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
			return err
		}
		return appendHistory(tx, name, rev, data, s.opts.HistoryLimit)
	})
	if err != nil {
		return 0, fmt.Errorf("deleting topology %q: %w", name, err)
	}
	return rev, nil
}

// TopologyHistory returns the kept versions of a topology, newest first,
// deletions included; store.ErrNotFound when it has none.
func (s *Store) TopologyHistory(ctx context.Context, name string) ([]store.Topology, error) {
	var out []store.Topology
	err := s.view(ctx, func(tx *bolt.Tx) error {
		hist, err := bucket(tx, bucketHistory)
		if err != nil {
			return err
		}
		hb := hist.Bucket([]byte(name))
		if hb == nil {
			return store.ErrNotFound
		}
		c := hb.Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			rec, err := decodeTopology(v)
			if err != nil {
				return err
			}
			out = append(out, rec.Topology())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading history of topology %q: %w", name, err)
	}
	return out, nil
}
