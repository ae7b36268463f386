package daemon

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// entries lists what is under dir ("" when dir does not exist).
func entries(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		out = append(out, p)
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}

// A failed init says what is wrong, naming the path, and leaves nothing
// behind: no store, no certificates, no data dir it created.
func TestFailedInitCreatesNothing(t *testing.T) {
	emptySecret := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(emptySecret, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name        string
		existingDir bool
		secret      SecretSource
		generate    bool
		want        string
	}{
		{"generated secret into a missing directory", false, SecretSource{File: "/nonexistent-dir/sub/master"}, true, "directory /nonexistent-dir/sub does not exist"},
		{"missing secret file", false, SecretSource{File: "/nonexistent-dir/master"}, false, "/nonexistent-dir/master"},
		{"empty secret file, new data dir", false, SecretSource{File: emptySecret}, false, emptySecret},
		{"empty secret file, existing data dir", true, SecretSource{File: emptySecret}, false, emptySecret},
		{"no secret at all", true, SecretSource{}, false, "no master secret"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig(t)
			c.DataDir = filepath.Join(t.TempDir(), "data")
			if tc.existingDir {
				if err := os.Mkdir(c.DataDir, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			o := DefaultInitOptions(c)
			o.Secret, o.GenerateSecret = tc.secret, tc.generate
			err := Init(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			want := []string(nil)
			if tc.existingDir {
				want = []string{c.DataDir}
			}
			if got := entries(t, c.DataDir); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("left behind: %v", got)
			}
		})
	}
}

// serve on a data dir without a store says so and creates nothing.
func TestServeOnAnUninitializedDataDirCreatesNothing(t *testing.T) {
	for _, existing := range []bool{false, true} {
		c := testConfig(t)
		c.DataDir = filepath.Join(t.TempDir(), "data")
		want := "does not exist"
		if existing {
			if err := os.Mkdir(c.DataDir, 0o700); err != nil {
				t.Fatal(err)
			}
			want = "not initialized"
		}
		err := Serve(context.Background(), ServeOptions{Config: c, Secret: SecretSource{File: secretFile(t, testSecret)},
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "gatewayd init") {
			t.Fatalf("existing=%v: got %v, want %q and the way out", existing, err, want)
		}
		if got := entries(t, c.DataDir); len(got) > 1 {
			t.Errorf("existing=%v: left behind %v", existing, got)
		} else if !existing && len(got) != 0 {
			t.Errorf("created the data dir")
		}
	}
}
