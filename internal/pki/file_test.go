//go:build unix

package pki

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestWriteFileAtomic(t *testing.T) {
	// A restrictive umask must not change the requested mode.
	old := syscall.Umask(0o077)
	t.Cleanup(func() { syscall.Umask(old) })

	tests := []struct {
		name     string
		existing []byte
		perm     os.FileMode
	}{
		{"new key file", nil, 0o600},
		{"replace existing", []byte("old contents that are longer than the new ones"), 0o600},
		{"public file", nil, 0o644},
		{"tighten mode", []byte("was world readable"), 0o600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "key.pem")
			if tt.existing != nil {
				if err := os.WriteFile(path, tt.existing, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			data := []byte("new contents")
			if err := WriteFileAtomic(path, data, tt.perm); err != nil {
				t.Fatalf("WriteFileAtomic: %v", err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(data) {
				t.Fatalf("contents %q, want %q", got, data)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != tt.perm {
				t.Fatalf("mode %v, want %v", fi.Mode().Perm(), tt.perm)
			}
			assertOnlyFile(t, dir, "key.pem")
		})
	}
}

func TestWriteFileAtomicFailure(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
	}{
		{"missing directory", filepath.Join(dir, "missing", "key.pem")},
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	tests = append(tests, struct{ name, path string }{"rename over a directory", filepath.Join(dir, "sub")})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := WriteFileAtomic(tt.path, []byte("x"), 0o600); err == nil {
				t.Fatal("succeeded, want an error")
			}
			assertOnlyFile(t, dir, "sub")
		})
	}
}

// assertOnlyFile fails unless dir holds exactly the entry name (no
// temporary files left behind).
func assertOnlyFile(t *testing.T, dir, name string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != name {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("directory holds %v, want only %s", names, name)
	}
}
