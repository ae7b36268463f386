package etcd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/securegw/gateway/store"
)

// Two gateways on one prefix share one replay cache: a key either claims
// first is a replay for both; another prefix is another cluster.
func TestClaimOncePerCluster(t *testing.T) {
	prefix := freshPrefix()
	a := openTest(t, Options{Prefix: prefix})
	b := openTest(t, Options{Prefix: prefix})
	other := openTest(t, Options{})
	until := time.Now().Add(30 * time.Second)

	steps := []struct {
		name string
		s    *Store
		key  string
		want bool
	}{
		{"first use at a", a, "fedsig:n1", true},
		{"replayed to b", b, "fedsig:n1", false},
		{"replayed to a", a, "fedsig:n1", false},
		{"another key at b", b, "fedsig:n2", true},
		{"the same key in another cluster", other, "fedsig:n1", true},
	}
	for _, st := range steps {
		got, err := st.s.Claim(t.Context(), st.key, until)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got != st.want {
			t.Fatalf("%s: Claim = %v, want %v", st.name, got, st.want)
		}
	}

	// Stored as digests (the value says which call wrote it, not the key)
	// under leases that end soon after until.
	cli := cluster.Client(t)
	resp, err := cli.Get(t.Context(), prefix+prefixClaim, clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 2 {
		t.Fatalf("%d claim keys stored, want 2", len(resp.Kvs))
	}
	for _, kv := range resp.Kvs {
		if strings.Contains(string(kv.Key), "n1") || strings.Contains(string(kv.Key), "fedsig") ||
			strings.Contains(string(kv.Value), "n1") || strings.Contains(string(kv.Value), "fedsig") {
			t.Errorf("claim stored as given: %q = %q", kv.Key, kv.Value)
		}
		if kv.Lease == 0 {
			t.Fatalf("claim %q has no lease", kv.Key)
		}
		ttl, err := cli.TimeToLive(t.Context(), clientv3.LeaseID(kv.Lease))
		if err != nil {
			t.Fatal(err)
		}
		if left := time.Duration(ttl.TTL) * time.Second; left < time.Until(until)-time.Second || left > time.Until(until)+claimBucket+claimSlack+time.Second {
			t.Errorf("claim's lease ends in %v; the key is valid for %v", left, time.Until(until).Round(time.Second))
		}
	}
}

// Gateways racing for one key: exactly one claim wins.
func TestClaimRace(t *testing.T) {
	prefix := freshPrefix()
	stores := []*Store{openTest(t, Options{Prefix: prefix}), openTest(t, Options{Prefix: prefix})}
	until := time.Now().Add(20 * time.Second)
	var wins, fails atomic.Int32
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := stores[i%2].Claim(t.Context(), "kerberos:digest", until)
			switch {
			case err != nil:
				fails.Add(1)
				t.Error(err)
			case ok:
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d claims won, want exactly 1", wins.Load())
	}
}

// A key already past its validity is never recorded; a closed store
// answers an error (its callers refuse).
func TestClaimBadInput(t *testing.T) {
	prefix := freshPrefix()
	s := openTest(t, Options{Prefix: prefix})
	ok, err := s.Claim(t.Context(), "fedsig:old", time.Now().Add(-time.Second))
	if err != nil || ok {
		t.Fatalf("expired key: Claim = %v, %v; want false, nil", ok, err)
	}
	resp, err := cluster.Client(t).Get(t.Context(), prefix+prefixClaim, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Count != 0 {
		t.Fatalf("an expired key was stored (%d keys)", resp.Count)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ok, err = s.Claim(t.Context(), "fedsig:new", time.Now().Add(time.Minute))
	if !errors.Is(err, store.ErrClosed) || ok {
		t.Fatalf("closed store: Claim = %v, %v; want false, ErrClosed", ok, err)
	}
}

// BenchmarkClaim is what a new nonce costs a gateway with
// proxy.replay_cache_scope: cluster: one transaction on the test cluster
// (three members on loopback, each fsyncing its log).
func BenchmarkClaim(b *testing.B) {
	s, err := Open(b.Context(), Options{Endpoints: cluster.Endpoints(), Prefix: freshPrefix()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	until := time.Now().Add(time.Minute)
	i := 0
	for b.Loop() {
		i++
		if ok, err := s.Claim(b.Context(), fmt.Sprintf("fedsig:%d", i), until); err != nil || !ok {
			b.Fatalf("claim %d: %v %v", i, ok, err)
		}
	}
}

// A try whose write committed but whose answer was lost is sent again
// (attempts): finding the key holding this call's own value, the claim is
// still this call's, not a replay; another call's value is a replay.
func TestClaimRetriedWriteIsOurs(t *testing.T) {
	s := openTest(t, Options{})
	lease, err := s.claimLease(t.Context(), time.Now(), time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	mine, other := s.claimValue(), s.claimValue()
	if mine == other {
		t.Fatalf("two claims write the same value %q", mine)
	}
	for _, st := range []struct {
		name, value string
		want        bool
	}{
		{"first try", mine, true},
		{"the same call's try again (the first committed)", mine, true},
		{"another call", other, false},
	} {
		got, err := s.claimKey(t.Context(), prefixClaim+"k", st.value, lease)
		if err != nil || got != st.want {
			t.Fatalf("%s: claimKey = %v, %v; want %v", st.name, got, err, st.want)
		}
	}
}

// A bucket's lease being granted (etcd slow to answer) holds up neither
// the claims of buckets whose lease is known nor, beyond their own
// deadline, the claims waiting for that grant.
func TestClaimSlowGrantStallsNothingElse(t *testing.T) {
	s := openTest(t, Options{})
	now := time.Now()
	known := now.Add(time.Minute)
	if ok, err := s.Claim(t.Context(), "warm", known); err != nil || !ok {
		t.Fatalf("first claim: %v, %v", ok, err)
	}
	release := make(chan struct{})
	granting := make(chan struct{}, 1)
	s.hook = func(point string) bool {
		if point == "claim-grant" {
			select {
			case granting <- struct{}{}:
			default:
			}
			<-release
		}
		return false
	}
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	slow := make(chan error, 1)
	go func() {
		_, err := s.Claim(t.Context(), "new bucket", now.Add(5*time.Minute))
		slow <- err
	}()
	<-granting
	done := make(chan error, 1)
	go func() {
		ok, err := s.Claim(t.Context(), "known bucket", known)
		if err == nil && !ok {
			err = errors.New("refused")
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("claim of a known bucket: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("a claim of a bucket whose lease is known waited for another bucket's grant")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := s.Claim(ctx, "same new bucket", now.Add(5*time.Minute)); err == nil {
		t.Fatal("a claim waiting for a grant that does not end succeeded")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("a claim waited %v for another claim's grant, past its own deadline", d)
	}
	close(release)
	if err := <-slow; err != nil {
		t.Fatalf("the slow grant's claim: %v", err)
	}
}

// A lease etcd no longer has (revoked, a restored cluster) is replaced:
// the claim succeeds.
func TestClaimLeaseGone(t *testing.T) {
	prefix := freshPrefix()
	s := openTest(t, Options{Prefix: prefix})
	until := time.Now().Add(time.Minute)
	if ok, err := s.Claim(t.Context(), "a", until); err != nil || !ok {
		t.Fatalf("claim a: %v, %v", ok, err)
	}
	cli := cluster.Client(t)
	resp, err := cli.Get(t.Context(), prefix+prefixClaim, clientv3.WithPrefix())
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("claim keys: %v, %v", resp, err)
	}
	if _, err := cli.Revoke(t.Context(), clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Claim(t.Context(), "b", until); err != nil || !ok {
		t.Fatalf("claim b after its bucket's lease was revoked: %v, %v", ok, err)
	}
}
