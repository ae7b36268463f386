package etcd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/securegw/gateway/store"
)

// rewriteAttempts bounds how often RewriteObjects stages again after a
// concurrent commit got in before its switch.
const rewriteAttempts = 5

// errCrashed is returned where a test hook stopped a rewrite.
var errCrashed = errors.New("stopped by test hook")

// RewriteObjects implements store.Store with the staged design of package
// store: the new records of each changed kind are written aside under a
// new generation in small transactions, one transaction guarded by the
// store revision switches the generation pointers (and writes the meta
// values and the one change log entry), then the old generation is
// removed. A crash before the switch leaves the old state, after it the
// new one; readers and watchers never see a mix. When another commit gets
// in before the switch, the staged generation is dropped and the rewrite
// starts again on the new state, up to rewriteAttempts times, then fails
// with store.ErrRevisionMismatch.
func (s *Store) RewriteObjects(ctx context.Context, kinds []string, fn func(store.Object) ([]byte, error), meta map[string][]byte) (int, error) {
	return s.RewriteObjectsIf(ctx, kinds, fn, meta, nil)
}

// RewriteObjectsIf implements store.Store: check reads the snapshot each
// attempt's switch is guarded on.
func (s *Store) RewriteObjectsIf(ctx context.Context, kinds []string, fn func(store.Object) ([]byte, error), meta map[string][]byte, check store.Check) (int, error) {
	changed, err := s.rewriteObjects(ctx, kinds, fn, meta, check)
	if err != nil {
		return 0, fmt.Errorf("rewriting objects of kinds %q: %w", kinds, err)
	}
	return changed, nil
}

// stagedKind is one kind's rewrite: every object of the kind, changed or
// not, goes to the new generation.
type stagedKind struct {
	kind    string
	oldGen  int64
	newGen  int64
	objects []store.Object // values after fn, in key order
	changed []bool
	recs    []objectRecord
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
	// A large rewrite is many calls: bound the whole by a multiple of the
	// request timeout rather than each.
	ctx, cancel := context.WithTimeoutCause(ctx, 10*s.opts.RequestTimeout, errRequestTimeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		n, ok, err := s.rewriteOnce(ctx, uniq, fn, meta, check)
		if err != nil || ok {
			return n, err
		}
		if attempt == rewriteAttempts {
			return 0, fmt.Errorf("%w: other writes kept changing the store during %d attempts", store.ErrRevisionMismatch, attempt)
		}
	}
}

// rewriteOnce reports ok=false when its switch lost to another commit.
func (s *Store) rewriteOnce(ctx context.Context, kinds []string, fn func(store.Object) ([]byte, error), meta map[string][]byte, check store.Check) (int, bool, error) {
	r, err := s.snapshot(ctx)
	if err != nil {
		return 0, false, err
	}
	if check != nil {
		if err := check(ctx, snapReader{r}); err != nil {
			return 0, false, err
		}
	}
	rev := r.cur + 1
	now := s.now()
	var (
		staged  []*stagedKind
		changes []store.Change
	)
	for _, kind := range kinds {
		objs, err := r.objects(kind, "")
		if err != nil {
			return 0, false, err
		}
		gen, err := r.gen(kind)
		if err != nil {
			return 0, false, err
		}
		sk := &stagedKind{kind: kind, oldGen: gen}
		for _, o := range objs {
			if err := ctx.Err(); err != nil {
				return 0, false, err
			}
			old := o.Value
			o.Value = bytes.Clone(old) // fn may modify its argument
			v, err := fn(o)
			if err != nil {
				return 0, false, fmt.Errorf("%s %q: %w", kind, o.Key, err)
			}
			rec := objectRecord{Value: old, Revision: o.Revision, CreateRevision: o.CreateRevision, UpdatedAt: o.UpdatedAt}
			ch := !bytes.Equal(v, old)
			if ch {
				rec.Value, rec.Revision, rec.UpdatedAt = v, rev, now
				changes = append(changes, store.Change{Kind: kind, Key: o.Key})
			}
			sk.objects = append(sk.objects, o)
			sk.recs = append(sk.recs, rec)
			sk.changed = append(sk.changed, ch)
		}
		if slices.Contains(sk.changed, true) {
			staged = append(staged, sk)
		}
	}
	metaKeys := slices.Sorted(maps.Keys(meta))
	for _, key := range metaKeys {
		changes = append(changes, store.Change{Kind: store.KindMeta, Key: key})
	}
	if len(changes) == 0 {
		return 0, true, nil
	}
	if err := s.usable(ctx); err != nil {
		return 0, false, err
	}
	// 1. Stage.
	for _, sk := range staged {
		if sk.newGen, err = s.allocGen(ctx); err != nil {
			return 0, false, err
		}
		if err := s.stage(ctx, sk); err != nil {
			s.dropGen(sk.kind, sk.newGen)
			return 0, false, err
		}
	}
	if s.hook != nil && s.hook("staged") {
		return 0, false, errCrashed
	}
	// 2. Switch.
	var ops []clientv3.Op
	for _, sk := range staged {
		ops = append(ops, clientv3.OpPut(genKey(sk.kind), strconv.FormatInt(sk.newGen, 10)))
	}
	for _, key := range metaKeys {
		op, err := s.metaOp(r, key, meta[key], rev)
		if err != nil {
			return 0, false, err
		}
		ops = append(ops, op)
	}
	ok, err := s.commit(ctx, r, rev, changes, ops)
	if err != nil || !ok {
		for _, sk := range staged {
			s.dropGen(sk.kind, sk.newGen)
		}
		return 0, false, err
	}
	if s.hook != nil && s.hook("switched") {
		return 0, false, errCrashed
	}
	// 3. Clean up: every generation below the new one is garbage now.
	for _, sk := range staged {
		s.dropBelow(sk.kind, sk.newGen)
	}
	n := len(changes) - len(metaKeys)
	return n, true, nil
}

// allocGen returns a generation number no other rewrite uses.
func (s *Store) allocGen(ctx context.Context) (int64, error) {
	for {
		resp, err := s.kv.Get(ctx, keyGenSeq)
		if err != nil {
			return 0, s.callErr(ctx, err)
		}
		var cur, mod int64
		if len(resp.Kvs) > 0 {
			if cur, err = strconv.ParseInt(string(resp.Kvs[0].Value), 10, 64); err != nil {
				return 0, fmt.Errorf("corrupt generation counter %q", resp.Kvs[0].Value)
			}
			mod = resp.Kvs[0].ModRevision
		}
		next := cur + 1
		tr, err := s.txn(ctx, []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(keyGenSeq), "=", mod)},
			[]clientv3.Op{clientv3.OpPut(keyGenSeq, strconv.FormatInt(next, 10))})
		if err != nil {
			return 0, s.callErr(ctx, err)
		}
		if tr.Succeeded {
			return next, nil
		}
	}
}

// stage writes sk's records under its new generation in transactions of
// at most MaxTxnOps operations and MaxTxnBytes bytes.
func (s *Store) stage(ctx context.Context, sk *stagedKind) error {
	var (
		ops  []clientv3.Op
		size int
	)
	flush := func() error {
		if len(ops) == 0 {
			return nil
		}
		if _, err := s.txn(ctx, nil, ops); err != nil {
			return s.callErr(ctx, err)
		}
		ops, size = ops[:0], 0
		if s.hook != nil && s.hook("chunk") {
			return errCrashed
		}
		return nil
	}
	for i, o := range sk.objects {
		data, err := encodeObject(sk.recs[i])
		if err != nil {
			return err
		}
		key := objKey(sk.kind, sk.newGen, o.Key)
		if len(data)+len(key) > MaxTxnBytes {
			return fmt.Errorf("%s %q: record of %d bytes is larger than a transaction may be", sk.kind, o.Key, len(data))
		}
		if len(ops) == MaxTxnOps || size+len(data)+len(key) > MaxTxnBytes {
			if err := flush(); err != nil {
				return err
			}
		}
		ops = append(ops, clientv3.OpPut(key, string(data)))
		size += len(data) + len(key)
	}
	return flush()
}

// dropGen removes one generation of kind's objects, best effort: what a
// failure leaves is removed by the next switch or the next Open.
func (s *Store) dropGen(kind string, gen int64) {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.RequestTimeout)
	defer cancel()
	p := objPrefix(kind, gen)
	_, _ = s.kv.Delete(ctx, p, clientv3.WithRange(prefixEnd(p)))
}

// dropBelow removes every generation of kind below gen, best effort.
func (s *Store) dropBelow(kind string, gen int64) {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.RequestTimeout)
	defer cancel()
	if err := s.deleteBelow(ctx, kind, gen); err != nil {
		s.opts.Logger.Warn("removing old object generations failed; the next start retries", "kind", kind, "err", err)
	}
}

func (s *Store) deleteBelow(ctx context.Context, kind string, gen int64) error {
	if gen == 0 {
		return nil
	}
	_, err := s.kv.Delete(ctx, prefixObj+kind+"/", clientv3.WithRange(objPrefix(kind, gen)))
	return err
}

// cleanStaged removes, at open, the generations below each kind's current
// one: leftovers of a rewrite that stopped after its switch. Generations
// above the current one may be another gateway's rewrite in progress; the
// next switch removes them.
func (s *Store) cleanStaged(ctx context.Context) error {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	r, err := s.snapshot(ctx)
	if err != nil {
		return err
	}
	for _, kind := range store.Kinds {
		gen, err := r.gen(kind)
		if err != nil {
			return err
		}
		if err := s.deleteBelow(ctx, kind, gen); err != nil {
			return s.callErr(ctx, err)
		}
	}
	return nil
}
