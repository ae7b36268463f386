package replay_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/securegw/gateway/proxy/chain/replay"
)

// cluster stands for the store two gateways share: a key claimed once.
// (The etcd store's Claim is tested against real etcd members in
// store/etcd, and the two together through two gatewayd processes in
// server's etcd end-to-end test.)
type cluster struct{ c *replay.Cache }

func (c cluster) Claim(_ context.Context, key string, until time.Time) (bool, error) {
	return !c.c.Seen(key, until), nil
}

// failing is a store that cannot record anything (no quorum).
type failing struct{ calls int }

func (f *failing) Claim(_ context.Context, _ string, _ time.Time) (bool, error) {
	f.calls++
	return false, errors.New("store unavailable: no answer within the request timeout")
}

func TestSharedAcceptsOncePerCluster(t *testing.T) {
	clk := newClock()
	store := cluster{replay.New(1024, clk)}
	a := replay.NewShared(replay.New(1024, clk), store, time.Second, nil)
	b := replay.NewShared(replay.New(1024, clk), store, time.Second, nil)
	until := clk.Now().Add(time.Minute)
	steps := []struct {
		name   string
		gw     *replay.Shared
		key    string
		replay bool
	}{
		{"first use at a", a, "n1", false},
		{"replayed to b", b, "n1", true},
		{"replayed to a", a, "n1", true},
		{"another nonce at b", b, "n2", false},
		{"that one replayed to a", a, "n2", true},
	}
	for _, st := range steps {
		if got := st.gw.Seen(st.key, until); got != st.replay {
			t.Fatalf("%s: Seen = %v, want %v", st.name, got, st.replay)
		}
	}
}

// A store that fails makes every new key a replay (refused), says so in
// the log without the key, and a replay to the same gateway is still
// refused without asking the store.
func TestSharedFailsClosed(t *testing.T) {
	clk := newClock()
	var logs bytes.Buffer
	f := &failing{}
	s := replay.NewShared(replay.New(1024, clk), f, time.Second, slog.New(slog.NewTextHandler(&logs, nil)))
	until := clk.Now().Add(time.Minute)
	if !s.Seen("nonce-secret-ish", until) {
		t.Fatal("a key the store did not record was accepted")
	}
	if !strings.Contains(logs.String(), "refused") || strings.Contains(logs.String(), "nonce-secret-ish") {
		t.Fatalf("log: %q", logs.String())
	}
	if !s.Seen("nonce-secret-ish", until) || f.calls != 1 {
		t.Fatalf("a local replay went to the store (%d calls)", f.calls)
	}
}

// A store that fails every claim (etcd down) is logged once per
// warnEvery, not once per refused request; each is still refused.
func TestSharedFailingStoreLogsOnce(t *testing.T) {
	clk := newClock()
	var logs bytes.Buffer
	s := replay.NewShared(replay.New(1024, clk), &failing{}, time.Second, slog.New(slog.NewTextHandler(&logs, nil)))
	until := clk.Now().Add(time.Minute)
	for i := range 50 {
		if !s.Seen(fmt.Sprint("nonce", i), until) {
			t.Fatalf("key %d accepted by a store that recorded nothing", i)
		}
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Fatalf("%d warnings for 50 refusals in a burst, want 1:\n%s", n, logs.String())
	}
}
