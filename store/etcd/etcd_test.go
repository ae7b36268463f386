package etcd

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/securegw/gateway/internal/etcdtest"
	"github.com/securegw/gateway/store"
	"github.com/securegw/gateway/store/storetest"
)

// cluster is one three-member etcd for the package's tests; each store
// gets its own prefix, so each starts empty.
var cluster *etcdtest.Cluster

func TestMain(m *testing.M) {
	c, err := etcdtest.StartCluster(3)
	if err != nil {
		fmt.Fprintln(os.Stderr, "store/etcd tests:", err)
		os.Exit(1)
	}
	cluster = c
	code := m.Run()
	c.Stop()
	os.Exit(code)
}

var prefixes atomic.Int64

// freshPrefix returns a prefix no other store of this run uses.
func freshPrefix() string { return fmt.Sprintf("/test%d/", prefixes.Add(1)) }

func openTest(t *testing.T, opts Options) *Store {
	t.Helper()
	opts.Endpoints = cluster.Endpoints()
	if opts.Prefix == "" {
		opts.Prefix = freshPrefix()
	}
	s, err := Open(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
			t.Error(err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t, Options{}) })
}

func TestWatchCompaction(t *testing.T) {
	storetest.RunWatchCompaction(t, func(t *testing.T, retention int) store.Store {
		return openTest(t, Options{WatchRetention: retention})
	})
}
