package revocation_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/securegw/gateway/proxy/chain/revocation"
)

func TestSet(t *testing.T) {
	var s revocation.Set
	if s.Revoked("a") || s.Len() != 0 {
		t.Fatal("the zero set revokes")
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.Revoke("a", now.Add(time.Hour))
	s.Revoke("forever", time.Time{})
	s.Revoke("gone", now.Add(-time.Second))
	for id, want := range map[string]bool{"a": true, "forever": true, "gone": true, "b": false, "": false} {
		if s.Revoked(id) != want {
			t.Errorf("Revoked(%q) = %v", id, !want)
		}
	}
	s.Prune(now)
	if s.Revoked("gone") || !s.Revoked("a") || !s.Revoked("forever") || s.Len() != 2 {
		t.Fatalf("after Prune: gone %v, a %v, forever %v, len %d", s.Revoked("gone"), s.Revoked("a"), s.Revoked("forever"), s.Len())
	}
	src := map[string]time.Time{"x": {}}
	s.Replace(src)
	src["y"] = time.Time{} // the set keeps its own copy
	if s.Revoked("a") || !s.Revoked("x") || s.Revoked("y") || s.Len() != 1 {
		t.Fatal("Replace did not make the given ids the whole set")
	}
	s.Replace(nil)
	if s.Revoked("x") || s.Len() != 0 {
		t.Fatal("Replace(nil) did not empty the set")
	}
}

// Readers never block and never see a torn set while writers swap
// snapshots; a lookup does not allocate.
func TestConcurrentReaders(t *testing.T) {
	var s revocation.Set
	s.Revoke("always", time.Time{})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if !s.Revoked("always") {
					t.Error("a reader saw a set without a revocation made before it started")
					return
				}
			}
		}()
	}
	for i := range 500 {
		s.Revoke(fmt.Sprint("id-", i), time.Time{})
	}
	close(stop)
	wg.Wait()
	if s.Len() != 501 {
		t.Fatalf("len %d", s.Len())
	}
	if a := testing.AllocsPerRun(100, func() { s.Revoked("id-7") }); a != 0 {
		t.Fatalf("Revoked allocates %v times", a)
	}
}
