package gctune

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Settings are gateway.yaml's runtime section.
type Settings struct {
	// GCPercent is GOGC; -1 turns the proportional trigger off.
	GCPercent int
	// MinHeap is the heap floor in bytes; 0 is none.
	MinHeap int64
	// MemoryLimit is GOMEMLIMIT in bytes; 0 is none.
	MemoryLimit int64
}

// Applied is what is in effect after Apply, and whether the environment
// decided it.
type Applied struct {
	GCPercent      int
	GCPercentEnv   bool // GOGC is set: GCPercent and MinHeap are the environment's
	MinHeap        int64
	MemoryLimit    int64 // math.MaxInt64 when there is none
	MemoryLimitEnv bool  // GOMEMLIMIT is set
}

// Apply sets the collector from s, except what the environment (getenv:
// os.Getenv) sets. It may be called again (a daemon restarted in the same
// process): the last call wins.
func Apply(s Settings, getenv func(string) string) Applied {
	var a Applied
	if getenv("GOMEMLIMIT") != "" {
		a.MemoryLimit, a.MemoryLimitEnv = debug.SetMemoryLimit(-1), true
	} else {
		limit := s.MemoryLimit
		if limit <= 0 {
			limit = math.MaxInt64
		}
		debug.SetMemoryLimit(limit)
		a.MemoryLimit = limit
	}
	if getenv("GOGC") != "" {
		a.GCPercentEnv = true
		floor.set(0, 0, false)
		a.GCPercent = currentPercent()
		return a
	}
	a.GCPercent, a.MinHeap = s.GCPercent, s.MinHeap
	if s.GCPercent < 0 {
		a.MinHeap = 0 // no proportional trigger to lift
	}
	// The percentage is set, lifted from the live heap of the last cycle
	// if any, under the floor's lock: an adjustment running after a
	// collection at the same time cannot undo it.
	floor.set(a.GCPercent, a.MinHeap, true)
	if a.MinHeap > 0 {
		floor.arm()
	}
	return a
}

// floor is the process's one heap floor: the collector is process-wide.
var floor heapFloor

type heapFloor struct {
	mu      sync.Mutex
	percent int   // gc_percent
	min     int64 // min_heap; 0: the floor is off
	armed   bool
	samples []metrics.Sample
}

// set replaces the settings; with apply it also sets the percentage for
// the next cycle, lifted by the floor.
func (f *heapFloor) set(percent int, min int64, apply bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.percent, f.min = percent, min
	if apply {
		debug.SetGCPercent(percent)
		f.adjustLocked()
	}
}

// sentinel is what the collector frees once per cycle: big and with a
// pointer, so that it is never batched with other objects in a tiny block.
type sentinel struct {
	_ *byte
	_ [48]byte
}

// arm makes adjust run after every collection: a cleanup on an unreachable
// object runs after the cycle that finds it, and arms the next one. Once
// armed it stays so for the process; with the floor off it does nothing.
func (f *heapFloor) arm() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.armed {
		return
	}
	f.armed = true
	armNext()
}

func armNext() {
	runtime.AddCleanup(new(sentinel), func(struct{}) {
		floor.adjust()
		armNext()
	}, struct{}{})
}

// adjust sets the percentage for the next cycle from the live heap the last
// one marked.
func (f *heapFloor) adjust() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.adjustLocked()
}

func (f *heapFloor) adjustLocked() {
	if f.min <= 0 {
		return
	}
	if f.samples == nil {
		f.samples = []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	}
	metrics.Read(f.samples)
	if f.samples[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	debug.SetGCPercent(percentFor(f.percent, f.min, f.samples[0].Value.Uint64()))
}

// maxPercent bounds the lift for a nearly empty heap.
const maxPercent = 100_000

// percentFor is the percentage that starts the next cycle at about
// max(live × (1 + percent/100), min).
func percentFor(percent int, min int64, live uint64) int {
	if live == 0 {
		return percent
	}
	if uint64(min) <= live {
		return percent
	}
	lift := (uint64(min) - live) * 100 / live
	if lift > maxPercent {
		lift = maxPercent
	}
	return max(percent, int(lift))
}

// currentPercent reads the percentage in effect without setting it.
func currentPercent() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 100
	}
	return int(s[0].Value.Uint64())
}
