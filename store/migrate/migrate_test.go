package migrate

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/securegw/gateway/internal/etcdtest"
	"github.com/securegw/gateway/store"
	"github.com/securegw/gateway/store/bolt"
	"github.com/securegw/gateway/store/etcd"
)

// fill writes one of everything, with history, deletions and a rotation.
func fill(t *testing.T, s store.Store) {
	t.Helper()
	ctx := t.Context()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		for _, name := range []string{"web", "api", "a/b"} {
			must(s.PutTopology(ctx, store.Topology{Name: name, Spec: []byte(fmt.Sprintf(`{"v":%d}`, i)), UpdatedBy: "admin"}, store.NoRevisionCheck))
		}
	}
	must(s.DeleteTopology(ctx, "api", "admin", store.NoRevisionCheck))
	for i := range 30 {
		must(s.PutObject(ctx, store.Object{Kind: store.KindAlias, Key: fmt.Sprintf("gw/alias-%02d", i), Value: []byte{byte(i), 0, 0xff}}, 0))
	}
	must(s.PutObject(ctx, store.Object{Kind: store.KindTokenPolicy, Key: "etl", Value: []byte("{}")}, 0))
	must(s.DeleteObject(ctx, store.KindAlias, "gw/alias-03", store.NoRevisionCheck))
	must(s.RewriteObjects(ctx, []string{store.KindAlias}, func(o store.Object) ([]byte, error) { return append(o.Value, 1), nil },
		map[string][]byte{"verifier": []byte("v2")}))
	must(s.PutMeta(ctx, "ca", []byte("pem"), 0))
	for i := range 7 {
		must(s.AppendAudit(ctx, store.AuditRecord{Principal: "admin", Method: "Deploy", Target: fmt.Sprint(i)}))
	}
}

// A store moved from bbolt to etcd and back is the same store: every
// revision, version, object, meta value and audit record, and both keep
// working (the next write gets the next revision).
func TestRoundTrip(t *testing.T) {
	c := etcdtest.Start(t, 1)
	ctx := t.Context()
	src, err := bolt.Open(filepath.Join(t.TempDir(), "gateway.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	fill(t, src)
	want, err := src.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}

	mid, err := etcd.Open(ctx, etcd.Options{Endpoints: c.Endpoints(), Prefix: "/mid/"})
	if err != nil {
		t.Fatal(err)
	}
	defer mid.Close()
	rep, err := Copy(ctx, src, mid)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Revision != want.Revision || rep.Topologies != 2 || rep.Objects != 30 || rep.Audit != 7 {
		t.Errorf("report: %s", rep)
	}

	back, err := bolt.Open(filepath.Join(t.TempDir(), "back.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	if _, err := Copy(ctx, mid, back); err != nil {
		t.Fatal(err)
	}
	got, err := back.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := Equal(want, got); err != nil {
		t.Fatalf("bbolt → etcd → bbolt: %v", err)
	}
	for _, s := range []store.Store{mid, back} {
		next, err := s.PutTopology(ctx, store.Topology{Name: "web", Spec: []byte(`{"v":9}`)}, store.NoRevisionCheck)
		if err != nil {
			t.Fatal(err)
		}
		if next.Revision != want.Revision+1 {
			t.Errorf("next write at revision %d, want %d", next.Revision, want.Revision+1)
		}
		if _, err := s.GetObject(ctx, store.KindAlias, "gw/alias-07"); err != nil {
			t.Error(err)
		}
	}
}

// A target that holds anything is refused, and left as it was.
func TestRefusesNonEmptyTarget(t *testing.T) {
	c := etcdtest.Start(t, 1)
	ctx := t.Context()
	src, err := bolt.Open(filepath.Join(t.TempDir(), "gateway.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	fill(t, src)
	dst, err := etcd.Open(ctx, etcd.Options{Endpoints: c.Endpoints(), Prefix: "/busy/"})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if _, err := dst.PutTopology(ctx, store.Topology{Name: "mine", Spec: []byte("{}")}, 0); err != nil {
		t.Fatal(err)
	}
	before, _ := dst.Export(ctx)
	if _, err := Copy(ctx, src, dst); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("copy into a used store: %v", err)
	}
	after, _ := dst.Export(ctx)
	if err := Equal(before, after); err != nil {
		t.Errorf("the refused target changed: %v", err)
	}
	if err := Equal(before, store.Dump{}); err == nil {
		t.Error("Equal found no difference between different dumps")
	}
}
