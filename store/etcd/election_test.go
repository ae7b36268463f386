package etcd

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/securegw/gateway/internal/etcdtest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Calls made while the leadership moves between members are answered:
// etcd answers a read caught by a leader change with "leader changed",
// and the store tries it again (a member back from a pause, or a
// restarted one, calls such an election) instead of failing an operator's
// command with Unavailable.
func TestCallsRideOutLeaderChanges(t *testing.T) {
	c := etcdtest.Start(t, 3)
	s, err := Open(t.Context(), Options{Endpoints: c.Endpoints(), Prefix: "/election/", RequestTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	stop := make(chan struct{})
	type result struct {
		calls int
		errs  []error
	}
	done := make(chan result, 5)
	for range 4 {
		go func() {
			var r result
			for {
				select {
				case <-stop:
					done <- r
					return
				default:
				}
				_, _, err := s.ListTopologies(t.Context())
				r.calls++
				if err != nil {
					r.errs = append(r.errs, err)
				}
			}
		}()
	}

	// Replay-cache claims, each of a new bucket: a lease grant, then a
	// guarded write.
	go func() {
		var r result
		start := time.Now()
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- r
				return
			default:
			}
			_, err := s.Claim(t.Context(), fmt.Sprint("k", i), start.Add(time.Duration(i+2)*claimBucket))
			r.calls++
			if err != nil {
				r.errs = append(r.errs, err)
			}
		}
	}()

	cli := c.Client(t)
	for move := range 10 {
		from := c.Leader(t)
		to := (from + 1) % 3
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		st, err := cli.Status(ctx, c.Endpoints()[to])
		if err == nil {
			var lc *clientv3.Client
			lc, err = clientv3.New(clientv3.Config{Endpoints: c.Endpoints()[from : from+1], DialTimeout: 5 * time.Second})
			if err == nil {
				_, err = lc.MoveLeader(ctx, st.Header.MemberId)
				lc.Close()
			}
		}
		cancel()
		if err != nil {
			t.Fatalf("moving the leader (%d): %v", move, err)
		}
	}
	close(stop)
	var calls int
	var errs []error
	for range 5 {
		r := <-done
		calls += r.calls
		errs = append(errs, r.errs...)
	}
	t.Logf("%d calls during 10 leader changes", calls)
	if len(errs) > 0 {
		t.Fatalf("%d of %d calls failed while the leader moved; first: %v", len(errs), calls, errs[0])
	}
}
