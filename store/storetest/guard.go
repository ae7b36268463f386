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
