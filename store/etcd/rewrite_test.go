package etcd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/securegw/gateway/store"
)

// seedAliases puts n aliases with value "old-<i>" and returns the revision.
func seedAliases(t *testing.T, s *Store, n int) {
	t.Helper()
	// Written straight into generation 0 in large transactions, so that
	// seeding 10k aliases does not take 10k commits; one commit at the end
	// gives the store a revision.
	now := s.now()
	var ops []clientv3.Op
	for i := range n {
		data, err := encodeObject(objectRecord{Value: []byte(fmt.Sprintf("old-%05d", i)), Revision: 1, CreateRevision: 1, UpdatedAt: now})
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, clientv3.OpPut(objKey(store.KindAlias, 0, fmt.Sprintf("a%05d", i)), string(data)))
		if len(ops) == MaxTxnOps || i == n-1 {
			if _, err := s.kv.Txn(t.Context()).Then(ops...).Commit(); err != nil {
				t.Fatal(err)
			}
			ops = ops[:0]
		}
	}
	if _, err := s.PutMeta(t.Context(), "seeded", []byte("yes"), store.NoRevisionCheck); err != nil {
		t.Fatal(err)
	}
}

var rotate = func(o store.Object) ([]byte, error) {
	return bytes.Replace(o.Value, []byte("old-"), []byte("new-"), 1), nil
}

// state classifies every alias a store lists: all "old", all "new", or a mix.
func state(t *testing.T, s store.Store, n int) string {
	t.Helper()
	objs, err := s.ListObjects(t.Context(), store.KindAlias, "")
	if err != nil {
		t.Fatal(err)
	}
	return classify(objs, n)
}

func classify(objs []store.Object, n int) string {
	if len(objs) != n {
		return fmt.Sprintf("%d aliases, want %d", len(objs), n)
	}
	var old, nw int
	for _, o := range objs {
		switch {
		case strings.HasPrefix(string(o.Value), "old-"):
			old++
		case strings.HasPrefix(string(o.Value), "new-"):
			nw++
		}
	}
	switch {
	case old == n:
		return "old"
	case nw == n:
		return "new"
	}
	return fmt.Sprintf("mix: %d old, %d new", old, nw)
}

// generations returns the distinct alias generations present in etcd.
func generations(t *testing.T, s *Store) map[string]int {
	t.Helper()
	resp, err := s.kv.Get(t.Context(), prefixObj+store.KindAlias+"/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	gens := map[string]int{}
	for _, kv := range resp.Kvs {
		rest := strings.TrimPrefix(string(kv.Key), prefixObj+store.KindAlias+"/")
		gens[rest[:16]]++
	}
	return gens
}

// TestRewriteStaged rotates more aliases than one etcd transaction may
// hold (the test cluster runs etcd's default limits: 128 operations, 1.5
// MiB) while another store, as another gateway would, lists them over and
// over: it sees all old or all new, never a mix, and its watch gets the
// rotation as one batch.
func TestRewriteStaged(t *testing.T) {
	n := 2000
	if !testing.Short() {
		n = 10000
	}
	s := openTest(t, Options{})
	seedAliases(t, s, n)
	// Reading the one log entry of 10,001 changes can take seconds on a
	// loaded machine: past the request timeout the watch would end
	// (a gateway then lists again), which is not what this test checks.
	other := openTest(t, Options{Prefix: s.Prefix(), RequestTimeout: 30 * time.Second})
	start, err := other.Revision(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ch, err := other.Watch(t.Context(), start)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		seen  = map[string]int{}
		lists int
	)
	wg.Go(func() {
		for ctx.Err() == nil {
			objs, err := other.ListObjects(ctx, store.KindAlias, "")
			if err != nil {
				if ctx.Err() == nil {
					t.Error(err)
				}
				return
			}
			mu.Lock()
			seen[classify(objs, n)]++
			lists++
			mu.Unlock()
		}
	})
	changed, err := s.RewriteObjects(t.Context(), []string{store.KindAlias}, rotate, map[string][]byte{"verifier": []byte("v2")})
	if err != nil {
		t.Fatal(err)
	}
	if changed != n {
		t.Errorf("RewriteObjects changed %d, want %d", changed, n)
	}
	// Let the reader list the new state at least once.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		mu.Lock()
		done := seen["new"] > 0
		mu.Unlock()
		if done {
			break
		}
	}
	cancel()
	wg.Wait()
	for k := range seen {
		if k != "old" && k != "new" {
			t.Errorf("a reader saw %q during the rotation (%v over %d lists)", k, seen, lists)
		}
	}
	if got := state(t, other, n); got != "new" {
		t.Errorf("after the rotation: %s", got)
	}
	b := <-ch
	if b.Err != nil || b.Revision != start+1 || len(b.Changes) != n+1 {
		t.Errorf("watch got revision %d with %d changes (err %v), want revision %d with %d", b.Revision, len(b.Changes), b.Err, start+1, n+1)
	}
	if g := generations(t, s); len(g) != 1 {
		t.Errorf("generations left after the rotation: %v", g)
	}
}

// TestRewriteCrash stops a rotation where a crash could stop it: after a
// first staged chunk, after staging everything, after the switch. Every
// gateway then sees all old (before the switch) or all new (after), no
// watch reports a change that did not happen, and the garbage is gone
// after the next open and the next rotation.
func TestRewriteCrash(t *testing.T) {
	const n = 450 // five staging transactions
	for _, tc := range []struct {
		point string
		want  string
	}{
		{"chunk", "old"},
		{"staged", "old"},
		{"switched", "new"},
	} {
		t.Run(tc.point, func(t *testing.T) {
			s := openTest(t, Options{})
			seedAliases(t, s, n)
			before, err := s.Revision(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			s.hook = func(point string) bool { return point == tc.point }
			if _, err := s.RewriteObjects(t.Context(), []string{store.KindAlias}, rotate, map[string][]byte{"verifier": []byte("v2")}); !errors.Is(err, errCrashed) {
				t.Fatalf("RewriteObjects = %v, want the crash", err)
			}
			// Another gateway, started after the crash.
			other := openTest(t, Options{Prefix: s.Prefix()})
			if got := state(t, other, n); got != tc.want {
				t.Errorf("after a crash at %s: %s, want %s", tc.point, got, tc.want)
			}
			after, err := other.Revision(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			wantRev := before
			if tc.want == "new" {
				wantRev++
			}
			if after != wantRev {
				t.Errorf("revision %d after a crash at %s, want %d", after, tc.point, wantRev)
			}
			v, err := other.GetMeta(t.Context(), "verifier")
			if tc.want == "old" && !errors.Is(err, store.ErrNotFound) || tc.want == "new" && string(v) != "v2" {
				t.Errorf("verifier after a crash at %s: %q, %v", tc.point, v, err)
			}
			if tc.point == "switched" {
				if g := generations(t, other); len(g) != 1 {
					t.Errorf("open left old generations: %v", g)
				}
				return
			}
			// The next rotation completes and removes the abandoned stage.
			if _, err := other.RewriteObjects(t.Context(), []string{store.KindAlias}, rotate, nil); err != nil {
				t.Fatal(err)
			}
			if got := state(t, other, n); got != "new" {
				t.Errorf("after the next rotation: %s", got)
			}
			if g := generations(t, other); len(g) != 1 {
				t.Errorf("generations left after the next rotation: %v", g)
			}
		})
	}
}

// TestRewriteConcurrentWrite: a write that commits while a rotation is
// staging makes the rotation stage again on the new state; the write is
// kept and rotated.
func TestRewriteConcurrentWrite(t *testing.T) {
	const n = 300
	s := openTest(t, Options{})
	seedAliases(t, s, n)
	other := openTest(t, Options{Prefix: s.Prefix()})
	var once sync.Once
	s.hook = func(point string) bool {
		if point == "staged" {
			once.Do(func() {
				if _, err := other.PutObject(t.Context(), store.Object{Kind: store.KindAlias, Key: "late", Value: []byte("old-late")}, 0); err != nil {
					t.Error(err)
				}
			})
		}
		return false
	}
	if _, err := s.RewriteObjects(t.Context(), []string{store.KindAlias}, rotate, nil); err != nil {
		t.Fatal(err)
	}
	if got := state(t, other, n+1); got != "new" {
		t.Errorf("after the rotation: %s", got)
	}
	if g := generations(t, s); len(g) != 1 {
		t.Errorf("generations left: %v", g)
	}
}
