package gctune

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func noEnv(string) string { return "" }

// restore puts Go's defaults back after a test changed the process's collector.
func restore(t *testing.T) {
	t.Cleanup(func() {
		Apply(Settings{GCPercent: 100}, noEnv)
	})
}

func readUint(t *testing.T, name string) uint64 {
	t.Helper()
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		t.Fatalf("metric %s unsupported", name)
	}
	return s[0].Value.Uint64()
}

func TestPercentFor(t *testing.T) {
	for _, c := range []struct {
		name    string
		percent int
		min     int64
		live    uint64
		want    int
	}{
		{"no cycle yet", 100, 64 << 20, 0, 100},
		{"small heap lifted to the floor", 100, 64 << 20, 4 << 20, 1500},
		{"heap at the floor", 100, 64 << 20, 64 << 20, 100},
		{"large heap keeps gc_percent", 100, 64 << 20, 200 << 20, 100},
		{"lift below gc_percent", 400, 64 << 20, 32 << 20, 400},
		{"nearly empty heap is bounded", 100, 1 << 40, 1, maxPercent},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := percentFor(c.percent, c.min, c.live); got != c.want {
				t.Errorf("percentFor(%d, %d, %d) = %d, want %d", c.percent, c.min, c.live, got, c.want)
			}
		})
	}
}

func TestApplySetsTheCollector(t *testing.T) {
	restore(t)
	a := Apply(Settings{GCPercent: 150, MemoryLimit: 512 << 20}, noEnv)
	if a.GCPercentEnv || a.MemoryLimitEnv {
		t.Fatalf("Apply with no environment says the environment decided: %+v", a)
	}
	if got := readUint(t, "/gc/gogc:percent"); got != 150 {
		t.Errorf("GOGC in effect = %d, want 150", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 512<<20 {
		t.Errorf("memory limit in effect = %d, want %d", got, 512<<20)
	}
	// Zero is no limit, not a limit of zero bytes.
	Apply(Settings{GCPercent: 100}, noEnv)
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("memory limit after memory_limit 0 = %d, want none", got)
	}
}

func TestEnvironmentWins(t *testing.T) {
	restore(t)
	Apply(Settings{GCPercent: 300, MemoryLimit: 1 << 30}, noEnv)
	env := map[string]string{"GOGC": "300", "GOMEMLIMIT": "1GiB"}
	a := Apply(Settings{GCPercent: 50, MinHeap: 1 << 30, MemoryLimit: 1 << 20}, func(k string) string { return env[k] })
	if !a.GCPercentEnv || !a.MemoryLimitEnv || a.GCPercent != 300 || a.MemoryLimit != 1<<30 || a.MinHeap != 0 {
		t.Errorf("Apply under GOGC and GOMEMLIMIT = %+v, want the environment's 300 and 1 GiB, no floor", a)
	}
	if got := readUint(t, "/gc/gogc:percent"); got != 300 {
		t.Errorf("GOGC in effect = %d, want the environment's 300", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 1<<30 {
		t.Errorf("memory limit in effect = %d, want the environment's %d", got, 1<<30)
	}
}

var sink []byte

// cyclesWhileAllocating counts the collections while n bytes of garbage are
// allocated.
func cyclesWhileAllocating(t *testing.T, n int) uint64 {
	t.Helper()
	before := readUint(t, "/gc/cycles/total:gc-cycles")
	for i := 0; i < n; i += 64 << 10 {
		sink = make([]byte, 64<<10)
	}
	sink = nil
	return readUint(t, "/gc/cycles/total:gc-cycles") - before
}

// With a floor far above the live heap, allocating less than the floor runs
// no collection; without it, Go's GOGC=100 runs several.
func TestMinHeapSpacesCollections(t *testing.T) {
	restore(t)
	const garbage = 48 << 20
	Apply(Settings{GCPercent: 100}, noEnv)
	runtime.GC()
	if n := cyclesWhileAllocating(t, garbage); n < 2 {
		t.Fatalf("without a floor, %d MiB of garbage ran %d collections; the test needs a small live heap", garbage>>20, n)
	}

	Apply(Settings{GCPercent: 100, MinHeap: 256 << 20}, noEnv)
	runtime.GC() // the cycle after which the floor lifts the percentage
	deadline := time.Now().Add(20 * time.Second)
	for readUint(t, "/gc/gogc:percent") <= 100 {
		if time.Now().After(deadline) {
			t.Fatal("the floor did not lift GOGC after a collection")
		}
		runtime.Gosched()
	}
	if n := cyclesWhileAllocating(t, garbage); n > 0 {
		t.Errorf("with min_heap 256 MiB, %d MiB of garbage ran %d collections, want none", garbage>>20, n)
	}

	// The lift follows the live heap, cycle by cycle: with 128 MiB live
	// (half the floor) gc_percent alone reaches it.
	live := make([]byte, 128<<20)
	runtime.GC()
	for readUint(t, "/gc/gogc:percent") != 100 {
		if time.Now().After(deadline) {
			t.Fatalf("with 128 MiB live and a 256 MiB floor, GOGC stayed at %d, want 100", readUint(t, "/gc/gogc:percent"))
		}
		runtime.Gosched()
	}
	runtime.KeepAlive(live)

	// Turning the floor off puts gc_percent back at once.
	Apply(Settings{GCPercent: 100}, noEnv)
	if got := readUint(t, "/gc/gogc:percent"); got != 100 {
		t.Errorf("GOGC after the floor was turned off = %d, want 100", got)
	}
}
