package storetest

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/securegw/gateway/store"
)

// testTopologyCAS checks every compare-and-set outcome of PutTopology; a
// refused write changes nothing.
func testTopologyCAS(t *testing.T, open Opener) {
	s := open(t)
	v1 := put(t, s, "web", spec(1), 0)
	v2 := put(t, s, "web", spec(2), v1.Revision)
	if v2.CreateRevision != v1.Revision {
		t.Fatalf("CreateRevision after update = %d, want %d", v2.CreateRevision, v1.Revision)
	}
	refused := []struct {
		name     string
		topo     string
		expect   int64
		mentions []int64
	}{
		{"create over existing", "web", 0, []int64{v2.Revision}},
		{"stale revision", "web", v1.Revision, []int64{v1.Revision, v2.Revision}},
		{"future revision", "web", v2.Revision + 100, []int64{v2.Revision + 100, v2.Revision}},
		{"update of missing", "other", v2.Revision, []int64{v2.Revision}},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			before := takeSnapshot(t, s)
			_, err := s.PutTopology(t.Context(), topo(tt.topo, spec(99)), tt.expect)
			wantErr(t, err, store.ErrRevisionMismatch)
			mentions(t, err, tt.mentions...)
			unchanged(t, s, before)
		})
	}
	accepted := []struct {
		name   string
		expect func(t *testing.T) int64
	}{
		{"current revision", func(t *testing.T) int64 { return must(s.GetTopology(t.Context(), "web"))(t).Revision }},
		{"no revision check", func(*testing.T) int64 { return store.NoRevisionCheck }},
	}
	for i, tt := range accepted {
		t.Run(tt.name, func(t *testing.T) {
			before := revision(t, s)
			got := put(t, s, "web", spec(10+i), tt.expect(t))
			if got.Revision != before+1 {
				t.Errorf("Revision = %d, want %d", got.Revision, before+1)
			}
			if got.CreateRevision != v1.Revision {
				t.Errorf("CreateRevision = %d, want %d", got.CreateRevision, v1.Revision)
			}
			cur := must(s.GetTopology(t.Context(), "web"))(t)
			if string(cur.Spec) != spec(10+i) || cur.Revision != got.Revision {
				t.Errorf("GetTopology = %s@%d, want %s@%d", cur.Spec, cur.Revision, spec(10+i), got.Revision)
			}
		})
	}
}

// testTopologyDeleteCAS checks the compare-and-set outcomes of
// DeleteTopology.
func testTopologyDeleteCAS(t *testing.T, open Opener) {
	s := open(t)
	v1 := put(t, s, "web", spec(1), 0)
	v2 := put(t, s, "web", spec(2), v1.Revision)
	refused := []struct {
		name   string
		topo   string
		expect int64
		want   error
	}{
		{"missing", "other", store.NoRevisionCheck, store.ErrNotFound},
		{"missing with expect", "other", v2.Revision, store.ErrNotFound},
		{"expect absent", "web", 0, store.ErrRevisionMismatch},
		{"stale revision", "web", v1.Revision, store.ErrRevisionMismatch},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			before := takeSnapshot(t, s)
			_, err := s.DeleteTopology(t.Context(), tt.topo, "tester", tt.expect)
			wantErr(t, err, tt.want)
			if tt.want == store.ErrRevisionMismatch {
				mentions(t, err, v2.Revision)
			}
			unchanged(t, s, before)
		})
	}
	t.Run("current revision", func(t *testing.T) {
		rev, err := s.DeleteTopology(t.Context(), "web", "tester", v2.Revision)
		if err != nil {
			t.Fatal(err)
		}
		if rev != v2.Revision+1 || revision(t, s) != rev {
			t.Errorf("deletion at %d, store at %d, want %d", rev, revision(t, s), v2.Revision+1)
		}
		_, err = s.GetTopology(t.Context(), "web")
		wantErr(t, err, store.ErrNotFound)
		list, _ := must2(t)(s.ListTopologies(t.Context()))
		if len(list) != 0 {
			t.Errorf("ListTopologies after delete = %v", list)
		}
	})
}

// must2 is must for calls returning two values and an error.
func must2(t *testing.T) func([]store.Topology, int64, error) ([]store.Topology, int64) {
	return func(l []store.Topology, rev int64, err error) ([]store.Topology, int64) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return l, rev
	}
}

// testTopologyNotFound checks every way of asking for what is not there.
func testTopologyNotFound(t *testing.T, open Opener) {
	s := open(t)
	web := put(t, s, "web", spec(1), 0)
	tests := []struct {
		name string
		call func() error
	}{
		{"get missing", func() error { _, err := s.GetTopology(t.Context(), "other"); return err }},
		{"get empty name", func() error { _, err := s.GetTopology(t.Context(), ""); return err }},
		{"revision of missing", func() error { _, err := s.GetTopologyRevision(t.Context(), "other", web.Revision); return err }},
		{"unknown revision", func() error { _, err := s.GetTopologyRevision(t.Context(), "web", web.Revision+1); return err }},
		{"revision zero", func() error { _, err := s.GetTopologyRevision(t.Context(), "web", 0); return err }},
		{"negative revision", func() error { _, err := s.GetTopologyRevision(t.Context(), "web", -1); return err }},
		{"history of missing", func() error { _, err := s.TopologyHistory(t.Context(), "other"); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			wantErr(t, err, store.ErrNotFound)
		})
	}
}

// testTopologyInvalid checks that malformed writes are refused and change
// nothing.
func testTopologyInvalid(t *testing.T, open Opener) {
	s := open(t)
	put(t, s, "web", spec(1), 0)
	withAction := func(action string) store.Topology {
		tp := topo("web", spec(2))
		tp.Action = action
		return tp
	}
	tests := []struct {
		name   string
		topo   store.Topology
		expect int64
	}{
		{"empty name", topo("", spec(1)), store.NoRevisionCheck},
		{"empty spec", topo("web", ""), store.NoRevisionCheck},
		{"action delete", withAction("delete"), store.NoRevisionCheck},
		{"unknown action", withAction("explode"), store.NoRevisionCheck},
		{"expect below NoRevisionCheck", topo("web", spec(2)), -2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := takeSnapshot(t, s)
			_, err := s.PutTopology(t.Context(), tt.topo, tt.expect)
			wantErr(t, err, nil)
			unchanged(t, s, before)
		})
	}
	t.Run("empty action means deploy", func(t *testing.T) {
		got := must(s.PutTopology(t.Context(), withAction(""), store.NoRevisionCheck))(t)
		if got.Action != "deploy" {
			t.Errorf("Action = %q, want deploy", got.Action)
		}
		if cur := must(s.GetTopology(t.Context(), "web"))(t); cur.Action != "deploy" {
			t.Errorf("stored Action = %q, want deploy", cur.Action)
		}
	})
}

// testTopologyList checks order, content and the revision read at.
func testTopologyList(t *testing.T, open Opener) {
	s := open(t)
	list, rev := must2(t)(s.ListTopologies(t.Context()))
	if len(list) != 0 || rev != revision(t, s) {
		t.Fatalf("empty store lists %d topologies at revision %d", len(list), rev)
	}
	names := []string{"web", "api", "B", "a-b", "a", "zz", "a.b"}
	for i, name := range names {
		put(t, s, name, spec(i), 0)
	}
	put(t, s, "api", spec(100), store.NoRevisionCheck)
	list, rev = must2(t)(s.ListTopologies(t.Context()))
	if want := revision(t, s); rev != want {
		t.Errorf("read at revision %d, store is at %d", rev, want)
	}
	var got []string
	for _, tp := range list {
		got = append(got, tp.Name)
		want := must(s.GetTopology(t.Context(), tp.Name))(t)
		if !sameTopology(tp, want) {
			t.Errorf("listed %+v, GetTopology gives %+v", tp, want)
		}
	}
	want := slices.Clone(names)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("listed %q, want %q (sorted by name)", got, want)
	}
}

// sameTopology compares two versions, timestamps by instant.
func sameTopology(a, b store.Topology) bool {
	return a.Name == b.Name && bytes.Equal(a.Spec, b.Spec) && a.Revision == b.Revision &&
		a.CreateRevision == b.CreateRevision && a.UpdatedAt.Equal(b.UpdatedAt) &&
		a.UpdatedBy == b.UpdatedBy && a.Action == b.Action
}

// testTopologyHistory checks versions newest first, with their actions,
// and GetTopologyRevision of each.
func testTopologyHistory(t *testing.T, open Opener) {
	s := open(t)
	put(t, s, "other", spec(0), 0)
	v1 := put(t, s, "web", spec(1), 0)
	put(t, s, "other", spec(1), store.NoRevisionCheck)
	v2 := put(t, s, "web", spec(2), v1.Revision)
	rb := topo("web", spec(1))
	rb.Action, rb.UpdatedBy = "rollback", "operator"
	v3 := must(s.PutTopology(t.Context(), rb, v2.Revision))(t)
	delRev := must(s.DeleteTopology(t.Context(), "web", "remover", v3.Revision))(t)

	hist := must(s.TopologyHistory(t.Context(), "web"))(t)
	want := []struct {
		rev    int64
		action string
		spec   string
		by     string
	}{
		{delRev, "delete", "", "remover"},
		{v3.Revision, "rollback", spec(1), "operator"},
		{v2.Revision, "deploy", spec(2), "tester"},
		{v1.Revision, "deploy", spec(1), "tester"},
	}
	if len(hist) != len(want) {
		t.Fatalf("history has %d entries, want %d: %+v", len(hist), len(want), hist)
	}
	for i, w := range want {
		t.Run(fmt.Sprintf("%d-%s", i, w.action), func(t *testing.T) {
			h := hist[i]
			if h.Name != "web" || h.Revision != w.rev || h.Action != w.action || string(h.Spec) != w.spec || h.UpdatedBy != w.by {
				t.Errorf("entry %d = %s@%d %s %q by %s, want web@%d %s %q by %s",
					i, h.Name, h.Revision, h.Action, h.Spec, h.UpdatedBy, w.rev, w.action, w.spec, w.by)
			}
			if h.CreateRevision != v1.Revision {
				t.Errorf("entry %d CreateRevision = %d, want %d", i, h.CreateRevision, v1.Revision)
			}
			if h.UpdatedAt.IsZero() {
				t.Errorf("entry %d has no UpdatedAt", i)
			}
			at := must(s.GetTopologyRevision(t.Context(), "web", w.rev))(t)
			if !sameTopology(at, h) {
				t.Errorf("GetTopologyRevision(%d) = %+v, history has %+v", w.rev, at, h)
			}
		})
	}
	other := must(s.TopologyHistory(t.Context(), "other"))(t)
	if len(other) != 2 {
		t.Errorf("history of other has %d entries, want 2", len(other))
	}
}

// testTopologyDeleteRecreate checks that a re-created topology starts a
// new life (new CreateRevision) after its old history.
func testTopologyDeleteRecreate(t *testing.T, open Opener) {
	s := open(t)
	v1 := put(t, s, "web", spec(1), 0)
	delRev := must(s.DeleteTopology(t.Context(), "web", "tester", v1.Revision))(t)

	before := takeSnapshot(t, s)
	_, err := s.PutTopology(t.Context(), topo("web", spec(2)), v1.Revision)
	wantErr(t, err, store.ErrRevisionMismatch)
	unchanged(t, s, before)

	v2 := put(t, s, "web", spec(2), 0)
	if v2.CreateRevision != v2.Revision || v2.CreateRevision <= delRev {
		t.Errorf("re-created at %d with CreateRevision %d, want a new one above %d", v2.Revision, v2.CreateRevision, delRev)
	}
	hist := must(s.TopologyHistory(t.Context(), "web"))(t)
	var got []string
	for _, h := range hist {
		got = append(got, h.Action)
	}
	if want := []string{"deploy", "delete", "deploy"}; !slices.Equal(got, want) {
		t.Errorf("history actions %q, want %q", got, want)
	}
	if len(hist) == 3 && (hist[0].Revision != v2.Revision || hist[1].Revision != delRev || hist[2].Revision != v1.Revision) {
		t.Errorf("history revisions %d %d %d, want %d %d %d",
			hist[0].Revision, hist[1].Revision, hist[2].Revision, v2.Revision, delRev, v1.Revision)
	}
}

// testTimestamps checks that times are set by the store, in UTC, and come
// back with their nanoseconds.
func testTimestamps(t *testing.T, open Opener) {
	s := open(t)
	// The store may use its own clock (a server's): allow some skew.
	const skew = time.Minute
	start := time.Now()
	in := topo("web", spec(1))
	in.UpdatedAt = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC) // ignored
	tp := must(s.PutTopology(t.Context(), in, 0))(t)
	o := putObj(t, s, store.KindAlias, "a", "v", 0)
	when := time.Date(2024, 2, 29, 23, 59, 58, 123456789, time.FixedZone("CET", 3600))
	seq := must(s.AppendAudit(t.Context(), store.AuditRecord{Time: when, Principal: "p"}))(t)
	zeroSeq := must(s.AppendAudit(t.Context(), store.AuditRecord{Principal: "q"}))(t)
	end := time.Now()

	gotTopo := must(s.GetTopology(t.Context(), "web"))(t)
	gotObj := must(s.GetObject(t.Context(), store.KindAlias, "a"))(t)
	audit := must(s.ListAudit(t.Context(), store.AuditFilter{}))(t)
	byseq := map[int64]time.Time{}
	for _, r := range audit {
		byseq[r.Sequence] = r.Time
	}
	tests := []struct {
		name     string
		got      time.Time
		returned time.Time // from the write call; zero if none
		exact    time.Time // exact value expected; zero if set by the store
	}{
		{"topology", gotTopo.UpdatedAt, tp.UpdatedAt, time.Time{}},
		{"object", gotObj.UpdatedAt, o.UpdatedAt, time.Time{}},
		{"audit with time", byseq[seq], time.Time{}, when},
		{"audit without time", byseq[zeroSeq], time.Time{}, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got.Location() != time.UTC {
				t.Errorf("time %v is in %v, want UTC", tt.got, tt.got.Location())
			}
			if !tt.returned.IsZero() && !tt.returned.Equal(tt.got) {
				t.Errorf("write returned %v, read gives %v", tt.returned, tt.got)
			}
			if !tt.exact.IsZero() {
				if !tt.exact.Equal(tt.got) {
					t.Errorf("time = %v, want %v (nanoseconds kept)", tt.got, tt.exact)
				}
				return
			}
			if tt.got.Before(start.Add(-skew)) || tt.got.After(end.Add(skew)) {
				t.Errorf("time %v not within %v of [%v, %v]", tt.got, skew, start, end)
			}
		})
	}
	if !strings.HasPrefix(byseq[seq].Format(time.RFC3339Nano), "2024-02-29T22:59:58.123456789Z") {
		t.Errorf("audit time = %s", byseq[seq].Format(time.RFC3339Nano))
	}
}
