package etcd

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/securegw/gateway/store"
)

// PutObject stores o at a new revision, following the compare-and-set rule
// of the store contract, in the current generation of its kind.
func (s *Store) PutObject(ctx context.Context, o store.Object, expect int64) (store.Object, error) {
	var rec objectRecord
	err := checkKey("key", o.Key)
	if err == nil {
		err = checkKind(o.Kind)
	}
	if err == nil {
		ctx, cancel := s.callCtx(ctx)
		defer cancel()
		_, err = s.mutate(ctx, prefetch{keys: []string{genKey(o.Kind)}}, func(r *snap, rev int64) ([]clientv3.Op, []store.Change, error) {
			gen, err := r.gen(o.Kind)
			if err != nil {
				return nil, nil, err
			}
			key := objKey(o.Kind, gen, o.Key)
			cur, exists, err := r.object(key)
			if err != nil {
				return nil, nil, err
			}
			if err := checkExpect(expect, exists, cur.Revision); err != nil {
				return nil, nil, err
			}
			rec = objectRecord{Value: o.Value, Revision: rev, CreateRevision: rev, UpdatedAt: s.now()}
			if exists {
				rec.CreateRevision = cur.CreateRevision
			}
			data, err := encodeObject(rec)
			if err != nil {
				return nil, nil, err
			}
			return []clientv3.Op{clientv3.OpPut(key, string(data))}, []store.Change{{Kind: o.Kind, Key: o.Key}}, nil
		})
	}
	if err != nil {
		return store.Object{}, fmt.Errorf("putting %s %q: %w", o.Kind, o.Key, err)
	}
	out := rec.Object(o.Kind, o.Key)
	out.Value = bytes.Clone(o.Value)
	return out, nil
}

// object reads an object record (or a meta value) at the snapshot.
func (r *snap) object(key string) (objectRecord, bool, error) {
	kv, err := r.get(key)
	if err != nil || kv == nil {
		return objectRecord{}, false, err
	}
	rec, err := decodeObject(kv.Value)
	return rec, err == nil, err
}

// GetObject returns an object, or an error wrapping store.ErrNotFound.
func (s *Store) GetObject(ctx context.Context, kind, key string) (store.Object, error) {
	rec, err := s.getObject(ctx, kind, key)
	if err != nil {
		return store.Object{}, fmt.Errorf("getting %s %q: %w", kind, key, err)
	}
	return rec.Object(kind, key), nil
}

func (s *Store) getObject(ctx context.Context, kind, key string) (objectRecord, error) {
	if err := checkKind(kind); err != nil {
		return objectRecord{}, err
	}
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	r, err := s.snapshot(ctx)
	if err != nil {
		return objectRecord{}, err
	}
	gen, err := r.gen(kind)
	if err != nil {
		return objectRecord{}, err
	}
	rec, exists, err := r.object(objKey(kind, gen, key))
	if err == nil && !exists {
		err = store.ErrNotFound
	}
	return rec, err
}

// ListObjects returns the objects of kind whose key starts with prefix,
// sorted by key, read in one snapshot through the kind's generation.
func (s *Store) ListObjects(ctx context.Context, kind, prefix string) ([]store.Object, error) {
	out, err := s.listObjects(ctx, kind, prefix)
	if err != nil {
		return nil, fmt.Errorf("listing %s objects with prefix %q: %w", kind, prefix, err)
	}
	return out, nil
}

func (s *Store) listObjects(ctx context.Context, kind, prefix string) ([]store.Object, error) {
	if err := checkKind(kind); err != nil {
		return nil, err
	}
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	r, err := s.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	return r.objects(kind, prefix)
}

// objects lists kind's objects whose key starts with prefix at the snapshot.
func (r *snap) objects(kind, prefix string) ([]store.Object, error) {
	gen, err := r.gen(kind)
	if err != nil {
		return nil, err
	}
	base := objPrefix(kind, gen)
	kvs, err := r.listPrefix(base+prefix, false)
	if err != nil {
		return nil, err
	}
	out := make([]store.Object, 0, len(kvs))
	for _, kv := range kvs {
		rec, err := decodeObject(kv.Value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", kv.Key, err)
		}
		out = append(out, rec.Object(kind, strings.TrimPrefix(string(kv.Key), base)))
	}
	return out, nil
}

// DeleteObject removes an object and returns the revision of the deletion.
// A missing object gives store.ErrNotFound whatever expect is.
func (s *Store) DeleteObject(ctx context.Context, kind, key string, expect int64) (int64, error) {
	return s.DeleteObjectIf(ctx, kind, key, expect, nil)
}

// DeleteObjectIf implements store.Store: check reads the snapshot the
// commit is guarded on, and runs again when another commit got in first.
func (s *Store) DeleteObjectIf(ctx context.Context, kind, key string, expect int64, check store.Check) (int64, error) {
	rev, err := s.deleteObject(ctx, kind, key, expect, check)
	if err != nil {
		return 0, fmt.Errorf("deleting %s %q: %w", kind, key, err)
	}
	return rev, nil
}

func (s *Store) deleteObject(ctx context.Context, kind, key string, expect int64, check store.Check) (int64, error) {
	if err := checkKind(kind); err != nil {
		return 0, err
	}
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	return s.mutate(ctx, prefetch{keys: []string{genKey(kind)}}, func(r *snap, _ int64) ([]clientv3.Op, []store.Change, error) {
		gen, err := r.gen(kind)
		if err != nil {
			return nil, nil, err
		}
		k := objKey(kind, gen, key)
		cur, exists, err := r.object(k)
		if err != nil {
			return nil, nil, err
		}
		if !exists {
			return nil, nil, store.ErrNotFound
		}
		if err := checkExpect(expect, exists, cur.Revision); err != nil {
			return nil, nil, err
		}
		if check != nil {
			if err := check(ctx, snapReader{r}); err != nil {
				return nil, nil, err
			}
		}
		return []clientv3.Op{clientv3.OpDelete(k)}, []store.Change{{Kind: kind, Key: key, Delete: true}}, nil
	})
}

// GetMeta returns a meta value, or an error wrapping store.ErrNotFound.
func (s *Store) GetMeta(ctx context.Context, key string) ([]byte, error) {
	v, _, err := s.GetMetaRevision(ctx, key)
	return v, err
}

// GetMetaRevision returns a meta value and the revision of its last write,
// or an error wrapping store.ErrNotFound.
func (s *Store) GetMetaRevision(ctx context.Context, key string) ([]byte, int64, error) {
	rec, err := getRecord(s, ctx, metaKey(key), decodeObject)
	if err != nil {
		return nil, 0, fmt.Errorf("getting meta %q: %w", key, err)
	}
	if rec.Value == nil {
		rec.Value = []byte{}
	}
	return rec.Value, rec.Revision, nil
}

// PutMeta sets a meta value at a new revision, following the
// compare-and-set rule of the store contract, and returns the revision.
func (s *Store) PutMeta(ctx context.Context, key string, value []byte, expect int64) (int64, error) {
	var rev int64
	err := checkKey("key", key)
	if err == nil {
		ctx, cancel := s.callCtx(ctx)
		defer cancel()
		rev, err = s.mutate(ctx, prefetch{keys: []string{metaKey(key)}}, func(r *snap, rev int64) ([]clientv3.Op, []store.Change, error) {
			cur, exists, err := r.object(metaKey(key))
			if err != nil {
				return nil, nil, err
			}
			if err := checkExpect(expect, exists, cur.Revision); err != nil {
				return nil, nil, err
			}
			op, err := s.metaOp(r, key, value, rev)
			if err != nil {
				return nil, nil, err
			}
			return []clientv3.Op{op}, []store.Change{{Kind: store.KindMeta, Key: key}}, nil
		})
	}
	if err != nil {
		return 0, fmt.Errorf("putting meta %q: %w", key, err)
	}
	return rev, nil
}

// metaOp writes a meta value at rev, keeping its create revision.
func (s *Store) metaOp(r *snap, key string, value []byte, rev int64) (clientv3.Op, error) {
	cur, exists, err := r.object(metaKey(key))
	if err != nil {
		return clientv3.Op{}, fmt.Errorf("meta %q: %w", key, err)
	}
	rec := objectRecord{Value: value, Revision: rev, CreateRevision: rev, UpdatedAt: s.now()}
	if exists {
		rec.CreateRevision = cur.CreateRevision
	}
	data, err := encodeObject(rec)
	if err != nil {
		return clientv3.Op{}, fmt.Errorf("meta %q: %w", key, err)
	}
	return clientv3.OpPut(metaKey(key), string(data)), nil
}
