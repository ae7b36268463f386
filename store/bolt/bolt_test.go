package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/securegw/gateway/store"
	"github.com/securegw/gateway/store/storetest"
)

// openAt opens the store at path and closes it when t ends.
func openAt(t *testing.T, path string, opts Options) *Store {
	t.Helper()
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
			t.Errorf("closing store: %v", err)
		}
	})
	return s
}

func tempPath(t *testing.T) string {
	return filepath.Join(t.TempDir(), "gateway.db")
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openAt(t, tempPath(t), Options{})
	})
	storetest.RunWatchCompaction(t, func(t *testing.T, retention int) store.Store {
		return openAt(t, tempPath(t), Options{WatchRetention: retention})
	})
}

func must[T any](v T, err error) func(t testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func topo(name, spec string) store.Topology {
	return store.Topology{Name: name, Spec: []byte(spec), UpdatedBy: "tester"}
}

// logBuffer returns a logger writing text to a buffer.
func logBuffer() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, nil)), &buf
}

func TestFileModes(t *testing.T) {
	tests := []struct {
		name      string
		existing  os.FileMode // 0: no file before Open
		subdir    bool        // Open must create the directory
		tightened bool
	}{
		{"new file", 0, false, false},
		{"new file in new directory", 0, true, false},
		{"existing 0600", 0o600, false, false},
		{"existing 0644", 0o644, false, true},
		{"existing 0666", 0o666, false, true},
		{"existing 0640", 0o640, false, true},
		{"existing 0604", 0o604, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.subdir {
				dir = filepath.Join(dir, "data", "gw")
			}
			path := filepath.Join(dir, "gateway.db")
			if tt.existing != 0 {
				if err := os.WriteFile(path, nil, 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tt.existing); err != nil { // not subject to umask
					t.Fatal(err)
				}
			}
			lg, logs := logBuffer()
			s := openAt(t, path, Options{Logger: lg})
			if _, err := s.PutMeta(t.Context(), "k", []byte("v"), store.NoRevisionCheck); err != nil {
				t.Fatal(err)
			}
			fi := must(os.Stat(path))(t)
			if got := fi.Mode().Perm(); got != 0o600 {
				t.Errorf("data file mode %04o, want 0600", got)
			}
			if tt.subdir {
				for _, d := range []string{dir, filepath.Dir(dir)} {
					if got := must(os.Stat(d))(t).Mode().Perm(); got != 0o700 {
						t.Errorf("created directory %s has mode %04o, want 0700", d, got)
					}
				}
			}
			warned := strings.Contains(logs.String(), "mode tightened")
			if warned != tt.tightened {
				t.Errorf("warning logged = %v, want %v; log:\n%s", warned, tt.tightened, logs)
			}
		})
	}
}

func TestOpenRefuses(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, path string)
		opts    Options
		want    string
	}{
		{"directory", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}, Options{}, "directory"},
		{"not a bbolt file", func(t *testing.T, path string) {
			if err := os.WriteFile(path, bytes.Repeat([]byte("garbage!"), 4096), 0o600); err != nil {
				t.Fatal(err)
			}
		}, Options{}, "invalid"},
		{"someone else's bbolt file", func(t *testing.T, path string) {
			db := must(bolt.Open(path, 0o600, nil))(t)
			err := db.Update(func(tx *bolt.Tx) error {
				_, err := tx.CreateBucket([]byte("users"))
				return err
			})
			if err := errors.Join(err, db.Close()); err != nil {
				t.Fatal(err)
			}
		}, Options{}, `not a gateway data file: no "meta" bucket, found buckets ["users"]`},
		{"negative history limit", func(*testing.T, string) {}, Options{HistoryLimit: -1}, "negative option"},
		{"negative lock timeout", func(*testing.T, string) {}, Options{LockTimeout: -time.Second}, "negative option"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tempPath(t)
			tt.prepare(t, path)
			s, err := Open(path, tt.opts)
			if err == nil {
				_ = s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the path and %q", err, tt.want)
			}
		})
	}
	t.Run("empty path", func(t *testing.T) {
		if _, err := Open("", Options{}); err == nil {
			t.Error("Open of an empty path succeeded")
		}
	})
}

func TestLocked(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration
	}{
		{"short timeout", 300 * time.Millisecond},
		{"default timeout", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tempPath(t)
			first := openAt(t, path, Options{})
			want := tt.timeout
			if want == 0 {
				want = DefaultLockTimeout
			}
			start := time.Now()
			second, err := Open(path, Options{LockTimeout: tt.timeout})
			took := time.Since(start)
			if err == nil {
				_ = second.Close()
				t.Fatal("second Open of a held file succeeded")
			}
			if !errors.Is(err, store.ErrLocked) {
				t.Fatalf("error %q does not match %q", err, store.ErrLocked)
			}
			for _, s := range []string{path, "another gatewayd may be running"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			if took < want/2 || took > want+2*time.Second {
				t.Errorf("refused after %v, want about %v", took, want)
			}
			// The held store is unaffected, and the lock goes with Close.
			if _, err := first.PutMeta(t.Context(), "k", []byte("v"), store.NoRevisionCheck); err != nil {
				t.Fatal(err)
			}
			if err := first.Close(); err != nil {
				t.Fatal(err)
			}
			again := openAt(t, path, Options{LockTimeout: tt.timeout})
			if got := must(again.GetMeta(t.Context(), "k"))(t); string(got) != "v" {
				t.Errorf("meta after reopen = %q", got)
			}
		})
	}
}

// state is what TestReopen compares across a close and open.
type state struct {
	Revision   int64
	Topologies []store.Topology
	History    []store.Topology
	Objects    []store.Object
	Meta       []byte
	Audit      []store.AuditRecord
}

func readState(t *testing.T, s *Store) state {
	t.Helper()
	ctx := t.Context()
	var st state
	st.Revision = must(s.Revision(ctx))(t)
	var rev int64
	var err error
	if st.Topologies, rev, err = s.ListTopologies(ctx); err != nil || rev != st.Revision {
		t.Fatalf("listing topologies at %d (revision %d): %v", rev, st.Revision, err)
	}
	st.History = must(s.TopologyHistory(ctx, "web"))(t)
	st.Objects = must(s.ListObjects(ctx, store.KindAlias, ""))(t)
	st.Meta = must(s.GetMeta(ctx, "verifier"))(t)
	st.Audit = must(s.ListAudit(ctx, store.AuditFilter{}))(t)
	return st
}

func TestReopen(t *testing.T) {
	path := tempPath(t)
	s := openAt(t, path, Options{})
	ctx := t.Context()
	for i := range 5 {
		must(s.PutTopology(ctx, topo("web", fmt.Sprintf("web-%d", i)), store.NoRevisionCheck))(t)
		must(s.PutTopology(ctx, topo(fmt.Sprintf("t%d", i), "x"), 0))(t)
		must(s.PutObject(ctx, store.Object{Kind: store.KindAlias, Key: fmt.Sprintf("a%d", i), Value: []byte{byte(i)}}, 0))(t)
		must(s.AppendAudit(ctx, store.AuditRecord{Principal: "p", Method: fmt.Sprint(i)}))(t)
	}
	must(s.DeleteTopology(ctx, "t2", "tester", store.NoRevisionCheck))(t)
	if _, err := s.PutMeta(ctx, "verifier", []byte("v"), store.NoRevisionCheck); err != nil {
		t.Fatal(err)
	}
	before := readState(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, path, Options{})
	after := readState(t, s)
	if fmt.Sprintf("%+v", before) != fmt.Sprintf("%+v", after) {
		t.Errorf("state changed across reopen:\nbefore: %+v\nafter:  %+v", before, after)
	}
	// Revision and audit sequence continue where they were.
	next := must(s.PutTopology(ctx, topo("web", "again"), store.NoRevisionCheck))(t)
	if next.Revision != before.Revision+1 {
		t.Errorf("first revision after reopen = %d, want %d", next.Revision, before.Revision+1)
	}
	seq := must(s.AppendAudit(ctx, store.AuditRecord{Principal: "p"}))(t)
	if seq != before.Audit[0].Sequence+1 {
		t.Errorf("first audit sequence after reopen = %d, want %d", seq, before.Audit[0].Sequence+1)
	}
	if err := s.check(); err != nil {
		t.Errorf("consistency check: %v", err)
	}
}

func TestHistoryLimit(t *testing.T) {
	tests := []struct {
		name  string
		limit int
		puts  int
		// want: actions of the kept entries, newest first
		want []string
	}{
		{"limit 1", 1, 4, []string{"delete"}},
		{"limit 3", 3, 4, []string{"delete", "deploy", "deploy"}},
		{"limit above count", 10, 4, []string{"delete", "deploy", "deploy", "deploy", "deploy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openAt(t, tempPath(t), Options{HistoryLimit: tt.limit})
			ctx := t.Context()
			var revs []int64
			for i := range tt.puts {
				revs = append(revs, must(s.PutTopology(ctx, topo("web", fmt.Sprint(i)), store.NoRevisionCheck))(t).Revision)
			}
			revs = append(revs, must(s.DeleteTopology(ctx, "web", "tester", store.NoRevisionCheck))(t))
			hist := must(s.TopologyHistory(ctx, "web"))(t)
			var got []string
			for i, h := range hist {
				got = append(got, h.Action)
				if want := revs[len(revs)-1-i]; h.Revision != want {
					t.Errorf("entry %d at revision %d, want %d", i, h.Revision, want)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("history %q, want %q", got, tt.want)
			}
			for i, rev := range revs {
				_, err := s.GetTopologyRevision(ctx, "web", rev)
				kept := i >= len(revs)-tt.limit
				if kept && err != nil {
					t.Errorf("kept revision %d: %v", rev, err)
				}
				if !kept && !errors.Is(err, store.ErrNotFound) {
					t.Errorf("trimmed revision %d: got %v, want %v", rev, err, store.ErrNotFound)
				}
			}
		})
	}
	t.Run("lower limit on reopen", func(t *testing.T) {
		path := tempPath(t)
		s := openAt(t, path, Options{HistoryLimit: 10})
		for i := range 8 {
			must(s.PutTopology(t.Context(), topo("web", fmt.Sprint(i)), store.NoRevisionCheck))(t)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = openAt(t, path, Options{HistoryLimit: 2})
		must(s.PutTopology(t.Context(), topo("web", "last"), store.NoRevisionCheck))(t)
		if hist := must(s.TopologyHistory(t.Context(), "web"))(t); len(hist) != 2 || string(hist[0].Spec) != "last" {
			t.Errorf("history after a write with limit 2: %d entries, newest %q", len(hist), hist[0].Spec)
		}
	})
}

func TestAuditLimit(t *testing.T) {
	path := tempPath(t)
	s := openAt(t, path, Options{AuditLimit: 5})
	ctx := t.Context()
	for i := range 12 {
		must(s.AppendAudit(ctx, store.AuditRecord{Principal: "p", Method: fmt.Sprint(i)}))(t)
	}
	seqs := func(s *Store, f store.AuditFilter) string {
		var out []int64
		for _, r := range must(s.ListAudit(ctx, f))(t) {
			out = append(out, r.Sequence)
		}
		return fmt.Sprint(out)
	}
	tests := []struct {
		name string
		f    store.AuditFilter
		want string
	}{
		{"kept", store.AuditFilter{}, "[12 11 10 9 8]"},
		{"before", store.AuditFilter{Before: 10}, "[9 8]"},
		{"before trimmed", store.AuditFilter{Before: 8}, "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := seqs(s, tt.f); got != tt.want {
				t.Errorf("sequences %s, want %s", got, tt.want)
			}
		})
	}
	t.Run("lower limit on reopen", func(t *testing.T) {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s := openAt(t, path, Options{AuditLimit: 2})
		must(s.AppendAudit(ctx, store.AuditRecord{Principal: "p"}))(t)
		if got, want := seqs(s, store.AuditFilter{}), "[13 12]"; got != want {
			t.Errorf("sequences %s, want %s", got, want)
		}
	})
}

func TestBackup(t *testing.T) {
	s := openAt(t, tempPath(t), Options{})
	ctx := t.Context()
	want := must(s.PutTopology(ctx, topo("web", "spec"), 0))(t)
	must(s.PutObject(ctx, store.Object{Kind: store.KindAlias, Key: "a", Value: []byte("v")}, 0))(t)

	var buf bytes.Buffer
	if err := s.Backup(&buf); err != nil {
		t.Fatal(err)
	}
	// The store stays usable, and later writes are not in the backup.
	must(s.PutTopology(ctx, topo("web", "after"), store.NoRevisionCheck))(t)

	path := tempPath(t)
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	restored := openAt(t, path, Options{})
	if err := restored.check(); err != nil {
		t.Fatalf("backup fails the consistency check: %v", err)
	}
	got := must(restored.GetTopology(ctx, "web"))(t)
	if string(got.Spec) != "spec" || got.Revision != want.Revision {
		t.Errorf("restored topology %q@%d, want %q@%d", got.Spec, got.Revision, "spec", want.Revision)
	}
	if rev := must(restored.Revision(ctx))(t); rev != want.Revision+1 {
		t.Errorf("restored revision %d, want %d", rev, want.Revision+1)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Backup(&buf); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Backup after Close = %v, want %v", err, store.ErrClosed)
	}
}

// TestCloseDuringWrites closes the store under running writers: each call
// either succeeds or fails with ErrClosed, and what succeeded is kept.
func TestCloseDuringWrites(t *testing.T) {
	path := tempPath(t)
	s := openAt(t, path, Options{})
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		lastAck int64
		started = make(chan struct{}, 4)
	)
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				tp, err := s.PutTopology(context.Background(), topo(fmt.Sprintf("w%d", w), fmt.Sprint(i)), store.NoRevisionCheck)
				if i == 0 {
					started <- struct{}{} // whatever the outcome: Close must not wait for it
				}
				if errors.Is(err, store.ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				mu.Lock()
				lastAck = max(lastAck, tp.Revision)
				mu.Unlock()
			}
		})
	}
	for range 4 {
		<-started
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	s = openAt(t, path, Options{})
	if rev := must(s.Revision(t.Context()))(t); rev != lastAck {
		t.Errorf("revision after reopen %d, last acknowledged %d", rev, lastAck)
	}
}

func TestPath(t *testing.T) {
	path := tempPath(t)
	if got := openAt(t, path, Options{}).Path(); got != path {
		t.Errorf("Path() = %q, want %q", got, path)
	}
}
