package bolt

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/securegw/gateway/store"
	"github.com/securegw/gateway/store/internal/record"
)

// Page sizes of ListAudit.
const (
	DefaultAuditPage = 100
	MaxAuditPage     = 1000
)

// AppendAudit appends r and returns its sequence number (1, 2, …). r.Time
// is stored in UTC; a zero r.Time is set to the time of the append. The
// store-wide revision is not bumped: audit is a log, not state. The oldest
// records beyond Options.AuditLimit are dropped in the same transaction.
func (s *Store) AppendAudit(ctx context.Context, r store.AuditRecord) (int64, error) {
	var seq uint64
	err := s.batched(ctx, func(tx *bolt.Tx) error {
		var err error
		seq, err = s.appendAudit(tx, r)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("appending audit record of %s %s: %w", r.Principal, r.Method, err)
	}
	return int64(seq), nil
}

// appendAudit appends r in tx and returns its sequence number.
func (s *Store) appendAudit(tx *bolt.Tx, r store.AuditRecord) (uint64, error) {
	b, err := bucket(tx, bucketAudit)
	if err != nil {
		return 0, err
	}
	seq, err := b.NextSequence()
	if err != nil {
		return 0, fmt.Errorf("allocating sequence: %w", err)
	}
	data, err := encodeAudit(r, s.now())
	if err != nil {
		return 0, err
	}
	if err := b.Put(u64key(seq), data); err != nil {
		return 0, fmt.Errorf("writing record: %w", err)
	}
	return seq, trimAudit(b, seq, s.opts.AuditLimit)
}

// trimAudit drops the oldest records so that at most limit remain; last is
// the newest sequence. Sequences are contiguous (appends take the next one,
// trimming only removes the oldest), so the count is last-first+1.
func trimAudit(b *bolt.Bucket, last uint64, limit int) error {
	c := b.Cursor()
	for k, _ := c.First(); k != nil && last-binary.BigEndian.Uint64(k)+1 > uint64(limit); k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return fmt.Errorf("trimming audit log: %w", err)
		}
	}
	return nil
}

// ListAudit returns the records matching f, newest first. f.Limit defaults
// to DefaultAuditPage and is capped at MaxAuditPage; f.Before > 0 keeps
// sequences below it (pass the last sequence of a page to get the next);
// f.Principal matches exactly and f.TargetPrefix as a prefix.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditRecord, error) {
	limit := f.Limit
	switch {
	case limit <= 0:
		limit = DefaultAuditPage
	case limit > MaxAuditPage:
		limit = MaxAuditPage
	}
	out := []store.AuditRecord{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketAudit)
		if err != nil {
			return err
		}
		c := b.Cursor()
		var k, v []byte
		if f.Before > 0 {
			if k, _ = c.Seek(u64key(uint64(f.Before))); k == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev()
			}
		} else {
			k, v = c.Last()
		}
		for scanned := 0; k != nil && len(out) < limit; k, v = c.Prev() {
			if scanned++; scanned%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			rec, err := record.Decode[auditRecord](v)
			if err != nil {
				return err
			}
			if f.Principal != "" && rec.Principal != f.Principal {
				continue
			}
			if !strings.HasPrefix(rec.Target, f.TargetPrefix) {
				continue
			}
			out = append(out, rec.Audit(int64(binary.BigEndian.Uint64(k))))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing audit records: %w", err)
	}
	return out, nil
}
