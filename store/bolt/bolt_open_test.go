package bolt

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/securegw/gateway/store"
)

// Opening a current data file must not write to it: a daemon that refuses
// to start (wrong master secret, bad config) leaves the file as it was.
func TestOpenDoesNotRewriteACurrentFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutTopology(context.Background(), store.Topology{Name: "t", Spec: []byte(`{}`)}, store.NoRevisionCheck); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		s, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatal("opening and closing the store rewrote the file")
	}
}
