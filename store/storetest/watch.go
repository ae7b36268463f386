package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/securegw/gateway/store"
)

// waitLimit bounds every wait of the watch tests; nothing sleeps.
const waitLimit = 10 * time.Second

// recv returns the next batch of ch, failing t when ch is closed or
// nothing arrives within waitLimit.
func recv(t *testing.T, ch <-chan store.ChangeBatch) store.ChangeBatch {
	t.Helper()
	select {
	case b, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed, want a batch")
		}
		return b
	case <-time.After(waitLimit):
		t.Fatalf("no batch within %s", waitLimit)
	}
	return store.ChangeBatch{}
}

// recvUntil reads batches until revision last, failing t on an error
// batch, a gap or a revision out of order.
func recvUntil(t *testing.T, ch <-chan store.ChangeBatch, after, last int64) []store.ChangeBatch {
	t.Helper()
	var out []store.ChangeBatch
	for rev := after + 1; rev <= last; rev++ {
		b := recv(t, ch)
		if b.Err != nil {
			t.Fatalf("error batch after revision %d: %v", rev-1, b.Err)
		}
		if b.Revision != rev {
			t.Fatalf("batch of revision %d, want %d (ordered, no gaps)", b.Revision, rev)
		}
		out = append(out, b)
	}
	return out
}

// closedWithin fails t unless ch closes within waitLimit; every batch
// read on the way must satisfy ok.
func closedWithin(t *testing.T, ch <-chan store.ChangeBatch, ok func(store.ChangeBatch) error) {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		select {
		case b, open := <-ch:
			if !open {
				return
			}
			if err := ok(b); err != nil {
				t.Fatal(err)
			}
		case <-deadline:
			t.Fatalf("watch channel not closed within %s", waitLimit)
		}
	}
}

// noGoroutineLeft fails t, at its end, when the goroutine count has not
// come back to what it was when noGoroutineLeft was called.
func noGoroutineLeft(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(waitLimit)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Errorf("%d goroutines left, %d before the test:\n%s",
					runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
				return
			}
			runtime.Gosched()
		}
	})
}

func watch(t *testing.T, ctx context.Context, s store.Store, from int64) <-chan store.ChangeBatch {
	t.Helper()
	return must(s.Watch(ctx, from))(t)
}

func change(kind, key string) store.Change { return store.Change{Kind: kind, Key: key} }

func deletion(kind, key string) store.Change {
	return store.Change{Kind: kind, Key: key, Delete: true}
}

// testWatchChanges checks what each kind of write reports, in order and
// with the revision the write returned; audit appends, refused writes and
// a rewrite that changes nothing report nothing.
func testWatchChanges(t *testing.T, open Opener) {
	noGoroutineLeft(t)
	s := open(t)
	ctx := t.Context()
	put(t, s, "early", spec(0), 0) // before the watch: not reported
	start := revision(t, s)
	ch := watch(t, ctx, s, start)

	upper := func(o store.Object) ([]byte, error) { return append(o.Value, '!'), nil }
	type step struct {
		write func() int64
		want  []store.Change
	}
	steps := []step{
		{func() int64 { return put(t, s, "web", spec(1), 0).Revision }, []store.Change{change(store.KindTopology, "web")}},
		{func() int64 { return putObj(t, s, store.KindAlias, "a", "v", 0).Revision }, []store.Change{change(store.KindAlias, "a")}},
		{func() int64 { return putObj(t, s, store.KindAlias, "b", "v", 0).Revision }, []store.Change{change(store.KindAlias, "b")}},
		{func() int64 { return must(s.PutMeta(ctx, "k", []byte("v"), 0))(t) }, []store.Change{change(store.KindMeta, "k")}},
		{func() int64 {
			must(s.RewriteObjects(ctx, []string{store.KindAlias}, upper, map[string][]byte{"verifier": []byte("x"), "kdf": []byte("y")}))(t)
			return revision(t, s)
		}, []store.Change{change(store.KindAlias, "a"), change(store.KindAlias, "b"), change(store.KindMeta, "kdf"), change(store.KindMeta, "verifier")}},
		{func() int64 {
			return must(s.DeleteObject(ctx, store.KindAlias, "a", store.NoRevisionCheck))(t)
		}, []store.Change{deletion(store.KindAlias, "a")}},
		{func() int64 {
			// Nothing below is a commit: the next batch is the deletion.
			must(s.AppendAudit(ctx, store.AuditRecord{Principal: "p", Method: "m"}))(t)
			_, err := s.PutTopology(ctx, topo("web", spec(2)), 0)
			wantErr(t, err, store.ErrRevisionMismatch)
			must(s.RewriteObjects(ctx, []string{store.KindAlias}, func(o store.Object) ([]byte, error) { return o.Value, nil }, nil))(t)
			return must(s.DeleteTopology(ctx, "web", "tester", store.NoRevisionCheck))(t)
		}, []store.Change{deletion(store.KindTopology, "web")}},
	}
	for i, st := range steps {
		rev := st.write()
		if want := start + int64(i) + 1; rev != want {
			t.Fatalf("step %d committed revision %d, want %d", i, rev, want)
		}
		b := recv(t, ch)
		if b.Err != nil || b.Revision != rev || !reflect.DeepEqual(b.Changes, st.want) {
			t.Fatalf("step %d: got batch %+v, want revision %d with %+v", i, b, rev, st.want)
		}
	}
	select {
	case b := <-ch:
		t.Fatalf("unexpected batch %+v", b)
	default:
	}
}

// testWatchResume checks that a watch from a past revision replays exactly
// the commits after it, then goes on with new ones.
func testWatchResume(t *testing.T, open Opener) {
	noGoroutineLeft(t)
	s := open(t)
	ctx := t.Context()
	var revs []int64
	for i := range 10 {
		revs = append(revs, put(t, s, fmt.Sprintf("t%d", i), spec(i), 0).Revision)
	}
	for _, from := range []int64{0, revs[0], revs[4], revs[9]} {
		t.Run(fmt.Sprint("from ", from), func(t *testing.T) {
			wctx, cancel := context.WithCancel(ctx)
			defer cancel()
			ch := watch(t, wctx, s, from)
			cur := revision(t, s)
			for _, b := range recvUntil(t, ch, from, cur) {
				i := b.Revision - revs[0]
				if i < 0 || i > 9 {
					continue // before the test, or written by an earlier subtest
				}
				if want := []store.Change{change(store.KindTopology, fmt.Sprintf("t%d", i))}; !reflect.DeepEqual(b.Changes, want) {
					t.Errorf("revision %d: %+v, want %+v", b.Revision, b.Changes, want)
				}
			}
			rev := putObj(t, s, store.KindToken, fmt.Sprint("after-", from), "x", 0).Revision
			recvUntil(t, ch, cur, rev)
		})
	}
	t.Run("future revision refused", func(t *testing.T) {
		cur := revision(t, s)
		for _, from := range []int64{cur + 1, -1} {
			if _, err := s.Watch(ctx, from); err == nil {
				t.Errorf("Watch(%d) at revision %d: no error", from, cur)
			}
		}
	})
}

// testWatchMany runs concurrent writers and watchers: every watcher sees
// every commit once, in order, and together the batches name every write.
func testWatchMany(t *testing.T, open Opener) {
	noGoroutineLeft(t)
	s := open(t)
	ctx := t.Context()
	const watchers, writers, each = 8, 4, 25
	start := revision(t, s)
	end := start + writers*each
	chans := make([]<-chan store.ChangeBatch, watchers)
	for i := range chans {
		chans[i] = watch(t, ctx, s, start)
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				var err error
				if i%2 == 0 {
					_, err = s.PutTopology(ctx, topo(fmt.Sprintf("w%d", w), spec(i)), store.NoRevisionCheck)
				} else {
					_, err = s.PutObject(ctx, store.Object{Kind: store.KindToken, Key: fmt.Sprintf("w%d-%d", w, i), Value: []byte("x")}, 0)
				}
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		}()
	}
	results := make([][]store.ChangeBatch, watchers)
	var rg sync.WaitGroup
	for i, ch := range chans {
		rg.Add(1)
		go func() {
			defer rg.Done()
			for rev := start + 1; rev <= end; rev++ {
				select {
				case b, ok := <-ch:
					if !ok || b.Err != nil || b.Revision != rev {
						t.Errorf("watcher %d: got %+v (open %v), want revision %d", i, b, ok, rev)
						return
					}
					results[i] = append(results[i], b)
				case <-time.After(waitLimit):
					t.Errorf("watcher %d: nothing after revision %d within %s", i, rev-1, waitLimit)
					return
				}
			}
		}()
	}
	wg.Wait()
	rg.Wait()
	if t.Failed() {
		return
	}
	tokens := 0
	for _, b := range results[0] {
		if len(b.Changes) != 1 {
			t.Fatalf("revision %d: %d changes, want 1", b.Revision, len(b.Changes))
		}
		if b.Changes[0].Kind == store.KindToken {
			tokens++
		}
	}
	if want := writers * (each / 2); tokens != want {
		t.Errorf("%d token puts reported, want %d", tokens, want)
	}
	for i := 1; i < watchers; i++ {
		if !reflect.DeepEqual(results[i], results[0]) {
			t.Errorf("watcher %d saw other batches than watcher 0", i)
		}
	}
}

// testWatchSlow checks that a watcher that reads nothing does not hold up
// writers, and later gets every commit in order or, having fallen behind
// the kept history, ErrCompacted and a closed channel.
func testWatchSlow(t *testing.T, open Opener) {
	noGoroutineLeft(t)
	s := open(t)
	ctx := t.Context()
	start := revision(t, s)
	ch := watch(t, ctx, s, start)
	const writes = 200 // more than any watcher buffers
	done := make(chan error, 1)
	go func() {
		for i := range writes {
			if _, err := s.PutTopology(ctx, topo("web", spec(i)), store.NoRevisionCheck); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		noErr(t, err)
	case <-time.After(waitLimit):
		t.Fatalf("writers blocked by a watcher that does not read")
	}
	for rev := start + 1; rev <= start+writes; rev++ {
		b := recv(t, ch)
		if errors.Is(b.Err, store.ErrCompacted) {
			closedWithin(t, ch, func(b store.ChangeBatch) error { return fmt.Errorf("batch %+v after ErrCompacted", b) })
			return
		}
		if b.Err != nil || b.Revision != rev {
			t.Fatalf("got %+v, want revision %d", b, rev)
		}
	}
}

// testWatchCancel checks that ending ctx closes the channel without an
// error batch and leaves no goroutine, whether the watcher waits for a
// commit or is blocked handing one over.
func testWatchCancel(t *testing.T, open Opener) {
	noGoroutineLeft(t)
	s := open(t)
	for _, pending := range []int{0, 50} {
		t.Run(fmt.Sprint(pending, " pending"), func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			ch := watch(t, ctx, s, revision(t, s))
			for i := range pending {
				put(t, s, "web", spec(i), store.NoRevisionCheck)
			}
			cancel()
			closedWithin(t, ch, func(b store.ChangeBatch) error {
				if b.Err != nil {
					return fmt.Errorf("error batch after cancel: %v", b.Err)
				}
				return nil
			})
		})
	}
	t.Run("done before Watch", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := s.Watch(ctx, revision(t, s))
		wantErr(t, err, context.Canceled)
	})
}

// testWatchClose checks that Close ends every watch with ErrClosed, then a
// closed channel, and leaves no goroutine.
func testWatchClose(t *testing.T, open Opener) {
	noGoroutineLeft(t)
	s := open(t)
	ctx := t.Context()
	start := revision(t, s)
	idle := watch(t, ctx, s, start)
	behind := watch(t, ctx, s, start)
	for i := range 50 {
		put(t, s, "web", spec(i), store.NoRevisionCheck)
	}
	recvUntil(t, idle, start, start+50)
	noErr(t, s.Close())
	for name, ch := range map[string]<-chan store.ChangeBatch{"idle": idle, "behind": behind} {
		var last store.ChangeBatch
		closedWithin(t, ch, func(b store.ChangeBatch) error {
			if last.Err != nil {
				return fmt.Errorf("%s: batch %+v after error batch", name, b)
			}
			last = b
			return nil
		})
		if !errors.Is(last.Err, store.ErrClosed) {
			t.Errorf("%s: last batch %+v, want ErrClosed", name, last)
		}
	}
	_, err := s.Watch(ctx, start)
	wantErr(t, err, store.ErrClosed)
}

// RunWatchCompaction checks store.ErrCompacted for stores that keep the
// changes of only the last retention revisions; open returns a new, empty
// store with that retention (at least 2).
func RunWatchCompaction(t *testing.T, open func(t *testing.T, retention int) store.Store) {
	const retention = 5
	t.Run("too old at Watch", func(t *testing.T) {
		s := open(t, retention)
		for i := range 3 * retention {
			put(t, s, "web", spec(i), store.NoRevisionCheck)
		}
		cur := revision(t, s)
		_, err := s.Watch(t.Context(), cur-retention-1)
		wantErr(t, err, store.ErrCompacted)
		_, err = s.Watch(t.Context(), 0)
		wantErr(t, err, store.ErrCompacted)
		ch := watch(t, t.Context(), s, cur-retention)
		recvUntil(t, ch, cur-retention, cur)
	})
	t.Run("fell behind", func(t *testing.T) {
		noGoroutineLeft(t)
		s := open(t, retention)
		start := revision(t, s)
		ch := watch(t, t.Context(), s, start)
		// A watcher holds a few batches ahead of its reader (a bolt watcher:
		// its channel's buffer and one page of 128); writing far past that
		// leaves it behind the kept history.
		const writes = 200
		for i := range writes {
			put(t, s, "web", spec(i), store.NoRevisionCheck)
		}
		rev := start
		for {
			b := recv(t, ch)
			if errors.Is(b.Err, store.ErrCompacted) {
				break
			}
			if b.Err != nil || b.Revision != rev+1 {
				t.Fatalf("got %+v, want revision %d or ErrCompacted", b, rev+1)
			}
			rev = b.Revision
			if rev == start+writes {
				t.Fatal("a watcher far behind the retention got every revision")
			}
		}
		closedWithin(t, ch, func(b store.ChangeBatch) error { return fmt.Errorf("batch %+v after ErrCompacted", b) })
		cur := revision(t, s)
		ch = watch(t, t.Context(), s, cur)
		put(t, s, "web", spec(0), store.NoRevisionCheck)
		recvUntil(t, ch, cur, cur+1)
	})
}
