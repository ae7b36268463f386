package bolt

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/securegw/gateway/store"
)

// benchSpec is about the size of a compiled topology with a few services.
var benchSpec = []byte(`{"name":"bench","providers":[` + strings.Repeat(`{"role":"authentication","name":"ShiroProvider","enabled":true},`, 15) + `{}]}`)

const benchTopologies = 10000

// seedTopologies writes n topologies in one transaction, through the same
// code as PutTopology, so that a benchmark does not wait for n fsyncs.
func seedTopologies(b *testing.B, s *Store, n int) {
	b.Helper()
	err := s.db.Update(func(tx *bolt.Tx) error {
		for i := range n {
			t := store.Topology{Name: fmt.Sprintf("topology-%05d", i), Spec: benchSpec, UpdatedBy: "bench", Action: actionDeploy}
			if _, err := putTopologyTx(tx, t, 0, s.now(), s.opts); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

func benchOpen(b *testing.B, path string) *Store {
	b.Helper()
	s, err := Open(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// BenchmarkPutTopology measures one acknowledged deploy: a read-write
// transaction with history and fsync. It is the floor of deploy latency.
func BenchmarkPutTopology(b *testing.B) {
	s := benchOpen(b, filepath.Join(b.TempDir(), "gateway.db"))
	seedTopologies(b, s, 100)
	ctx := b.Context()
	b.SetBytes(int64(len(benchSpec)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		t := store.Topology{Name: fmt.Sprintf("topology-%05d", i%100), Spec: benchSpec, UpdatedBy: "bench"}
		if _, err := s.PutTopology(ctx, t, store.NoRevisionCheck); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkListTopologies reads 10k topologies, as a routing table rebuild
// at start does.
func BenchmarkListTopologies(b *testing.B) {
	s := benchOpen(b, filepath.Join(b.TempDir(), "gateway.db"))
	seedTopologies(b, s, benchTopologies)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		list, _, err := s.ListTopologies(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(list) != benchTopologies {
			b.Fatalf("listed %d topologies", len(list))
		}
	}
}

// BenchmarkOpen opens (and closes) a store of 10k topologies: lock, mmap,
// schema check in one read-write transaction.
func BenchmarkOpen(b *testing.B) {
	path := filepath.Join(b.TempDir(), "gateway.db")
	s, err := Open(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	seedTopologies(b, s, benchTopologies)
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s, err := Open(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
