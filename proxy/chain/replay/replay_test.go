package replay_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/securegw/gateway/proxy/chain/replay"
)

// clock is a settable clock.
type clock struct{ ns atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func TestSeen(t *testing.T) {
	clk := newClock()
	c := replay.New(3, clk)
	in := func(d time.Duration) time.Time { return clk.Now().Add(d) }
	steps := []struct {
		name    string
		advance time.Duration
		key     string
		valid   time.Duration
		replay  bool
		held    int
	}{
		{"first use", 0, "n1", time.Minute, false, 1},
		{"replayed", 0, "n1", time.Minute, true, 1},
		{"replayed with another validity", 0, "n1", time.Hour, true, 1},
		{"another nonce", 0, "n2", time.Minute, false, 2},
		{"already expired: never accepted", 0, "n-old", -time.Second, true, 2},
		{"expiring now: never accepted", 0, "n-now", 0, true, 2},
		{"third", 0, "n3", 2 * time.Minute, false, 3},
		{"full of valid keys: fails closed", 0, "n4", time.Minute, true, 3},
		{"n1 still a replay 59s later", 59 * time.Second, "n1", time.Minute, true, 3},
		{"n1 and n2 expired: forgotten, room again", 2 * time.Second, "n4", time.Minute, false, 2},
		{"n1 accepted again once expired", 0, "n1", time.Minute, false, 3},
		{"n1 replayed again", 0, "n1", time.Minute, true, 3},
		{"n3 still held", 0, "n3", time.Minute, true, 3},
	}
	for _, s := range steps {
		clk.advance(s.advance)
		if got := c.Seen(s.key, in(s.valid)); got != s.replay {
			t.Fatalf("%s: Seen(%s) = %v, want %v", s.name, s.key, got, s.replay)
		}
		if n := c.Len(); n != s.held {
			t.Fatalf("%s: %d keys held, want %d", s.name, n, s.held)
		}
	}
}

// Many goroutines offering the same nonces: each is accepted exactly once.
func TestSeenConcurrent(t *testing.T) {
	clk := newClock()
	c := replay.New(10_000, clk)
	until := clk.Now().Add(time.Minute)
	var accepted atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				if !c.Seen(fmt.Sprint("nonce-", i), until) {
					accepted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := accepted.Load(); n != 1000 {
		t.Fatalf("%d nonces accepted, want each of 1000 once", n)
	}
}

// Seen does not allocate for a replay, nor for a key once the ring slot
// and map are warm (O(1) work, no growth past the bound).
func TestBounded(t *testing.T) {
	clk := newClock()
	c := replay.New(100, clk)
	for i := range 10_000 {
		c.Seen(fmt.Sprint(i), clk.Now().Add(time.Millisecond))
		clk.advance(time.Millisecond)
	}
	if n := c.Len(); n > 100 {
		t.Fatalf("%d keys held, bound 100", n)
	}
	until := clk.Now().Add(time.Hour)
	c.Seen("k", until)
	if a := testing.AllocsPerRun(100, func() { c.Seen("k", until) }); a != 0 {
		t.Fatalf("a replay check allocates %v times", a)
	}
}

func BenchmarkSeen(b *testing.B) {
	c := replay.New(1<<16, nil)
	keys := make([]string, 1<<16)
	for i := range keys {
		keys[i] = fmt.Sprint("nonce-", i)
	}
	until := time.Now().Add(time.Hour)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Seen(keys[i&(1<<16-1)], until)
	}
}

// The ring grows to its bound as keys arrive, keeping their order: the
// oldest expire first after a growth, and a cache full of valid keys
// refuses new ones (fail closed).
func TestGrowsToTheBound(t *testing.T) {
	clk := newClock()
	c := replay.New(200, clk)
	start := clk.Now()
	for i := range 150 { // through growths 64 → 128 → 200
		if c.Seen(fmt.Sprint("a", i), start.Add(time.Duration(i+1)*time.Second)) {
			t.Fatalf("new key %d reported as seen", i)
		}
	}
	clk.advance(50 * time.Second) // the first 50 expire
	if c.Seen("b0", start.Add(time.Hour)) {
		t.Fatal("new key reported as seen")
	}
	if n := c.Len(); n != 101 {
		t.Fatalf("%d keys held after 50 expired, want 101", n)
	}
	if !c.Seen("a120", start.Add(time.Hour)) {
		t.Fatal("a valid key held across growths was not reported as seen")
	}
	for i := 1; c.Len() < 200; i++ {
		c.Seen(fmt.Sprint("b", i), start.Add(time.Hour))
	}
	if !c.Seen("one-too-many", start.Add(time.Hour)) {
		t.Fatal("a cache full of valid keys accepted a new one")
	}
}

// Keys expire whatever the order they were recorded in: a long-lived key
// recorded first does not keep the expired keys behind it, so a full cache
// whose keys have expired accepts new ones instead of refusing every
// request until the first key expires.
func TestExpiryOutOfInsertionOrder(t *testing.T) {
	clk := newClock()
	c := replay.New(3, clk)
	start := clk.Now()
	if c.Seen("long", start.Add(time.Hour)) || c.Seen("short1", start.Add(time.Second)) || c.Seen("short2", start.Add(time.Second)) {
		t.Fatal("a new key reported as seen")
	}
	clk.advance(2 * time.Second)
	if c.Seen("new1", start.Add(time.Minute)) || c.Seen("new2", start.Add(time.Minute)) {
		t.Fatal("the cache refused a new key while two of its three keys had expired")
	}
	if !c.Seen("long", start.Add(time.Hour)) || !c.Seen("new1", start.Add(time.Minute)) {
		t.Fatal("a valid key was forgotten")
	}
	if !c.Seen("new3", start.Add(time.Minute)) {
		t.Fatal("a cache full of valid keys accepted a new one (it must fail closed)")
	}
}
