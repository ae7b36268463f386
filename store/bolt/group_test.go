package bolt

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/securegw/gateway/store"
)

// Concurrent token writes and audit appends share commits, and each caller
// still gets its own outcome: a compare-and-set that loses fails alone,
// every other write is durable with a revision of its own, every audit
// record gets a sequence of its own.
func TestGroupCommit(t *testing.T) {
	path := tempPath(t)
	s := openAt(t, path, Options{})
	var commits atomic.Int64
	s.group.committed = func() { commits.Add(1); s.wake() }
	ctx := context.Background()
	stale, err := s.PutObject(ctx, store.Object{Kind: store.KindToken, Key: "contended", Value: []byte(`{}`)}, 0)
	if err != nil {
		t.Fatal(err)
	}
	commits.Store(0)

	const writers = 64
	var (
		wg                 sync.WaitGroup
		start              = make(chan struct{})
		mu                 sync.Mutex
		revs               = map[int64]string{}
		seqs               = map[int64]bool{}
		mismatches, others atomic.Int64
	)
	for i := range writers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			key, expect := fmt.Sprintf("tok-%d", i), int64(0)
			if i%8 == 0 {
				// All but one of these lose: the revision moves on.
				key, expect = "contended", stale.Revision
			}
			o, err := s.PutObject(ctx, store.Object{Kind: store.KindToken, Key: key, Value: []byte(fmt.Sprintf(`{"i":%d}`, i))}, expect)
			switch {
			case errors.Is(err, store.ErrRevisionMismatch):
				mismatches.Add(1)
			case err != nil:
				others.Add(1)
				t.Errorf("write %d: %v", i, err)
			default:
				mu.Lock()
				if prev, dup := revs[o.Revision]; dup {
					t.Errorf("revision %d given to %s and %s", o.Revision, prev, key)
				}
				revs[o.Revision] = key
				mu.Unlock()
			}
		}()
		go func() {
			defer wg.Done()
			<-start
			seq, err := s.AppendAudit(ctx, store.AuditRecord{Principal: "p", Method: fmt.Sprintf("m%d", i)})
			if err != nil {
				t.Errorf("audit %d: %v", i, err)
				return
			}
			mu.Lock()
			if seqs[seq] {
				t.Errorf("audit sequence %d given twice", seq)
			}
			seqs[seq] = true
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	contenders := int64(writers / 8)
	if mismatches.Load() != contenders-1 || int64(len(revs)) != writers-contenders+1 {
		t.Fatalf("%d revision mismatches and %d writes, want %d and %d", mismatches.Load(), len(revs), contenders-1, writers-contenders+1)
	}
	if len(seqs) != writers {
		t.Fatalf("%d audit records, want %d", len(seqs), writers)
	}
	if n := commits.Load(); n >= 2*writers {
		t.Fatalf("%d commits for %d writes: none shared", n, 2*writers)
	}
	t.Logf("%d writes in %d commits", 2*writers, commits.Load())

	// All of it is durable: a reopened store has every write.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, Options{})
	for rev, key := range revs {
		o, err := s.GetObject(ctx, store.KindToken, key)
		if err != nil {
			t.Fatalf("%s after reopening: %v", key, err)
		}
		if key != "contended" && o.Revision != rev {
			t.Fatalf("%s: revision %d, want %d", key, o.Revision, rev)
		}
	}
	recs, err := s.ListAudit(ctx, store.AuditFilter{Limit: 1000})
	if err != nil || len(recs) != writers {
		t.Fatalf("audit after reopening: %d records, %v", len(recs), err)
	}
}

// A write that panics fails alone, with an error; the writes committed
// with it, before and after, do not wait forever or fail.
func TestGroupCommitPanickingWrite(t *testing.T) {
	s := openAt(t, tempPath(t), Options{})
	ctx := context.Background()
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, 16)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if i == 7 {
				errs[i] = s.batched(ctx, func(*bolt.Tx) error { panic("boom") })
				return
			}
			_, errs[i] = s.PutObject(ctx, store.Object{Kind: store.KindToken, Key: fmt.Sprintf("t%d", i), Value: []byte(`{}`)}, 0)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		switch {
		case i == 7 && (err == nil || !strings.Contains(err.Error(), "panicked: boom")):
			t.Fatalf("panicking write: %v, want its panic as the error", err)
		case i != 7 && err != nil:
			t.Fatalf("write %d beside a panicking one: %v", i, err)
		}
	}
}
