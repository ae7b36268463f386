package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
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
		{"failing migration", failing, "migrating schema from version 1 to 2: disk says no", 0, 1, "old"},
		{"migration runs", fake, "", 1, 2, "migrated-old"},
		{"migration runs once", fake, "", 1, 2, "migrated-old"},
		{"older binary refused", migrations, "schema version 2", 1, 2, "migrated-old"},
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
