package proxy

import (
	"fmt"
	"testing"
)

// A table generation is immutable: with derives the next one, sharing the
// shards it does not touch and copying those it does.
func TestTableWith(t *testing.T) {
	m := map[string]*Compiled{}
	for i := range 1000 {
		n := fmt.Sprint("t", i)
		m[n] = &Compiled{name: n}
	}
	t0 := newTable(1, m)
	if t0.len() != 1000 || t0.get("t7") != m["t7"] || t0.get("nope") != nil {
		t.Fatalf("newTable: len %d, get t7 %v", t0.len(), t0.get("t7"))
	}
	repl := &Compiled{name: "t7"}
	added := &Compiled{name: "new"}
	t1 := t0.with(2, map[string]*Compiled{"t7": repl, "new": added}, []string{"t8", "absent"})
	switch {
	case t1.gen != 2 || t1.len() != 1000: // +new −t8
		t.Fatalf("next: gen %d len %d, want 2 1000", t1.gen, t1.len())
	case t1.get("t7") != repl || t1.get("new") != added || t1.get("t8") != nil || t1.get("t9") != m["t9"]:
		t.Fatal("next table does not hold the change")
	case t0.get("t7") != m["t7"] || t0.get("t8") != m["t8"] || t0.get("new") != nil || t0.len() != 1000:
		t.Fatal("the previous generation changed")
	}
	shared := 0
	for i := range t0.shards {
		if t0.shards[i] != nil && fmt.Sprintf("%p", t0.shards[i]) == fmt.Sprintf("%p", t1.shards[i]) {
			shared++
		}
	}
	if touched := tableShards - shared; touched > 3 {
		t.Fatalf("%d shards copied for a change of 3 names", touched)
	}
	if got := len(t1.sorted()); got != 1000 || t1.sorted()[0].name != "new" {
		t.Fatalf("sorted: %d entries, first %q", got, t1.sorted()[0].name)
	}
}

// A deploy's swap costs the same whatever the table size.
func BenchmarkTableWith(b *testing.B) {
	for _, n := range []int{100, 10000} {
		m := map[string]*Compiled{}
		for i := range n {
			name := fmt.Sprint("t", i)
			m[name] = &Compiled{name: name}
		}
		t0 := newTable(1, m)
		add := map[string]*Compiled{"t1": {name: "t1"}}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				t0.with(2, add, nil)
			}
		})
	}
}
