package etcd

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/securegw/gateway/internal/etcdtest"
	"github.com/securegw/gateway/store"
)

// A member that hangs (SIGSTOP: its connections stay up, nothing answers)
// costs the deploy made when it hung an election and a try or two; the
// deploys after it cost nothing: the store closes its connections to the
// member, so calls and the watch stream go to the others. Once the member
// answers again it is used again. Before, the client kept sending every
// third try (and the watch) to it until gRPC's keepalive gave up on it, 10 s
// and more, and a deploy could run out of its request timeout.
func TestHungMemberIsLeftOut(t *testing.T) {
	c := etcdtest.Start(t, 3)
	s, err := Open(t.Context(), Options{Endpoints: c.Endpoints(), Prefix: "/hung/", RequestTimeout: 8 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	attempt := s.attemptTimeout()
	seen := followRevisions(t, s)
	// What else a gateway keeps open: its registration's lease stream.
	reg := s.Register(Member{ID: "gw"}, 5*time.Second)
	t.Cleanup(reg.Close)

	k := 0
	// deploy does what a deploy through a gateway does with the store and
	// returns how long it took.
	deploy := func(t *testing.T) time.Duration {
		t.Helper()
		k++
		start := time.Now()
		ctx := t.Context()
		if _, err := s.Revision(ctx); err != nil {
			t.Fatalf("deploy %d: revision: %v", k, err)
		}
		if _, err := s.GetTopology(ctx, "web"); err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deploy %d: get: %v", k, err)
		}
		rec, err := s.PutTopologyIf(ctx, store.Topology{Name: "web", Spec: fmt.Appendf(nil, `{"v":%d}`, k)}, store.NoRevisionCheck,
			func(ctx context.Context, r store.Reader) error {
				_, err := r.ListObjects(ctx, "alias", "web/")
				return err
			})
		if err != nil {
			t.Fatalf("deploy %d: put: %v", k, err)
		}
		if _, err := s.AppendAudit(ctx, store.AuditRecord{Time: time.Now(), Principal: "admin", Method: "Deploy", Outcome: "ok"}); err != nil {
			t.Fatalf("deploy %d: audit: %v", k, err)
		}
		deadline := time.After(10 * time.Second)
		for rev := int64(0); rev < rec.Revision; {
			select {
			case rev = <-seen:
			case <-deadline:
				t.Fatalf("deploy %d: the watch did not deliver revision %d within 10 s", k, rec.Revision)
			}
		}
		return time.Since(start)
	}

	cli := c.Client(t)
	for _, tc := range []struct {
		name   string
		victim func(t *testing.T) int
	}{
		{"the leader", func(t *testing.T) int { return c.Leader(t) }},
		{"a follower", func(t *testing.T) int { return (c.Leader(t) + 1) % 3 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 3 {
				deploy(t)
			}
			victim := tc.victim(t)
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			st, err := cli.Status(ctx, c.Endpoints()[victim])
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			c.Pause(victim)
			paused := true
			t.Cleanup(func() {
				if paused {
					c.Resume(victim)
				}
			})
			// An election (up to two election timeouts of 0.5-1 s in
			// etcdtest), a try on the hung member and the status round
			// that finds it out, with room for a loaded machine.
			if d := deploy(t); d > 5*time.Second {
				t.Errorf("the deploy right after member %d hung took %s", victim, d.Round(time.Millisecond))
			}
			for range 10 {
				// A try that reached the hung member would cost a whole
				// attempt timeout, and a watch stuck on it the watcher's
				// probe interval.
				if d := deploy(t); d >= attempt {
					t.Errorf("deploy %d, with member %d left out, took %s (a try timed out on it, or the watch was stuck on it)",
						k, victim, d.Round(time.Millisecond))
				}
			}
			c.Resume(victim)
			paused = false
			if err := c.WaitHealthy(30 * time.Second); err != nil {
				t.Fatal(err)
			}
			// Used again: the client's calls reach it.
			for deadline := time.Now().Add(10 * time.Second); ; {
				resp, err := s.Client().Get(t.Context(), "probe")
				if err == nil && resp.Header.MemberId == st.Header.MemberId {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("member %d answers again but the store's calls do not reach it", victim)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// followRevisions watches s, watching again after an error as the
// reconciler does, and sends every revision it sees.
func followRevisions(t *testing.T, s *Store) <-chan int64 {
	seen := make(chan int64, 1024)
	go func() {
		var last int64
		for t.Context().Err() == nil {
			ch, err := s.Watch(t.Context(), last)
			if err == nil {
				for b := range ch {
					if b.Err == nil {
						last = b.Revision
						seen <- b.Revision
					}
				}
			}
			select {
			case <-t.Context().Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return seen
}

// The connections to a member are found by the address the client dials
// for its endpoint, which is how clientv3 translates endpoints.
func TestDialAddress(t *testing.T) {
	for _, tc := range []struct{ endpoint, want string }{
		{"127.0.0.1:2379", "127.0.0.1:2379"},
		{"http://127.0.0.1:2379", "127.0.0.1:2379"},
		{"https://etcd-1.example:2379", "etcd-1.example:2379"},
		{"unix:///run/etcd.sock", "unix:///run/etcd.sock"},
		{"unixs:///run/etcd.sock", "unix:///run/etcd.sock"},
		{"unix://etcd.sock", "unix:etcd.sock"},
		{"unix:etcd.sock", "unix:etcd.sock"},
	} {
		if got := dialAddress(tc.endpoint); got != tc.want {
			t.Errorf("dialAddress(%q) = %q, want %q", tc.endpoint, got, tc.want)
		}
	}
}
