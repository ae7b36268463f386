package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/securegw/gateway/store"
)

// testRevision walks through every call and checks by how much each moves
// the store-wide revision, and that the revision returned by a mutation is
// the store's new revision.
func testRevision(t *testing.T, open Opener) {
	s := open(t)
	identity := func(o store.Object) ([]byte, error) { return o.Value, nil }
	upper := func(o store.Object) ([]byte, error) { return append(o.Value, '!'), nil }
	steps := []struct {
		name  string
		delta int64
		// do returns the revision the call reported, or 0 if it reports none.
		do func(ctx context.Context) (int64, error)
	}{
		{"create topology", 1, func(ctx context.Context) (int64, error) {
			tp, err := s.PutTopology(ctx, topo("web", spec(1)), 0)
			return tp.Revision, err
		}},
		{"update topology", 1, func(ctx context.Context) (int64, error) {
			tp, err := s.PutTopology(ctx, topo("web", spec(2)), store.NoRevisionCheck)
			return tp.Revision, err
		}},
		{"rollback topology", 1, func(ctx context.Context) (int64, error) {
			tp := topo("web", spec(1))
			tp.Action = "rollback"
			tp, err := s.PutTopology(ctx, tp, store.NoRevisionCheck)
			return tp.Revision, err
		}},
		{"reads", 0, func(ctx context.Context) (int64, error) {
			if _, err := s.GetTopology(ctx, "web"); err != nil {
				return 0, err
			}
			if _, _, err := s.ListTopologies(ctx); err != nil {
				return 0, err
			}
			if _, err := s.TopologyHistory(ctx, "web"); err != nil {
				return 0, err
			}
			_, err := s.ListObjects(ctx, store.KindAlias, "")
			return 0, err
		}},
		{"delete topology", 1, func(ctx context.Context) (int64, error) {
			return s.DeleteTopology(ctx, "web", "tester", store.NoRevisionCheck)
		}},
		{"create object", 1, func(ctx context.Context) (int64, error) {
			o, err := s.PutObject(ctx, store.Object{Kind: store.KindAlias, Key: "a", Value: []byte("v")}, 0)
			return o.Revision, err
		}},
		{"update object", 1, func(ctx context.Context) (int64, error) {
			o, err := s.PutObject(ctx, store.Object{Kind: store.KindAlias, Key: "a", Value: []byte("w")}, store.NoRevisionCheck)
			return o.Revision, err
		}},
		{"put meta", 1, func(ctx context.Context) (int64, error) {
			return s.PutMeta(ctx, "k", []byte("v"), store.NoRevisionCheck)
		}},
		{"rewrite changing an object", 1, func(ctx context.Context) (int64, error) {
			_, err := s.RewriteObjects(ctx, []string{store.KindAlias}, upper, nil)
			return 0, err
		}},
		{"rewrite setting meta only", 1, func(ctx context.Context) (int64, error) {
			_, err := s.RewriteObjects(ctx, []string{store.KindAlias}, identity, map[string][]byte{"k": []byte("w")})
			return 0, err
		}},
		{"rewrite changing nothing", 0, func(ctx context.Context) (int64, error) {
			_, err := s.RewriteObjects(ctx, []string{store.KindAlias, store.KindToken}, identity, nil)
			return 0, err
		}},
		{"append audit", 0, func(ctx context.Context) (int64, error) {
			_, err := s.AppendAudit(ctx, store.AuditRecord{Principal: "p", Method: "m"})
			return 0, err
		}},
		{"delete object", 1, func(ctx context.Context) (int64, error) {
			return s.DeleteObject(ctx, store.KindAlias, "a", store.NoRevisionCheck)
		}},
	}
	first := revision(t, s)
	if first < 0 {
		t.Fatalf("revision of a new store is %d", first)
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			before := revision(t, s)
			reported, err := st.do(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			after := revision(t, s)
			if after != before+st.delta {
				t.Errorf("revision went from %d to %d, want +%d", before, after, st.delta)
			}
			if reported != 0 && reported != after {
				t.Errorf("call reported revision %d, store is at %d", reported, after)
			}
			_, listRev, err := s.ListTopologies(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if listRev != after {
				t.Errorf("ListTopologies read at revision %d, store is at %d", listRev, after)
			}
		})
	}
}

// testConcurrentWriters runs writers in parallel, on shared and private
// records: every successful mutation takes exactly one revision of its own.
func testConcurrentWriters(t *testing.T, open Opener) {
	const writers, each = 8, 12
	s := open(t)
	start := revision(t, s)
	var (
		mu   sync.Mutex
		revs []int64
		wg   sync.WaitGroup
	)
	for w := range writers {
		wg.Go(func() {
			ctx := t.Context()
			for i := range each {
				var rev int64
				var err error
				switch i % 4 {
				case 0:
					var tp store.Topology
					tp, err = s.PutTopology(ctx, topo("shared", spec(w*each+i)), store.NoRevisionCheck)
					rev = tp.Revision
				case 1:
					var tp store.Topology
					tp, err = s.PutTopology(ctx, topo(fmt.Sprintf("w%d", w), spec(i)), store.NoRevisionCheck)
					rev = tp.Revision
				case 2:
					var o store.Object
					o, err = s.PutObject(ctx, store.Object{Kind: store.KindToken, Key: fmt.Sprintf("w%d-%d", w, i), Value: []byte("x")}, 0)
					rev = o.Revision
				case 3:
					rev, err = s.PutMeta(ctx, fmt.Sprintf("w%d", w), []byte{byte(i)}, store.NoRevisionCheck)
				}
				if err != nil {
					t.Errorf("writer %d, write %d: %v", w, i, err)
					return
				}
				mu.Lock()
				revs = append(revs, rev)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	end := revision(t, s)
	if end != start+writers*each {
		t.Errorf("revision went from %d to %d after %d writes", start, end, writers*each)
	}
	slices.Sort(revs)
	for i := 1; i < len(revs); i++ {
		if revs[i] == revs[i-1] {
			t.Errorf("revision %d reported by two writes", revs[i])
		}
	}
	if len(revs) > 0 && (revs[0] <= start || revs[len(revs)-1] > end) {
		t.Errorf("reported revisions span [%d, %d], outside (%d, %d]", revs[0], revs[len(revs)-1], start, end)
	}
	hist := must(s.TopologyHistory(t.Context(), "shared"))(t)
	for i := 1; i < len(hist); i++ {
		if hist[i].Revision >= hist[i-1].Revision {
			t.Fatalf("history of shared not newest first: %d then %d", hist[i-1].Revision, hist[i].Revision)
		}
	}
}

// testConcurrentCAS races writers on one precondition: exactly one wins.
func testConcurrentCAS(t *testing.T, open Opener) {
	const racers = 8
	s := open(t)
	cur := put(t, s, "web", spec(0), 0)
	tests := []struct {
		name   string
		topo   string
		expect int64
	}{
		{"create", "race", 0},
		{"update", "web", cur.Revision},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := revision(t, s)
			errs := make([]error, racers)
			var wg sync.WaitGroup
			for i := range racers {
				wg.Go(func() {
					_, errs[i] = s.PutTopology(t.Context(), topo(tt.topo, spec(i)), tt.expect)
				})
			}
			wg.Wait()
			won := 0
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, store.ErrRevisionMismatch):
					t.Errorf("losing writer got %q, want %q", err, store.ErrRevisionMismatch)
				}
			}
			if won != 1 {
				t.Errorf("%d writers won, want 1", won)
			}
			if after := revision(t, s); after != before+1 {
				t.Errorf("revision went from %d to %d, want +1", before, after)
			}
		})
	}
}
