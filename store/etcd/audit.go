package etcd

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/securegw/gateway/store"
)

// Page sizes of ListAudit.
const (
	DefaultAuditPage = 100
	MaxAuditPage     = 1000
)

// AppendAudit appends r and returns its sequence number (1, 2, …), in one
// transaction guarded by the sequence key that also drops the record that
// falls out of Options.AuditLimit. The store revision is not bumped.
func (s *Store) AppendAudit(ctx context.Context, r store.AuditRecord) (int64, error) {
	seq, err := s.appendAudit(ctx, r)
	if err != nil {
		return 0, fmt.Errorf("appending audit record of %s %s: %w", r.Principal, r.Method, err)
	}
	return seq, nil
}

func (s *Store) appendAudit(ctx context.Context, r store.AuditRecord) (int64, error) {
	if err := s.usable(ctx); err != nil {
		return 0, err
	}
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	data, err := encodeAudit(r, s.now())
	if err != nil {
		return 0, err
	}
	for {
		resp, err := s.kv.Get(ctx, keyAuditSeq)
		if err != nil {
			return 0, s.callErr(ctx, err)
		}
		var cur, mod int64
		if len(resp.Kvs) > 0 {
			if cur, err = strconv.ParseInt(string(resp.Kvs[0].Value), 10, 64); err != nil {
				return 0, fmt.Errorf("corrupt audit sequence %q", resp.Kvs[0].Value)
			}
			mod = resp.Kvs[0].ModRevision
		}
		seq := cur + 1
		ops := []clientv3.Op{
			clientv3.OpPut(keyAuditSeq, strconv.FormatInt(seq, 10)),
			clientv3.OpPut(auditKey(seq), string(data)),
		}
		if old := seq - int64(s.opts.AuditLimit); old > 0 {
			// Everything up to old: usually one record; a lowered limit
			// drops the backlog here.
			ops = append(ops, clientv3.OpDelete(prefixAudit, clientv3.WithRange(auditKey(old+1))))
		}
		if err := s.usable(ctx); err != nil {
			return 0, err
		}
		tr, err := s.txn(ctx, []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(keyAuditSeq), "=", mod)}, ops)
		if err != nil {
			return 0, s.callErr(ctx, err)
		}
		if tr.Succeeded {
			return seq, nil
		}
	}
}

// ListAudit returns the records matching f, newest first, with the paging
// and filters of the bbolt store.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditRecord, error) {
	out, err := s.listAudit(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("listing audit records: %w", err)
	}
	return out, nil
}

func (s *Store) listAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditRecord, error) {
	limit := f.Limit
	switch {
	case limit <= 0:
		limit = DefaultAuditPage
	case limit > MaxAuditPage:
		limit = MaxAuditPage
	}
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	out := []store.AuditRecord{}
	end := prefixEnd(prefixAudit)
	if f.Before > 0 {
		end = auditKey(f.Before)
	}
	var at int64
	for len(out) < limit {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(int64(limit)),
			clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend)}
		if at != 0 {
			opts = append(opts, clientv3.WithRev(at))
		}
		resp, err := s.kv.Get(ctx, prefixAudit, opts...)
		if err != nil {
			return nil, s.callErr(ctx, err)
		}
		at = resp.Header.Revision
		for _, kv := range resp.Kvs {
			seq, err := parseSeqKey(prefixAudit, kv.Key)
			if err != nil {
				return nil, err
			}
			var rec auditRecord
			if err := json.Unmarshal(kv.Value, &rec); err != nil {
				return nil, fmt.Errorf("decoding audit record %d: %w", seq, err)
			}
			if f.Principal != "" && rec.Principal != f.Principal {
				continue
			}
			if !strings.HasPrefix(rec.Target, f.TargetPrefix) {
				continue
			}
			if out = append(out, rec.Audit(seq)); len(out) == limit {
				break
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		end = string(resp.Kvs[len(resp.Kvs)-1].Key)
	}
	return out, nil
}
