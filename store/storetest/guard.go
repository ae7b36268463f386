package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/securegw/gateway/store"
)

// testGuardedWrites: PutTopologyIf and DeleteObjectIf run their check on
// the state they commit on; a failing check writes nothing and its error
// comes back; a failing compare-and-set is reported whatever the check.
func testGuardedWrites(t *testing.T, open Opener) {
	s := open(t)
	ctx := t.Context()
	putObj(t, s, store.KindAlias, "@gateway/key", "v", 0)
	var seenObjs []store.Object
	var seenTops []store.Topology
	look := func(ctx context.Context, r store.Reader) error {
		var err error
		if seenObjs, err = r.ListObjects(ctx, store.KindAlias, "@gateway/"); err != nil {
			return err
		}
		seenTops, _, err = r.ListTopologies(ctx)
		return err
	}
	web := must(s.PutTopologyIf(ctx, topo("web", spec(1)), 0, look))(t)
	if web.Revision != revision(t, s) {
		t.Fatalf("guarded put reported %d, store at %d", web.Revision, revision(t, s))
	}
	if len(seenObjs) != 1 || seenObjs[0].Key != "@gateway/key" || len(seenTops) != 0 {
		t.Fatalf("the put's check saw objects %+v and topologies %+v", seenObjs, seenTops)
	}

	errRefused := errors.New("refused by the check")
	refuse := func(context.Context, store.Reader) error { return errRefused }
	before := takeSnapshot(t, s)
	_, err := s.PutTopologyIf(ctx, topo("api", spec(1)), store.NoRevisionCheck, refuse)
	wantErr(t, err, errRefused)
	_, err = s.DeleteObjectIf(ctx, store.KindAlias, "@gateway/key", store.NoRevisionCheck, refuse)
	wantErr(t, err, errRefused)
	_, err = s.PutTopologyIf(ctx, topo("web", spec(2)), web.Revision+10, look)
	wantErr(t, err, store.ErrRevisionMismatch)
	_, err = s.DeleteObjectIf(ctx, store.KindAlias, "missing", store.NoRevisionCheck, look)
	wantErr(t, err, store.ErrNotFound)
	unchanged(t, s, before)

	rev := must(s.DeleteObjectIf(ctx, store.KindAlias, "@gateway/key", store.NoRevisionCheck, look))(t)
	if rev != revision(t, s) || len(seenTops) != 1 || seenTops[0].Name != "web" {
		t.Fatalf("guarded delete at %d (store %d) saw topologies %+v", rev, revision(t, s), seenTops)
	}
	if _, err := s.GetObject(ctx, store.KindAlias, "@gateway/key"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the guarded delete left the object: %v", err)
	}
}

// testGuardedWritesRace races a put that needs an object against the
// deletion of that object that needs no topology: whatever the timing,
// exactly one of them commits (the other's check sees the first).
func testGuardedWritesRace(t *testing.T, open Opener) {
	s := open(t)
	ctx := t.Context()
	errMissing := errors.New("the object is gone")
	errUsed := errors.New("a topology uses it")
	for i := range 10 {
		key, name := fmt.Sprintf("k%d", i), fmt.Sprintf("t%d", i)
		putObj(t, s, store.KindAlias, key, "v", 0)
		needsObject := func(ctx context.Context, r store.Reader) error {
			objs, err := r.ListObjects(ctx, store.KindAlias, key)
			if err != nil || len(objs) == 0 {
				return errors.Join(errMissing, err)
			}
			return nil
		}
		noUser := func(ctx context.Context, r store.Reader) error {
			tops, _, err := r.ListTopologies(ctx)
			if err != nil {
				return err
			}
			for _, tp := range tops {
				if tp.Name == name {
					return errUsed
				}
			}
			return nil
		}
		var putErr, delErr error
		var wg sync.WaitGroup
		wg.Go(func() { _, putErr = s.PutTopologyIf(ctx, topo(name, spec(i)), 0, needsObject) })
		wg.Go(func() { _, delErr = s.DeleteObjectIf(ctx, store.KindAlias, key, store.NoRevisionCheck, noUser) })
		wg.Wait()
		switch {
		case putErr == nil && errors.Is(delErr, errUsed):
		case delErr == nil && errors.Is(putErr, errMissing):
		default:
			t.Fatalf("round %d: put %v, delete %v; want exactly one to commit", i, putErr, delErr)
		}
	}
}

// testGuardedRewrite: RewriteObjectsIf runs its check on the state it
// commits on (meta values included), so a rewrite computed from values
// another writer changed meanwhile is refused and writes nothing.
func testGuardedRewrite(t *testing.T, open Opener) {
	s := open(t)
	ctx := t.Context()
	putObj(t, s, store.KindAlias, "@gateway/a", "1", 0)
	must(s.PutMeta(ctx, "verifier", []byte("v1"), 0))(t)
	read := must(s.GetMeta(ctx, "verifier"))(t)
	errChanged := errors.New("the verifier changed")
	same := func(ctx context.Context, r store.Reader) error {
		cur, err := r.GetMeta(ctx, "verifier")
		if err != nil {
			return err
		}
		if string(cur) != string(read) {
			return errChanged
		}
		return nil
	}
	double := func(o store.Object) ([]byte, error) { return append(o.Value, o.Value...), nil }

	// Another writer changes the value the rewrite was computed from.
	must(s.PutMeta(ctx, "verifier", []byte("v2"), store.NoRevisionCheck))(t)
	before := takeSnapshot(t, s)
	_, err := s.RewriteObjectsIf(ctx, []string{store.KindAlias}, double, map[string][]byte{"verifier": []byte("from v1")}, same)
	wantErr(t, err, errChanged)
	unchanged(t, s, before)
	if _, err := s.RewriteObjectsIf(ctx, nil, double, map[string][]byte{"x": []byte("y")}, func(ctx context.Context, r store.Reader) error {
		_, err := r.GetMeta(ctx, "missing")
		return err
	}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a check reading a missing meta key: %v, want ErrNotFound", err)
	}
	unchanged(t, s, before)

	read = must(s.GetMeta(ctx, "verifier"))(t)
	n := must(s.RewriteObjectsIf(ctx, []string{store.KindAlias}, double, map[string][]byte{"verifier": []byte("from v2")}, same))(t)
	if n != 1 {
		t.Fatalf("guarded rewrite changed %d objects, want 1", n)
	}
	if got := must(s.GetMeta(ctx, "verifier"))(t); string(got) != "from v2" {
		t.Fatalf("meta after the guarded rewrite: %q", got)
	}
	if o := must(s.GetObject(ctx, store.KindAlias, "@gateway/a"))(t); string(o.Value) != "11" {
		t.Fatalf("object after the guarded rewrite: %q", o.Value)
	}
}
