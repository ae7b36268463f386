package bolt

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/securegw/gateway/store"
)

// kindBucket returns the bucket of an object kind, refusing unknown kinds.
func kindBucket(tx *bolt.Tx, kind string) (*bolt.Bucket, error) {
	if err := checkKind(kind); err != nil {
		return nil, err
	}
	objects, err := bucket(tx, bucketObjects)
	if err != nil {
		return nil, err
	}
	b := objects.Bucket([]byte(kind))
	if b == nil {
		return nil, fmt.Errorf("bucket of kind %q missing: damaged data file", kind)
	}
	return b, nil
}

// PutObject stores o at a new revision, following the compare-and-set rule
// of the store contract. Revision, CreateRevision and UpdatedAt of o are
// ignored: the store sets them.
func (s *Store) PutObject(ctx context.Context, o store.Object, expect int64) (store.Object, error) {
	return s.putObject(ctx, o, expect, nil, nil)
}

// PutObjectAudited is PutObject with an audit record appended in the same
// commit (one fsync): the change and its record are durable together, or
// neither is. Token issuance uses it for its management call's record.
// It returns the record's sequence number too.
func (s *Store) PutObjectAudited(ctx context.Context, o store.Object, expect int64, r store.AuditRecord) (store.Object, int64, error) {
	var seq uint64
	out, err := s.putObject(ctx, o, expect, &r, &seq)
	return out, int64(seq), err
}

func (s *Store) putObject(ctx context.Context, o store.Object, expect int64, audit *store.AuditRecord, seq *uint64) (store.Object, error) {
	var rec objectRecord
	err := checkKey("key", o.Key)
	if err == nil {
		err = checkKind(o.Kind)
	}
	write := s.writer(o.Kind)
	if audit != nil {
		write = s.batched
	}
	if err == nil {
		err = write(ctx, func(tx *bolt.Tx) error {
			b, err := kindBucket(tx, o.Kind)
			if err != nil {
				return err
			}
			cur, exists, err := getObjectRecord(b, o.Key)
			if err != nil {
				return err
			}
			if err := checkExpect(expect, exists, cur.Revision); err != nil {
				return err
			}
			rev, err := bumpRevision(tx, s.opts.WatchRetention, store.Change{Kind: o.Kind, Key: o.Key})
			if err != nil {
				return err
			}
			rec = objectRecord{Value: o.Value, Revision: rev, CreateRevision: rev, UpdatedAt: s.now()}
			if exists {
				rec.CreateRevision = cur.CreateRevision
			}
			if err := putObjectRecord(b, o.Key, rec); err != nil {
				return err
			}
			if audit != nil {
				*seq, err = s.appendAudit(tx, *audit)
			}
			return err
		})
	}
	if err != nil {
		return store.Object{}, fmt.Errorf("putting %s %q: %w", o.Kind, o.Key, err)
	}
	out := rec.Object(o.Kind, o.Key)
	out.Value = bytes.Clone(o.Value) // never hand back the caller's slice
	return out, nil
}

func getObjectRecord(b *bolt.Bucket, key string) (objectRecord, bool, error) {
	v := b.Get([]byte(key))
	if v == nil {
		return objectRecord{}, false, nil
	}
	rec, err := decodeObject(v)
	return rec, err == nil, err
}

func putObjectRecord(b *bolt.Bucket, key string, rec objectRecord) error {
	data, err := encodeObject(rec)
	if err != nil {
		return err
	}
	if err := b.Put([]byte(key), data); err != nil {
		return fmt.Errorf("writing object: %w", err)
	}
	return nil
}

// GetObject returns an object, or an error wrapping store.ErrNotFound.
func (s *Store) GetObject(ctx context.Context, kind, key string) (store.Object, error) {
	var rec objectRecord
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b, err := kindBucket(tx, kind)
		if err != nil {
			return err
		}
		var exists bool
		rec, exists, err = getObjectRecord(b, key)
		if err == nil && !exists {
			err = store.ErrNotFound
		}
		return err
	})
	if err != nil {
		return store.Object{}, fmt.Errorf("getting %s %q: %w", kind, key, err)
	}
	return rec.Object(kind, key), nil
}

// ListObjects returns the objects of kind whose key starts with prefix,
// sorted by key.
func (s *Store) ListObjects(ctx context.Context, kind, prefix string) ([]store.Object, error) {
	var out []store.Object
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		out, err = listObjectsTx(tx, kind, prefix)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listing %s objects with prefix %q: %w", kind, prefix, err)
	}
	return out, nil
}

func listObjectsTx(tx *bolt.Tx, kind, prefix string) ([]store.Object, error) {
	b, err := kindBucket(tx, kind)
	if err != nil {
		return nil, err
	}
	out := []store.Object{}
	p := []byte(prefix)
	c := b.Cursor()
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		rec, err := decodeObject(v)
		if err != nil {
			return nil, err
		}
		out = append(out, rec.Object(kind, string(k)))
	}
	return out, nil
}

// DeleteObject removes an object and returns the revision of the deletion.
// A missing object gives store.ErrNotFound whatever expect is.
func (s *Store) DeleteObject(ctx context.Context, kind, key string, expect int64) (int64, error) {
	return s.DeleteObjectIf(ctx, kind, key, expect, nil)
}

// DeleteObjectIf implements store.Store: check runs in the write
// transaction, on what it sees.
func (s *Store) DeleteObjectIf(ctx context.Context, kind, key string, expect int64, check store.Check) (int64, error) {
	var rev int64
	err := s.writer(kind)(ctx, func(tx *bolt.Tx) error {
		b, err := kindBucket(tx, kind)
		if err != nil {
			return err
		}
		cur, exists, err := getObjectRecord(b, key)
		if err != nil {
			return err
		}
		if !exists {
			return store.ErrNotFound
		}
		if err := checkExpect(expect, exists, cur.Revision); err != nil {
			return err
		}
		if check != nil {
			if err := check(ctx, txReader{tx}); err != nil {
				return err
			}
		}
		if rev, err = bumpRevision(tx, s.opts.WatchRetention, store.Change{Kind: kind, Key: key, Delete: true}); err != nil {
			return err
		}
		if err := b.Delete([]byte(key)); err != nil {
			return fmt.Errorf("removing object: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("deleting %s %q: %w", kind, key, err)
	}
	return rev, nil
}

// RewriteObjects implements store.Store. fn runs inside the write
// transaction: it must not call the store. Changed objects get the one new
// revision of the call; the revision is bumped only if an object or a meta
// value is written. A canceled ctx stops the rewrite and writes nothing.
func (s *Store) RewriteObjects(ctx context.Context, kinds []string, fn func(store.Object) ([]byte, error), meta map[string][]byte) (int, error) {
	return s.RewriteObjectsIf(ctx, kinds, fn, meta, nil)
}

// RewriteObjectsIf implements store.Store: check runs in the rewrite's
// transaction.
func (s *Store) RewriteObjectsIf(ctx context.Context, kinds []string, fn func(store.Object) ([]byte, error), meta map[string][]byte, check store.Check) (int, error) {
	changed, err := s.rewriteObjects(ctx, kinds, fn, meta, check)
	if err != nil {
		return 0, fmt.Errorf("rewriting objects of kinds %q: %w", kinds, err)
	}
	return changed, nil
}

func (s *Store) rewriteObjects(ctx context.Context, kinds []string, fn func(store.Object) ([]byte, error), meta map[string][]byte, check store.Check) (int, error) {
	if fn == nil {
		return 0, errNilFunc
	}
	var uniq []string
	for _, kind := range kinds {
		if err := checkKind(kind); err != nil {
			return 0, err
		}
		if !slices.Contains(uniq, kind) {
			uniq = append(uniq, kind)
		}
	}
	for key := range meta {
		if err := checkKey("meta key", key); err != nil {
			return 0, err
		}
	}
	type change struct {
		b    *bolt.Bucket
		kind string
		key  string
		rec  objectRecord
	}
	metaKeys := slices.Sorted(maps.Keys(meta))
	var changes []change
	err := s.update(ctx, func(tx *bolt.Tx) error {
		changes = changes[:0]
		if check != nil {
			if err := check(ctx, txReader{tx}); err != nil {
				return err
			}
		}
		for _, kind := range uniq {
			b, err := kindBucket(tx, kind)
			if err != nil {
				return err
			}
			c := b.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				if err := ctx.Err(); err != nil {
					return err
				}
				rec, err := decodeObject(v)
				if err != nil {
					return fmt.Errorf("%s %q: %w", kind, k, err)
				}
				key := string(k)
				obj := rec.Object(kind, key)
				obj.Value = bytes.Clone(rec.Value) // fn may modify its argument
				value, err := fn(obj)
				if err != nil {
					return fmt.Errorf("%s %q: %w", kind, key, err)
				}
				if !bytes.Equal(value, rec.Value) {
					rec.Value = value
					changes = append(changes, change{b: b, kind: kind, key: key, rec: rec})
				}
			}
		}
		if len(changes) == 0 && len(meta) == 0 {
			return nil
		}
		logged := make([]store.Change, 0, len(changes)+len(metaKeys))
		for _, ch := range changes {
			logged = append(logged, store.Change{Kind: ch.kind, Key: ch.key})
		}
		for _, key := range metaKeys {
			logged = append(logged, store.Change{Kind: store.KindMeta, Key: key})
		}
		rev, err := bumpRevision(tx, s.opts.WatchRetention, logged...)
		if err != nil {
			return err
		}
		now := s.now()
		for _, ch := range changes {
			ch.rec.Revision, ch.rec.UpdatedAt = rev, now
			if err := putObjectRecord(ch.b, ch.key, ch.rec); err != nil {
				return fmt.Errorf("%s: %w", ch.key, err)
			}
		}
		um, err := bucket(tx, bucketUserMeta)
		if err != nil {
			return err
		}
		for _, key := range metaKeys {
			if err := putMetaTx(um, key, meta[key], rev, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(changes), nil
}

// GetMeta returns a meta value, or an error wrapping store.ErrNotFound.
func (s *Store) GetMeta(ctx context.Context, key string) ([]byte, error) {
	v, _, err := s.GetMetaRevision(ctx, key)
	return v, err
}

// GetMetaRevision returns a meta value and the revision of its last write,
// or an error wrapping store.ErrNotFound.
func (s *Store) GetMetaRevision(ctx context.Context, key string) ([]byte, int64, error) {
	var rec objectRecord
	err := s.view(ctx, func(tx *bolt.Tx) error {
		um, err := bucket(tx, bucketUserMeta)
		if err != nil {
			return err
		}
		var exists bool
		rec, exists, err = getObjectRecord(um, key)
		if err == nil && !exists {
			err = store.ErrNotFound
		}
		return err
	})
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
// Keys are non-empty strings.
func (s *Store) PutMeta(ctx context.Context, key string, value []byte, expect int64) (int64, error) {
	var rev int64
	err := checkKey("key", key)
	if err == nil {
		err = s.update(ctx, func(tx *bolt.Tx) error {
			um, err := bucket(tx, bucketUserMeta)
			if err != nil {
				return err
			}
			cur, exists, err := getObjectRecord(um, key)
			if err != nil {
				return err
			}
			if err := checkExpect(expect, exists, cur.Revision); err != nil {
				return err
			}
			if rev, err = bumpRevision(tx, s.opts.WatchRetention, store.Change{Kind: store.KindMeta, Key: key}); err != nil {
				return err
			}
			return putMetaTx(um, key, value, rev, s.now())
		})
	}
	if err != nil {
		return 0, fmt.Errorf("putting meta %q: %w", key, err)
	}
	return rev, nil
}

// putMetaTx writes a meta value at rev, keeping its create revision.
func putMetaTx(um *bolt.Bucket, key string, value []byte, rev int64, now time.Time) error {
	cur, exists, err := getObjectRecord(um, key)
	if err != nil {
		return fmt.Errorf("meta %q: %w", key, err)
	}
	rec := objectRecord{Value: bytes.Clone(value), Revision: rev, CreateRevision: rev, UpdatedAt: now}
	if exists {
		rec.CreateRevision = cur.CreateRevision
	}
	if err := putObjectRecord(um, key, rec); err != nil {
		return fmt.Errorf("meta %q: %w", key, err)
	}
	return nil
}
