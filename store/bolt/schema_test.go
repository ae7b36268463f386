package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/securegw/gateway/store"
)

func TestSchemaTooNew(t *testing.T) {
	path := tempPath(t)
	s := openAt(t, path, Options{})
	must(s.PutTopology(t.Context(), topo("web", "x"), 0))(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db := must(bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second}))(t)
	if err := errors.Join(db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchema, u64key(99))
	}), db.Close()); err != nil {
		t.Fatal(err)
	}

	_, err := Open(path, Options{})
	if !errors.Is(err, ErrUnsupportedSchema) {
		t.Fatalf("Open = %v, want %v", err, ErrUnsupportedSchema)
	}
	want := fmt.Sprintf("schema version 99, this gatewayd knows versions up to %d", len(migrations))
	for _, s := range []string{path, want, "newer gatewayd"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	if v, _, _ := rawState(t, path); v != 99 {
		t.Errorf("refused open rewrote schema version to %d", v)
	}
}

func TestMigrationHook(t *testing.T) {
	path := tempPath(t)
	s := openAt(t, path, Options{})
	must(s.PutObject(t.Context(), store.Object{Kind: store.KindAlias, Key: "a", Value: []byte("old")}, 0))(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := rawState(t, path); v != uint64(len(migrations)) {
		t.Fatalf("schema version %d, want %d", v, len(migrations))
	}

	cur := uint64(len(migrations))
	failing := append(append([]migration{}, migrations...), func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketUserMeta).Put([]byte("half"), []byte("done")); err != nil {
			return err
		}
		return errors.New("disk says no")
	})
	runs := 0
	fake := append(append([]migration{}, migrations...), func(tx *bolt.Tx) error {
		runs++
		// A data migration: rewrite every alias value.
		b := tx.Bucket(bucketObjects).Bucket([]byte(store.KindAlias))
		return b.ForEach(func(k, v []byte) error {
			rec, err := decodeObject(v)
			if err != nil {
				return err
			}
			rec.Value = append([]byte("migrated-"), rec.Value...)
			return putObjectRecord(b, string(k), rec)
		})
	})
	steps := []struct {
		name     string
		migs     []migration
		wantErr  string
		wantRuns int
		schema   uint64
		value    string
	}{
		{"failing migration", failing, fmt.Sprintf("migrating schema from version %d to %d: disk says no", cur, cur+1), 0, cur, "old"},
		{"migration runs", fake, "", 1, cur + 1, "migrated-old"},
		{"migration runs once", fake, "", 1, cur + 1, "migrated-old"},
		{"older binary refused", migrations, fmt.Sprintf("schema version %d", cur+1), 1, cur + 1, "migrated-old"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			s, err := open(path, Options{}, st.migs)
			switch {
			case st.wantErr == "" && err != nil:
				t.Fatal(err)
			case st.wantErr != "" && (err == nil || !strings.Contains(err.Error(), st.wantErr)):
				t.Fatalf("open = %v, want an error saying %q", err, st.wantErr)
			case err == nil:
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			}
			if runs != st.wantRuns {
				t.Errorf("migration ran %d times, want %d", runs, st.wantRuns)
			}
			schema, value, half := rawState(t, path)
			if schema != st.schema || value != st.value || half {
				t.Errorf("file has schema %d, alias %q, half-migration marker %v; want %d, %q, false",
					schema, value, half, st.schema, st.value)
			}
		})
	}
}

// rawState reads a closed data file directly: its schema version, the
// value of alias "a", and whether meta "half" exists.
func rawState(t *testing.T, path string) (schema uint64, alias string, half bool) {
	t.Helper()
	db := must(bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true}))(t)
	defer db.Close()
	err := db.View(func(tx *bolt.Tx) error {
		schema = binary.BigEndian.Uint64(tx.Bucket(bucketMeta).Get(keySchema))
		half = tx.Bucket(bucketUserMeta).Get([]byte("half")) != nil
		v := tx.Bucket(bucketObjects).Bucket([]byte(store.KindAlias)).Get([]byte("a"))
		if v == nil {
			return nil
		}
		rec, err := decodeObject(v)
		alias = string(rec.Value)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return schema, alias, half
}

// TestOpenV1File checks that a data file of schema version 1 (before the
// change log and meta revisions) opens: its data is kept, meta values get
// a revision for compare-and-set, and watching starts at its revision.
func TestOpenV1File(t *testing.T) {
	path := tempPath(t)
	s, err := open(path, Options{}, migrations[:1])
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Write what a version 1 gatewayd wrote: raw meta values, a topology,
	// revision 2.
	db := must(bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second}))(t)
	err = db.Update(func(tx *bolt.Tx) error {
		data, err := encodeTopology(topologyRecord{Name: "web", Spec: []byte("spec"), Revision: 1, CreateRevision: 1, Action: actionDeploy})
		if err != nil {
			return err
		}
		return errors.Join(
			tx.Bucket(bucketTopologies).Put([]byte("web"), data),
			tx.Bucket(bucketUserMeta).Put([]byte("verifier"), []byte("v1-verifier")),
			tx.Bucket(bucketUserMeta).Put([]byte("empty"), []byte{}),
			tx.Bucket(bucketMeta).Put(keyRevision, u64key(2)),
		)
	})
	if err := errors.Join(err, db.Close()); err != nil {
		t.Fatal(err)
	}

	lg, logs := logBuffer()
	s = openAt(t, path, Options{Logger: lg})
	if !strings.Contains(logs.String(), "from=1 to=2") {
		t.Errorf("no migration logged: %s", logs)
	}
	ctx := t.Context()
	if got := must(s.GetTopology(ctx, "web"))(t); string(got.Spec) != "spec" {
		t.Errorf("topology spec %q after migration", got.Spec)
	}
	for key, want := range map[string]string{"verifier": "v1-verifier", "empty": ""} {
		v, rev, err := s.GetMetaRevision(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if string(v) != want || rev != 2 {
			t.Errorf("meta %q = %q at revision %d, want %q at 2", key, v, rev, want)
		}
	}
	_, err = s.PutMeta(ctx, "verifier", []byte("x"), 1)
	if !errors.Is(err, store.ErrRevisionMismatch) {
		t.Errorf("PutMeta with a stale revision: %v", err)
	}
	if _, err := s.Watch(ctx, 1); !errors.Is(err, store.ErrCompacted) {
		t.Errorf("Watch from before the migration: %v, want ErrCompacted", err)
	}
	ch := must(s.Watch(ctx, 2))(t)
	rev := must(s.PutMeta(ctx, "verifier", []byte("v2-verifier"), 2))(t)
	select {
	case b := <-ch:
		want := []store.Change{{Kind: store.KindMeta, Key: "verifier"}}
		if b.Revision != rev || rev != 3 || !slices.Equal(b.Changes, want) {
			t.Errorf("batch %+v, want revision 3 with %+v", b, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no batch for a write after the migration")
	}
}
