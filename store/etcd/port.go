package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/securegw/gateway/store"
)

var _ store.Porter = (*Store)(nil)

// Export implements store.Porter: everything read at one etcd revision.
func (s *Store) Export(ctx context.Context) (store.Dump, error) {
	d, err := s.export(ctx)
	if err != nil {
		return store.Dump{}, fmt.Errorf("exporting etcd store (prefix %q): %w", s.opts.Prefix, err)
	}
	return d, nil
}

func (s *Store) export(ctx context.Context) (store.Dump, error) {
	r, err := s.snapshot(ctx)
	if err != nil {
		return store.Dump{}, err
	}
	d := store.Dump{Revision: r.cur}
	kvs, err := r.listPrefix(prefixTopo, false)
	if err != nil {
		return d, err
	}
	for _, kv := range kvs {
		rec, err := decodeTopology(kv.Value)
		if err != nil {
			return d, fmt.Errorf("%s: %w", kv.Key, err)
		}
		d.Topologies = append(d.Topologies, rec.Topology())
	}
	if kvs, err = r.listPrefix(prefixHist, false); err != nil {
		return d, err
	}
	for _, kv := range kvs {
		rec, err := decodeTopology(kv.Value)
		if err != nil {
			return d, fmt.Errorf("%s: %w", kv.Key, err)
		}
		d.History = append(d.History, rec.Topology())
	}
	for _, kind := range store.Kinds {
		objs, err := r.objects(kind, "")
		if err != nil {
			return d, err
		}
		d.Objects = append(d.Objects, objs...)
	}
	if kvs, err = r.listPrefix(prefixMeta, false); err != nil {
		return d, err
	}
	for _, kv := range kvs {
		rec, err := decodeObject(kv.Value)
		if err != nil {
			return d, fmt.Errorf("%s: %w", kv.Key, err)
		}
		d.Meta = append(d.Meta, rec.Object(store.KindMeta, string(kv.Key[len(prefixMeta):])))
	}
	if kvs, err = r.listPrefix(prefixAudit, false); err != nil {
		return d, err
	}
	for _, kv := range kvs {
		seq, err := parseSeqKey(prefixAudit, kv.Key)
		if err != nil {
			return d, err
		}
		var rec auditRecord
		if err := json.Unmarshal(kv.Value, &rec); err != nil {
			return d, fmt.Errorf("audit record %d: %w", seq, err)
		}
		d.Audit = append(d.Audit, rec.Audit(seq))
	}
	return d, nil
}

// Import implements store.Porter. The records go in transactions within
// etcd's limits and the revision key last: until it is written the store
// is empty to every reader, and an interrupted import can be run again.
func (s *Store) Import(ctx context.Context, d store.Dump) error {
	if err := s.importDump(ctx, d); err != nil {
		return fmt.Errorf("importing into etcd store (prefix %q): %w", s.opts.Prefix, err)
	}
	return nil
}

func (s *Store) importDump(ctx context.Context, d store.Dump) error {
	cur, err := s.Revision(ctx)
	if err != nil {
		return err
	}
	if cur != 0 {
		return errors.New("the target store is not empty")
	}
	var (
		ops  []clientv3.Op
		size int
	)
	put := func(key string, value []byte) error {
		if len(ops) == MaxTxnOps || size+len(key)+len(value) > MaxTxnBytes {
			if _, err := s.txn(ctx, nil, ops); err != nil {
				return s.callErr(ctx, err)
			}
			ops, size = ops[:0], 0
		}
		ops = append(ops, clientv3.OpPut(key, string(value)))
		size += len(key) + len(value)
		return nil
	}
	topo := func(t store.Topology) ([]byte, error) {
		return encodeTopology(topologyRecord{Name: t.Name, Spec: t.Spec, Revision: t.Revision, CreateRevision: t.CreateRevision,
			UpdatedAt: t.UpdatedAt, UpdatedBy: t.UpdatedBy, Action: t.Action})
	}
	obj := func(o store.Object) ([]byte, error) {
		return encodeObject(objectRecord{Value: o.Value, Revision: o.Revision, CreateRevision: o.CreateRevision, UpdatedAt: o.UpdatedAt})
	}
	for _, t := range d.Topologies {
		data, err := topo(t)
		if err == nil {
			err = put(topoKey(t.Name), data)
		}
		if err != nil {
			return err
		}
	}
	for _, t := range d.History {
		data, err := topo(t)
		if err == nil {
			err = put(histKey(t.Name, t.Revision), data)
		}
		if err != nil {
			return err
		}
	}
	for _, o := range d.Objects {
		if err := checkKind(o.Kind); err != nil {
			return err
		}
		data, err := obj(o)
		if err == nil {
			err = put(objKey(o.Kind, 0, o.Key), data)
		}
		if err != nil {
			return err
		}
	}
	for _, o := range d.Meta {
		data, err := obj(o)
		if err == nil {
			err = put(metaKey(o.Key), data)
		}
		if err != nil {
			return err
		}
	}
	var last int64
	for _, a := range d.Audit {
		data, err := json.Marshal(auditRecord{Time: a.Time, Principal: a.Principal, Method: a.Method,
			Target: a.Target, Outcome: a.Outcome, Detail: a.Detail, Peer: a.Peer})
		if err == nil {
			err = put(auditKey(a.Sequence), data)
		}
		if err != nil {
			return err
		}
		last = max(last, a.Sequence)
	}
	if last > 0 {
		if err := put(keyAuditSeq, []byte(strconv.FormatInt(last, 10))); err != nil {
			return err
		}
	}
	if len(ops) > 0 {
		if _, err := s.txn(ctx, nil, ops); err != nil {
			return s.callErr(ctx, err)
		}
	}
	if d.Revision == 0 {
		return nil
	}
	// The commit of the import: only if nobody wrote meanwhile.
	tr, err := s.txn(ctx, []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(keyRevision), "=", 0)},
		[]clientv3.Op{clientv3.OpPut(keyRevision, strconv.FormatInt(d.Revision, 10))})
	if err != nil {
		return s.callErr(ctx, err)
	}
	if !tr.Succeeded {
		return errors.New("the target store was written to during the import")
	}
	return nil
}
