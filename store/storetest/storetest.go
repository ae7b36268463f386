package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/securegw/gateway/store"
)

// Opener returns a new, empty store whose cleanup is registered on t.
type Opener func(t *testing.T) store.Store

// Run runs the conformance suite against the stores returned by open.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open Opener)
	}{
		{"Revision", testRevision},
		{"ConcurrentWriters", testConcurrentWriters},
		{"ConcurrentCAS", testConcurrentCAS},
		{"TopologyCAS", testTopologyCAS},
		{"TopologyDeleteCAS", testTopologyDeleteCAS},
		{"TopologyNotFound", testTopologyNotFound},
		{"TopologyInvalid", testTopologyInvalid},
		{"TopologyList", testTopologyList},
		{"TopologyHistory", testTopologyHistory},
		{"TopologyDeleteRecreate", testTopologyDeleteRecreate},
		{"Timestamps", testTimestamps},
		{"Objects", testObjects},
		{"ObjectCAS", testObjectCAS},
		{"ObjectList", testObjectList},
		{"ObjectUnknownKind", testObjectUnknownKind},
		{"GuardedWrites", testGuardedWrites},
		{"GuardedWritesRace", testGuardedWritesRace},
		{"GuardedRewrite", testGuardedRewrite},
		{"RewriteObjects", testRewriteObjects},
		{"RewriteObjectsFailure", testRewriteObjectsFailure},
		{"Meta", testMeta},
		{"MetaCAS", testMetaCAS},
		{"Audit", testAudit},
		{"AuditPaging", testAuditPaging},
		{"CanceledContext", testCanceledContext},
		{"Copies", testCopies},
		{"Closed", testClosed},
		{"WatchChanges", testWatchChanges},
		{"WatchResume", testWatchResume},
		{"WatchMany", testWatchMany},
		{"WatchSlow", testWatchSlow},
		{"WatchCancel", testWatchCancel},
		{"WatchClose", testWatchClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open) })
	}
}

// names and meta keys the snapshots look at: every test uses only these.
var (
	snapNames = []string{"web", "api", "other", "race", "a", "b", "c", "shared"}
	snapMeta  = []string{"k", "verifier", "kdf", "a/b"}
)

// snapshot is everything a test can observe in a store, for "nothing
// changed" checks.
type snapshot struct {
	Revision   int64
	ListRev    int64
	Topologies []store.Topology
	History    map[string][]store.Topology
	Objects    map[string][]store.Object
	Meta       map[string]string
	Audit      []store.AuditRecord
}

func takeSnapshot(t *testing.T, s store.Store) snapshot {
	t.Helper()
	ctx := t.Context()
	var snap snapshot
	var err error
	if snap.Revision, err = s.Revision(ctx); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	if snap.Topologies, snap.ListRev, err = s.ListTopologies(ctx); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	snap.History = map[string][]store.Topology{}
	for _, name := range snapNames {
		h, err := s.TopologyHistory(ctx, name)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("snapshot: %v", err)
		}
		snap.History[name] = h
	}
	snap.Objects = map[string][]store.Object{}
	for _, kind := range store.Kinds {
		if snap.Objects[kind], err = s.ListObjects(ctx, kind, ""); err != nil {
			t.Fatalf("snapshot: %v", err)
		}
	}
	snap.Meta = map[string]string{}
	for _, key := range snapMeta {
		v, err := s.GetMeta(ctx, key)
		switch {
		case errors.Is(err, store.ErrNotFound):
			snap.Meta[key] = "<missing>"
		case err != nil:
			t.Fatalf("snapshot: %v", err)
		default:
			snap.Meta[key] = string(v)
		}
	}
	if snap.Audit, err = s.ListAudit(ctx, store.AuditFilter{Limit: 1000}); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return snap
}

// unchanged fails t if s differs from before.
func unchanged(t *testing.T, s store.Store, before snapshot) {
	t.Helper()
	after := takeSnapshot(t, s)
	if !reflect.DeepEqual(before, after) {
		t.Errorf("store changed by a refused call:\nbefore: %+v\nafter:  %+v", before, after)
	}
}

// wantErr fails t unless err matches target (nil target: any error).
func wantErr(t *testing.T, err, target error) {
	t.Helper()
	switch {
	case err == nil:
		t.Fatalf("got no error, want %v", target)
	case target != nil && !errors.Is(err, target):
		t.Fatalf("got error %q, want one matching %q", err, target)
	}
}

// must(call())(t) returns call's value, failing t on its error.
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// noErr fails t on err.
func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func revision(t *testing.T, s store.Store) int64 {
	t.Helper()
	return must(s.Revision(t.Context()))(t)
}

// topo builds a topology to put.
func topo(name, spec string) store.Topology {
	return store.Topology{Name: name, Spec: []byte(spec), UpdatedBy: "tester", Action: "deploy"}
}

func put(t *testing.T, s store.Store, name, spec string, expect int64) store.Topology {
	t.Helper()
	return must(s.PutTopology(t.Context(), topo(name, spec), expect))(t)
}

func putObj(t *testing.T, s store.Store, kind, key, value string, expect int64) store.Object {
	t.Helper()
	return must(s.PutObject(t.Context(), store.Object{Kind: kind, Key: key, Value: []byte(value)}, expect))(t)
}

// mentions fails t unless err's message contains every number.
func mentions(t *testing.T, err error, nums ...int64) {
	t.Helper()
	for _, n := range nums {
		if !strings.Contains(err.Error(), strconv.FormatInt(n, 10)) {
			t.Errorf("error %q does not mention revision %d", err, n)
		}
	}
}

// spec returns a distinct spec for the i-th write of a test.
func spec(i int) string { return fmt.Sprintf(`{"version":%d}`, i) }
