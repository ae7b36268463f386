package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"

	bolt "go.etcd.io/bbolt"

	"github.com/securegw/gateway/store"
)

// ErrUnsupportedSchema: the data file was written by a newer gatewayd whose
// schema this binary does not know.
var ErrUnsupportedSchema = errors.New("unsupported schema version")

// Top-level buckets and keys of the meta bucket.
var (
	bucketMeta       = []byte("meta")
	bucketTopologies = []byte("topologies")
	bucketHistory    = []byte("history")
	bucketObjects    = []byte("objects")
	bucketAudit      = []byte("audit")
	bucketUserMeta   = []byte("usermeta")
	bucketChanges    = []byte("changes")

	keySchema   = []byte("schema")
	keyRevision = []byte("revision")
)

// A migration upgrades the data in tx by one schema version.
type migration func(tx *bolt.Tx) error

// migrations[i] upgrades a file from schema version i to i+1; version 0 is
// a new, empty file. The schema version this binary writes is
// len(migrations). Append only: never edit or reorder a released entry.
var migrations = []migration{
	createV1,
	changeLogV2,
}

// createV1 creates the buckets of schema version 1.
func createV1(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketTopologies, bucketHistory, bucketObjects, bucketAudit, bucketUserMeta} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("creating bucket %q: %w", name, err)
		}
	}
	return nil
}

// changeLogV2 adds the change log that Watch reads, and gives meta values a
// revision (for PutMeta's compare-and-set): usermeta values become framed
// object records at the current revision. The log starts empty: a watch
// can start at the current revision or later.
func changeLogV2(tx *bolt.Tx) error {
	if _, err := tx.CreateBucketIfNotExists(bucketChanges); err != nil {
		return fmt.Errorf("creating bucket %q: %w", bucketChanges, err)
	}
	rev := int64(readRevision(tx))
	um := tx.Bucket(bucketUserMeta)
	if um == nil {
		return fmt.Errorf("bucket %q missing", bucketUserMeta)
	}
	type kv struct{ k, v []byte }
	var all []kv
	if err := um.ForEach(func(k, v []byte) error {
		all = append(all, kv{bytes.Clone(k), bytes.Clone(v)})
		return nil
	}); err != nil {
		return err
	}
	for _, e := range all {
		if err := putObjectRecord(um, string(e.k), objectRecord{Value: e.v, Revision: rev, CreateRevision: rev}); err != nil {
			return fmt.Errorf("meta %q: %w", e.k, err)
		}
	}
	return nil
}

// migrate brings the file to the schema version of migs, creates any
// missing bucket, and returns the resulting version. It runs in the open
// transaction, so a failed migration leaves the file as it was.
// upToDate reports whether the file has the current schema and every
// bucket, so that opening it needs no write.
func upToDate(tx *bolt.Tx, migs []migration) bool {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return false
	}
	v := meta.Get(keySchema)
	if len(v) != 8 || binary.BigEndian.Uint64(v) != uint64(len(migs)) {
		return false
	}
	objects := tx.Bucket(bucketObjects)
	if objects == nil {
		return false
	}
	for _, kind := range store.Kinds {
		if objects.Bucket([]byte(kind)) == nil {
			return false
		}
	}
	return true
}

func migrate(tx *bolt.Tx, migs []migration, lg *slog.Logger) (uint64, error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		// Either a new file or a bbolt file that is not ours.
		var foreign []string
		_ = tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			foreign = append(foreign, string(name))
			return nil
		})
		if len(foreign) > 0 {
			return 0, fmt.Errorf("not a gateway data file: no %q bucket, found buckets %q", bucketMeta, foreign)
		}
		var err error
		if meta, err = tx.CreateBucket(bucketMeta); err != nil {
			return 0, fmt.Errorf("creating bucket %q: %w", bucketMeta, err)
		}
	}
	var have uint64
	if v := meta.Get(keySchema); v != nil {
		if len(v) != 8 {
			return 0, fmt.Errorf("corrupt schema version (%d bytes)", len(v))
		}
		have = binary.BigEndian.Uint64(v)
	}
	if v := meta.Get(keyRevision); v != nil && len(v) != 8 {
		return 0, fmt.Errorf("corrupt revision (%d bytes)", len(v))
	}
	want := uint64(len(migs))
	if have > want {
		return 0, fmt.Errorf("%w: the data file has schema version %d, this gatewayd knows versions up to %d; run a newer gatewayd",
			ErrUnsupportedSchema, have, want)
	}
	for v := have; v < want; v++ {
		if err := migs[v](tx); err != nil {
			return 0, fmt.Errorf("migrating schema from version %d to %d: %w", v, v+1, err)
		}
		lg.Info("store schema migrated", "from", v, "to", v+1)
	}
	if have != want {
		if err := meta.Put(keySchema, u64key(want)); err != nil {
			return 0, fmt.Errorf("writing schema version: %w", err)
		}
	}
	// Object kinds can be added without a migration: each gets its bucket.
	objects := tx.Bucket(bucketObjects)
	if objects == nil {
		return 0, fmt.Errorf("bucket %q missing after migration", bucketObjects)
	}
	for _, kind := range store.Kinds {
		if objects.Bucket([]byte(kind)) != nil {
			continue // also keeps a read-only open read-only
		}
		if _, err := objects.CreateBucket([]byte(kind)); err != nil {
			return 0, fmt.Errorf("creating bucket for kind %q: %w", kind, err)
		}
	}
	return want, nil
}

// u64key encodes n big-endian, so that byte order is numeric order. It
// returns a new slice each time: bbolt keeps references to keys and values
// until the transaction ends.
func u64key(n uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), n)
}

// readRevision returns the store-wide revision (0 for a new file).
func readRevision(tx *bolt.Tx) uint64 {
	v := tx.Bucket(bucketMeta).Get(keyRevision)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// bumpRevision increments the store-wide revision in tx, records changes
// under the new revision in the change log (dropping entries older than the
// last retention revisions) and returns the new revision. Every mutation
// calls it exactly once, so the log has no gaps.
func bumpRevision(tx *bolt.Tx, retention int, changes ...store.Change) (int64, error) {
	rev := readRevision(tx) + 1
	if err := tx.Bucket(bucketMeta).Put(keyRevision, u64key(rev)); err != nil {
		return 0, fmt.Errorf("bumping revision: %w", err)
	}
	log, err := bucket(tx, bucketChanges)
	if err != nil {
		return 0, err
	}
	data, err := encodeChanges(changes)
	if err != nil {
		return 0, err
	}
	if err := log.Put(u64key(rev), data); err != nil {
		return 0, fmt.Errorf("writing change log: %w", err)
	}
	if rev > uint64(retention) {
		// Entries are contiguous: drop from the oldest while too old.
		// Usually one entry; a lowered retention drops the backlog here.
		c := log.Cursor()
		for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k) <= rev-uint64(retention); k, _ = c.First() {
			if err := c.Delete(); err != nil {
				return 0, fmt.Errorf("trimming change log: %w", err)
			}
		}
	}
	return int64(rev), nil
}
