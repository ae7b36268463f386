package storetest

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/securegw/gateway/store"
)

// testObjects runs create, read, update and delete for every kind.
func testObjects(t *testing.T, open Opener) {
	s := open(t)
	for _, kind := range store.Kinds {
		t.Run(kind, func(t *testing.T) {
			ctx := t.Context()
			created := putObj(t, s, kind, "k1", "v1", 0)
			if created.Kind != kind || created.Key != "k1" || string(created.Value) != "v1" ||
				created.CreateRevision != created.Revision || created.Revision != revision(t, s) {
				t.Errorf("created %+v", created)
			}
			got := must(s.GetObject(ctx, kind, "k1"))(t)
			if !sameObject(got, created) {
				t.Errorf("GetObject = %+v, want %+v", got, created)
			}
			updated := putObj(t, s, kind, "k1", "v2", created.Revision)
			if updated.CreateRevision != created.Revision || updated.Revision != created.Revision+1 {
				t.Errorf("updated %+v after %+v", updated, created)
			}
			if got := must(s.GetObject(ctx, kind, "k1"))(t); !sameObject(got, updated) {
				t.Errorf("GetObject = %+v, want %+v", got, updated)
			}
			empty := putObj(t, s, kind, "empty", "", 0)
			if got := must(s.GetObject(ctx, kind, "empty"))(t); len(got.Value) != 0 || got.Revision != empty.Revision {
				t.Errorf("empty value read back as %+v", got)
			}
			rev := must(s.DeleteObject(ctx, kind, "k1", updated.Revision))(t)
			if rev != revision(t, s) {
				t.Errorf("deletion reported %d, store at %d", rev, revision(t, s))
			}
			_, err := s.GetObject(ctx, kind, "k1")
			wantErr(t, err, store.ErrNotFound)
			again := putObj(t, s, kind, "k1", "v3", 0)
			if again.CreateRevision <= rev {
				t.Errorf("re-created with CreateRevision %d, want above %d", again.CreateRevision, rev)
			}
		})
	}
}

func sameObject(a, b store.Object) bool {
	return a.Kind == b.Kind && a.Key == b.Key && bytes.Equal(a.Value, b.Value) && a.Revision == b.Revision &&
		a.CreateRevision == b.CreateRevision && a.UpdatedAt.Equal(b.UpdatedAt)
}

// testObjectCAS checks the compare-and-set outcomes of PutObject and
// DeleteObject; a refused call changes nothing.
func testObjectCAS(t *testing.T, open Opener) {
	s := open(t)
	v1 := putObj(t, s, store.KindAlias, "ldap", "one", 0)
	v2 := putObj(t, s, store.KindAlias, "ldap", "two", v1.Revision)
	const put, del = "put", "delete"
	tests := []struct {
		name     string
		op       string
		key      string
		expect   int64
		want     error
		mentions []int64
	}{
		{"create over existing", put, "ldap", 0, store.ErrRevisionMismatch, []int64{v2.Revision}},
		{"stale put", put, "ldap", v1.Revision, store.ErrRevisionMismatch, []int64{v1.Revision, v2.Revision}},
		{"update of missing", put, "nope", v2.Revision, store.ErrRevisionMismatch, []int64{v2.Revision}},
		{"empty key", put, "", store.NoRevisionCheck, nil, nil},
		{"expect below NoRevisionCheck", put, "ldap", -5, nil, nil},
		{"stale delete", del, "ldap", v1.Revision, store.ErrRevisionMismatch, []int64{v1.Revision, v2.Revision}},
		{"delete expecting absent", del, "ldap", 0, store.ErrRevisionMismatch, []int64{v2.Revision}},
		{"delete missing", del, "nope", store.NoRevisionCheck, store.ErrNotFound, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := takeSnapshot(t, s)
			var err error
			if tt.op == put {
				_, err = s.PutObject(t.Context(), store.Object{Kind: store.KindAlias, Key: tt.key, Value: []byte("x")}, tt.expect)
			} else {
				_, err = s.DeleteObject(t.Context(), store.KindAlias, tt.key, tt.expect)
			}
			wantErr(t, err, tt.want)
			mentions(t, err, tt.mentions...)
			unchanged(t, s, before)
		})
	}
	t.Run("no revision check", func(t *testing.T) {
		got := putObj(t, s, store.KindAlias, "ldap", "three", store.NoRevisionCheck)
		if got.Revision != v2.Revision+1 || got.CreateRevision != v1.Revision {
			t.Errorf("got %+v", got)
		}
	})
}

// testObjectList checks prefix listing, its order and kind isolation.
func testObjectList(t *testing.T, open Opener) {
	s := open(t)
	keys := []string{"bob", "alice/1", "al", "alicia", "alice", "ali\xff", "b"}
	for _, k := range keys {
		putObj(t, s, store.KindToken, k, "v-"+k, 0)
	}
	putObj(t, s, store.KindTokenPolicy, "alice", "policy", 0)
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", []string{"al", "alice", "alice/1", "alicia", "ali\xff", "b", "bob"}},
		{"ali", []string{"alice", "alice/1", "alicia", "ali\xff"}},
		{"alice", []string{"alice", "alice/1"}},
		{"alice/", []string{"alice/1"}},
		{"b", []string{"b", "bob"}},
		{"zzz", nil},
		{"alice/1/", nil},
	}
	for _, tt := range tests {
		t.Run("prefix "+tt.prefix, func(t *testing.T) {
			list := must(s.ListObjects(t.Context(), store.KindToken, tt.prefix))(t)
			var got []string
			for _, o := range list {
				got = append(got, o.Key)
				if o.Kind != store.KindToken || string(o.Value) != "v-"+o.Key {
					t.Errorf("listed %+v", o)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("keys %q, want %q", got, tt.want)
			}
		})
	}
	if list := must(s.ListObjects(t.Context(), store.KindAlias, ""))(t); len(list) != 0 {
		t.Errorf("kind alias lists %d objects, want 0", len(list))
	}
}

// testObjectUnknownKind checks that every object call refuses a kind
// outside store.Kinds and changes nothing.
func testObjectUnknownKind(t *testing.T, open Opener) {
	s := open(t)
	putObj(t, s, store.KindAlias, "a", "v", 0)
	id := func(o store.Object) ([]byte, error) { return append(o.Value, '!'), nil }
	for _, kind := range []string{"bogus", "", "ALIAS", "topologies"} {
		calls := []struct {
			name string
			call func() error
		}{
			{"put", func() error {
				_, err := s.PutObject(t.Context(), store.Object{Kind: kind, Key: "a", Value: []byte("v")}, store.NoRevisionCheck)
				return err
			}},
			{"get", func() error { _, err := s.GetObject(t.Context(), kind, "a"); return err }},
			{"list", func() error { _, err := s.ListObjects(t.Context(), kind, ""); return err }},
			{"delete", func() error { _, err := s.DeleteObject(t.Context(), kind, "a", store.NoRevisionCheck); return err }},
			{"rewrite", func() error {
				_, err := s.RewriteObjects(t.Context(), []string{store.KindAlias, kind}, id, map[string][]byte{"k": []byte("v")})
				return err
			}},
		}
		for _, c := range calls {
			t.Run(c.name+" "+kind, func(t *testing.T) {
				before := takeSnapshot(t, s)
				err := c.call()
				wantErr(t, err, nil)
				if errors.Is(err, store.ErrNotFound) {
					t.Errorf("unknown kind reported as not found: %v", err)
				}
				unchanged(t, s, before)
			})
		}
	}
}

// testRewriteObjects checks a successful rewrite: what changes, what is
// counted, which revision changed objects get.
func testRewriteObjects(t *testing.T, open Opener) {
	s := open(t)
	a1 := putObj(t, s, store.KindAlias, "a1", "one", 0)
	a2 := putObj(t, s, store.KindAlias, "a2", "two", 0)
	a3 := putObj(t, s, store.KindAlias, "keep", "three", 0)
	t1 := putObj(t, s, store.KindToken, "t1", "tok", 0)
	p1 := putObj(t, s, store.KindTokenPolicy, "p1", "pol", 0)
	before := revision(t, s)

	seen := map[string]int{}
	fn := func(o store.Object) ([]byte, error) {
		seen[o.Kind+"/"+o.Key]++
		if o.Key == "keep" {
			return bytes.Clone(o.Value), nil
		}
		return append([]byte("new-"), o.Value...), nil
	}
	meta := map[string][]byte{"verifier": []byte("v2"), "kdf": []byte("argon2id")}
	n := must(s.RewriteObjects(t.Context(), []string{store.KindAlias, store.KindToken, store.KindAlias}, fn, meta))(t)
	if n != 3 {
		t.Errorf("changed = %d, want 3", n)
	}
	rev := revision(t, s)
	if rev != before+1 {
		t.Errorf("revision went from %d to %d, want +1", before, rev)
	}
	wantSeen := map[string]int{"alias/a1": 1, "alias/a2": 1, "alias/keep": 1, "token/t1": 1}
	if len(seen) != len(wantSeen) {
		t.Errorf("fn saw %v, want %v", seen, wantSeen)
	}
	for k, c := range wantSeen {
		if seen[k] != c {
			t.Errorf("fn saw %s %d times, want %d", k, seen[k], c)
		}
	}
	tests := []struct {
		old   store.Object
		value string
		rev   int64
	}{
		{a1, "new-one", rev},
		{a2, "new-two", rev},
		{a3, "three", a3.Revision},
		{t1, "new-tok", rev},
		{p1, "pol", p1.Revision},
	}
	for _, tt := range tests {
		t.Run(tt.old.Kind+"/"+tt.old.Key, func(t *testing.T) {
			got := must(s.GetObject(t.Context(), tt.old.Kind, tt.old.Key))(t)
			if string(got.Value) != tt.value || got.Revision != tt.rev || got.CreateRevision != tt.old.CreateRevision {
				t.Errorf("got %q@%d (created %d), want %q@%d (created %d)",
					got.Value, got.Revision, got.CreateRevision, tt.value, tt.rev, tt.old.CreateRevision)
			}
		})
	}
	for k, v := range meta {
		if got := must(s.GetMeta(t.Context(), k))(t); !bytes.Equal(got, v) {
			t.Errorf("meta %s = %q, want %q", k, got, v)
		}
	}
	t.Run("fn editing its argument in place", func(t *testing.T) {
		n := must(s.RewriteObjects(t.Context(), []string{store.KindTokenPolicy}, func(o store.Object) ([]byte, error) {
			copy(o.Value, "POL")
			return o.Value, nil
		}, nil))(t)
		if n != 1 {
			t.Errorf("changed = %d, want 1", n)
		}
		if got := must(s.GetObject(t.Context(), store.KindTokenPolicy, "p1"))(t); string(got.Value) != "POL" {
			t.Errorf("value %q, want %q", got.Value, "POL")
		}
	})
}

// testRewriteObjectsFailure checks that an error from fn, wherever it
// happens, leaves everything as it was.
func testRewriteObjectsFailure(t *testing.T, open Opener) {
	s := open(t)
	for _, k := range []string{"a", "b", "c"} {
		putObj(t, s, store.KindAlias, k, "v-"+k, 0)
	}
	putObj(t, s, store.KindToken, "t", "v-t", 0)
	must(s.PutMeta(t.Context(), "verifier", []byte("old"), 0))(t)
	errBoom := errors.New("boom")
	for _, failAt := range []string{"a", "b", "t"} {
		t.Run("fail at "+failAt, func(t *testing.T) {
			before := takeSnapshot(t, s)
			calls := 0
			_, err := s.RewriteObjects(t.Context(), []string{store.KindAlias, store.KindToken},
				func(o store.Object) ([]byte, error) {
					calls++
					if o.Key == failAt {
						return nil, errBoom
					}
					return []byte("rewritten"), nil
				},
				map[string][]byte{"verifier": []byte("new"), "kdf": []byte("new")})
			wantErr(t, err, errBoom)
			if calls == 0 {
				t.Error("fn never called")
			}
			unchanged(t, s, before)
		})
	}
	t.Run("nil fn", func(t *testing.T) {
		before := takeSnapshot(t, s)
		_, err := s.RewriteObjects(t.Context(), []string{store.KindAlias}, nil, nil)
		wantErr(t, err, nil)
		unchanged(t, s, before)
	})
	t.Run("empty meta key", func(t *testing.T) {
		before := takeSnapshot(t, s)
		_, err := s.RewriteObjects(t.Context(), []string{store.KindAlias},
			func(o store.Object) ([]byte, error) { return []byte("x"), nil },
			map[string][]byte{"": []byte("v")})
		wantErr(t, err, nil)
		unchanged(t, s, before)
	})
}

// testMeta checks the meta round trip.
func testMeta(t *testing.T, open Opener) {
	s := open(t)
	ctx := t.Context()
	_, err := s.GetMeta(ctx, "k")
	wantErr(t, err, store.ErrNotFound)
	tests := []struct {
		name  string
		key   string
		value []byte
	}{
		{"simple", "k", []byte("v")},
		{"overwrite", "k", []byte("v2")},
		{"slash", "a/b", []byte{0, 1, 2, 255}},
		{"unicode and space", " clé ü", []byte("x")},
		{"empty value", "verifier", []byte{}},
		{"nil value", "kdf", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.PutMeta(ctx, tt.key, tt.value, store.NoRevisionCheck); err != nil {
				t.Fatal(err)
			}
			got, err := s.GetMeta(ctx, tt.key)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.value) {
				t.Errorf("GetMeta(%q) = %q, want %q", tt.key, got, tt.value)
			}
		})
	}
	t.Run("empty key", func(t *testing.T) {
		before := takeSnapshot(t, s)
		_, err := s.PutMeta(ctx, "", []byte("v"), store.NoRevisionCheck)
		wantErr(t, err, nil)
		unchanged(t, s, before)
	})
}

// testMetaCAS checks PutMeta's compare-and-set and the revision
// GetMetaRevision reports.
func testMetaCAS(t *testing.T, open Opener) {
	s := open(t)
	ctx := t.Context()
	_, _, err := s.GetMetaRevision(ctx, "k")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.PutMeta(ctx, "k", []byte("v"), 7)
	wantErr(t, err, store.ErrRevisionMismatch)
	r1 := must(s.PutMeta(ctx, "k", []byte("v1"), 0))(t)
	if cur := revision(t, s); r1 != cur {
		t.Fatalf("PutMeta returned revision %d, store is at %d", r1, cur)
	}
	v, rev, err := s.GetMetaRevision(ctx, "k")
	noErr(t, err)
	if string(v) != "v1" || rev != r1 {
		t.Fatalf("GetMetaRevision = %q at %d, want %q at %d", v, rev, "v1", r1)
	}
	put(t, s, "web", spec(1), 0) // moves the store revision, not the meta's
	before := takeSnapshot(t, s)
	for _, expect := range []int64{0, r1 + 1, r1 - 1} {
		_, err := s.PutMeta(ctx, "k", []byte("lost"), expect)
		wantErr(t, err, store.ErrRevisionMismatch)
		mentions(t, err, r1)
	}
	_, err = s.PutMeta(ctx, "k", []byte("lost"), -5)
	wantErr(t, err, nil)
	unchanged(t, s, before)
	r2 := must(s.PutMeta(ctx, "k", []byte("v2"), r1))(t)
	if r2 <= r1 {
		t.Fatalf("second PutMeta at revision %d, first at %d", r2, r1)
	}
	// RewriteObjects moves the revision of the meta values it sets.
	must(s.RewriteObjects(ctx, nil, func(o store.Object) ([]byte, error) { return o.Value, nil }, map[string][]byte{"k": []byte("v3")}))(t)
	if _, rev, _ := s.GetMetaRevision(ctx, "k"); rev != revision(t, s) {
		t.Errorf("meta set by RewriteObjects at revision %d, store at %d", rev, revision(t, s))
	}
	_, err = s.PutMeta(ctx, "k", []byte("lost"), r2)
	wantErr(t, err, store.ErrRevisionMismatch)
}
