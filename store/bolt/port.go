package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/securegw/gateway/store"
	"github.com/securegw/gateway/store/internal/record"
)

var _ store.Porter = (*Store)(nil)

// Export implements store.Porter: one read transaction.
func (s *Store) Export(ctx context.Context) (store.Dump, error) {
	var d store.Dump
	err := s.view(ctx, func(tx *bolt.Tx) error {
		d.Revision = int64(readRevision(tx))
		tops, err := bucket(tx, bucketTopologies)
		if err != nil {
			return err
		}
		if err := tops.ForEach(func(_, v []byte) error {
			rec, err := decodeTopology(v)
			d.Topologies = append(d.Topologies, rec.Topology())
			return err
		}); err != nil {
			return err
		}
		hist, err := bucket(tx, bucketHistory)
		if err != nil {
			return err
		}
		if err := hist.ForEachBucket(func(name []byte) error {
			return hist.Bucket(name).ForEach(func(_, v []byte) error {
				rec, err := decodeTopology(v)
				d.History = append(d.History, rec.Topology())
				return err
			})
		}); err != nil {
			return err
		}
		for _, kind := range store.Kinds {
			b, err := kindBucket(tx, kind)
			if err != nil {
				return err
			}
			if err := b.ForEach(func(k, v []byte) error {
				rec, err := decodeObject(v)
				d.Objects = append(d.Objects, rec.Object(kind, string(k)))
				return err
			}); err != nil {
				return err
			}
		}
		um, err := bucket(tx, bucketUserMeta)
		if err != nil {
			return err
		}
		if err := um.ForEach(func(k, v []byte) error {
			rec, err := decodeObject(v)
			d.Meta = append(d.Meta, rec.Object(store.KindMeta, string(k)))
			return err
		}); err != nil {
			return err
		}
		audit, err := bucket(tx, bucketAudit)
		if err != nil {
			return err
		}
		return audit.ForEach(func(k, v []byte) error {
			rec, err := record.Decode[auditRecord](v)
			d.Audit = append(d.Audit, rec.Audit(int64(binary.BigEndian.Uint64(k))))
			return err
		})
	})
	if err != nil {
		return store.Dump{}, fmt.Errorf("exporting store %s: %w", s.path, err)
	}
	return d, nil
}

// Import implements store.Porter: one write transaction into an empty file.
func (s *Store) Import(ctx context.Context, d store.Dump) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		if readRevision(tx) != 0 {
			return errors.New("the target store is not empty")
		}
		if err := tx.Bucket(bucketMeta).Put(keyRevision, u64key(uint64(d.Revision))); err != nil {
			return err
		}
		tops, err := bucket(tx, bucketTopologies)
		if err != nil {
			return err
		}
		for _, t := range d.Topologies {
			data, err := encodeTopology(topologyFrom(t))
			if err != nil {
				return err
			}
			if err := tops.Put([]byte(t.Name), data); err != nil {
				return err
			}
		}
		hist, err := bucket(tx, bucketHistory)
		if err != nil {
			return err
		}
		for _, t := range d.History {
			hb, err := hist.CreateBucketIfNotExists([]byte(t.Name))
			if err != nil {
				return err
			}
			data, err := encodeTopology(topologyFrom(t))
			if err != nil {
				return err
			}
			if err := hb.Put(u64key(uint64(t.Revision)), data); err != nil {
				return err
			}
		}
		for _, o := range d.Objects {
			b, err := kindBucket(tx, o.Kind)
			if err != nil {
				return err
			}
			if err := putObjectRecord(b, o.Key, objectFrom(o)); err != nil {
				return err
			}
		}
		um, err := bucket(tx, bucketUserMeta)
		if err != nil {
			return err
		}
		for _, o := range d.Meta {
			if err := putObjectRecord(um, o.Key, objectFrom(o)); err != nil {
				return err
			}
		}
		audit, err := bucket(tx, bucketAudit)
		if err != nil {
			return err
		}
		var last int64
		for _, r := range d.Audit {
			data, err := json.Marshal(auditRecord{Time: r.Time, Principal: r.Principal, Method: r.Method,
				Target: r.Target, Outcome: r.Outcome, Detail: r.Detail, Peer: r.Peer})
			if err != nil {
				return err
			}
			if err := audit.Put(u64key(uint64(r.Sequence)), data); err != nil {
				return err
			}
			last = max(last, r.Sequence)
		}
		return audit.SetSequence(uint64(last))
	})
	if err != nil {
		return fmt.Errorf("importing into store %s: %w", s.path, err)
	}
	return nil
}

func topologyFrom(t store.Topology) topologyRecord {
	return topologyRecord{Name: t.Name, Spec: bytes.Clone(t.Spec), Revision: t.Revision, CreateRevision: t.CreateRevision,
		UpdatedAt: t.UpdatedAt, UpdatedBy: t.UpdatedBy, Action: t.Action}
}

func objectFrom(o store.Object) objectRecord {
	return objectRecord{Value: bytes.Clone(o.Value), Revision: o.Revision, CreateRevision: o.CreateRevision, UpdatedAt: o.UpdatedAt}
}
