package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/securegw/gateway/store"
)

// calls returns one invocation of every Store method but Close, for tests
// that expect them all to fail the same way.
func calls(s store.Store) []struct {
	name string
	call func(ctx context.Context) error
} {
	rewrite := func(o store.Object) ([]byte, error) { return append(o.Value, '!'), nil }
	return []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Revision", func(ctx context.Context) error { _, err := s.Revision(ctx); return err }},
		{"PutTopology", func(ctx context.Context) error {
			_, err := s.PutTopology(ctx, topo("web", spec(9)), store.NoRevisionCheck)
			return err
		}},
		{"PutTopology create", func(ctx context.Context) error {
			_, err := s.PutTopology(ctx, topo("other", spec(9)), 0)
			return err
		}},
		{"GetTopology", func(ctx context.Context) error { _, err := s.GetTopology(ctx, "web"); return err }},
		{"GetTopologyRevision", func(ctx context.Context) error {
			_, err := s.GetTopologyRevision(ctx, "web", 1)
			return err
		}},
		{"ListTopologies", func(ctx context.Context) error { _, _, err := s.ListTopologies(ctx); return err }},
		{"DeleteTopology", func(ctx context.Context) error {
			_, err := s.DeleteTopology(ctx, "web", "tester", store.NoRevisionCheck)
			return err
		}},
		{"TopologyHistory", func(ctx context.Context) error { _, err := s.TopologyHistory(ctx, "web"); return err }},
		{"AppendAudit", func(ctx context.Context) error {
			_, err := s.AppendAudit(ctx, store.AuditRecord{Principal: "p", Method: "m"})
			return err
		}},
		{"ListAudit", func(ctx context.Context) error { _, err := s.ListAudit(ctx, store.AuditFilter{}); return err }},
		{"PutObject", func(ctx context.Context) error {
			_, err := s.PutObject(ctx, store.Object{Kind: store.KindAlias, Key: "a", Value: []byte("new")}, store.NoRevisionCheck)
			return err
		}},
		{"GetObject", func(ctx context.Context) error { _, err := s.GetObject(ctx, store.KindAlias, "a"); return err }},
		{"ListObjects", func(ctx context.Context) error { _, err := s.ListObjects(ctx, store.KindAlias, ""); return err }},
		{"DeleteObject", func(ctx context.Context) error {
			_, err := s.DeleteObject(ctx, store.KindAlias, "a", store.NoRevisionCheck)
			return err
		}},
		{"PutTopologyIf", func(ctx context.Context) error {
			_, err := s.PutTopologyIf(ctx, topo("web", spec(9)), store.NoRevisionCheck, func(context.Context, store.Reader) error { return nil })
			return err
		}},
		{"DeleteObjectIf", func(ctx context.Context) error {
			_, err := s.DeleteObjectIf(ctx, store.KindAlias, "a", store.NoRevisionCheck, func(context.Context, store.Reader) error { return nil })
			return err
		}},
		{"RewriteObjects", func(ctx context.Context) error {
			_, err := s.RewriteObjects(ctx, []string{store.KindAlias}, rewrite, map[string][]byte{"k": []byte("new")})
			return err
		}},
		{"GetMeta", func(ctx context.Context) error { _, err := s.GetMeta(ctx, "k"); return err }},
		{"GetMetaRevision", func(ctx context.Context) error { _, _, err := s.GetMetaRevision(ctx, "k"); return err }},
		{"PutMeta", func(ctx context.Context) error {
			_, err := s.PutMeta(ctx, "k", []byte("new"), store.NoRevisionCheck)
			return err
		}},
		{"Watch", func(ctx context.Context) error { _, err := s.Watch(ctx, 0); return err }},
	}
}

// seed gives a store one of everything calls touches.
func seed(t *testing.T, s store.Store) {
	t.Helper()
	put(t, s, "web", spec(1), 0)
	putObj(t, s, store.KindAlias, "a", "v", 0)
	must(s.PutMeta(t.Context(), "k", []byte("v"), 0))(t)
	must(s.AppendAudit(t.Context(), store.AuditRecord{Principal: "p", Method: "m"}))(t)
}

// testCanceledContext checks that a done context fails every call, with
// the context's error, before anything is written.
func testCanceledContext(t *testing.T, open Opener) {
	s := open(t)
	seed(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, c := range calls(s) {
		t.Run(c.name, func(t *testing.T) {
			before := takeSnapshot(t, s)
			err := c.call(ctx)
			wantErr(t, err, context.Canceled)
			unchanged(t, s, before)
		})
	}
	t.Run("canceled during rewrite", func(t *testing.T) {
		for _, k := range []string{"b", "c", "d"} {
			putObj(t, s, store.KindAlias, k, "v", 0)
		}
		before := takeSnapshot(t, s)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		_, err := s.RewriteObjects(ctx, []string{store.KindAlias}, func(o store.Object) ([]byte, error) {
			cancel() // the first object cancels the rest
			return []byte("rewritten"), nil
		}, map[string][]byte{"k": []byte("new")})
		wantErr(t, err, context.Canceled)
		unchanged(t, s, before)
	})
}

// testCopies checks that no byte slice is shared between a caller and the
// store: changing one after the call does not change the other.
func testCopies(t *testing.T, open Opener) {
	s := open(t)
	ctx := t.Context()
	// Values of a few kilobytes: a backend that hands out its own memory
	// (a memory map) has them outside any small inline copy.
	pad := strings.Repeat(".", 3000)
	wantSpec, wantVal, wantMeta := spec(1)+pad, "secret"+pad, "meta"+pad
	in := []byte(wantSpec)
	out := must(s.PutTopology(ctx, store.Topology{Name: "web", Spec: in}, 0))(t)
	val := []byte(wantVal)
	obj := must(s.PutObject(ctx, store.Object{Kind: store.KindAlias, Key: "a", Value: val}, 0))(t)
	meta := []byte(wantMeta)
	must(s.PutMeta(ctx, "k", meta, 0))(t)
	scribble := func(b []byte) {
		for i := range b {
			b[i] = 'X'
		}
	}
	check := func(t *testing.T) {
		t.Helper()
		if got := must(s.GetTopology(ctx, "web"))(t); string(got.Spec) != wantSpec {
			t.Errorf("stored spec became %q", got.Spec)
		}
		if got := must(s.GetObject(ctx, store.KindAlias, "a"))(t); string(got.Value) != wantVal {
			t.Errorf("stored value became %q", got.Value)
		}
		if got := must(s.GetMeta(ctx, "k"))(t); string(got) != wantMeta {
			t.Errorf("stored meta became %q", got)
		}
	}
	tests := []struct {
		name  string
		bytes func(t *testing.T) [][]byte
	}{
		{"inputs", func(*testing.T) [][]byte { return [][]byte{in, val, meta} }},
		{"put results", func(*testing.T) [][]byte { return [][]byte{out.Spec, obj.Value} }},
		{"get results", func(t *testing.T) [][]byte {
			return [][]byte{
				must(s.GetTopology(ctx, "web"))(t).Spec,
				must(s.GetTopologyRevision(ctx, "web", out.Revision))(t).Spec,
				must(s.GetObject(ctx, store.KindAlias, "a"))(t).Value,
				must(s.GetMeta(ctx, "k"))(t),
			}
		}},
		{"list results", func(t *testing.T) [][]byte {
			l, _ := must2(t)(s.ListTopologies(ctx))
			return [][]byte{
				l[0].Spec,
				must(s.TopologyHistory(ctx, "web"))(t)[0].Spec,
				must(s.ListObjects(ctx, store.KindAlias, ""))(t)[0].Value,
			}
		}},
		{"rewrite argument", func(t *testing.T) [][]byte {
			var arg []byte
			must(s.RewriteObjects(ctx, []string{store.KindAlias}, func(o store.Object) ([]byte, error) {
				arg = o.Value
				return o.Value, nil
			}, nil))(t)
			return [][]byte{arg}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, b := range tt.bytes(t) {
				scribble(b)
			}
			check(t)
		})
	}
	t.Run("rewrite result", func(t *testing.T) {
		res := []byte("rewritten" + pad)
		must(s.RewriteObjects(ctx, []string{store.KindAlias}, func(store.Object) ([]byte, error) { return res, nil }, nil))(t)
		scribble(res)
		if got := must(s.GetObject(ctx, store.KindAlias, "a"))(t); string(got.Value) != "rewritten"+pad {
			t.Errorf("stored value became %q", got.Value)
		}
	})
}

// testClosed checks that every call after Close fails with ErrClosed.
func testClosed(t *testing.T, open Opener) {
	s := open(t)
	seed(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range calls(s) {
		t.Run(c.name, func(t *testing.T) {
			wantErr(t, c.call(t.Context()), store.ErrClosed)
		})
	}
	t.Run("Close", func(t *testing.T) {
		if err := s.Close(); !errors.Is(err, store.ErrClosed) {
			t.Errorf("second Close = %v, want %v", err, store.ErrClosed)
		}
	})
}
