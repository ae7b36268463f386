package proxy

import (
	"maps"
	"slices"
	"strings"
)

// tableShards is the number of shards of a table. A change copies the
// array of shard pointers and the shards it touches, not the whole table:
// with 10k topologies a deploy copies about 40 entries instead of 10k,
// and the garbage each deploy leaves stays small whatever the table size.
const tableShards = 256

// table is one immutable generation of the routing table. Readers load it
// with one atomic load and find a topology with two lookups (shard, then
// name); writers derive the next generation with with under Proxy.mu.
type table struct {
	gen    int64
	n      int
	shards [tableShards]map[string]*Compiled
}

// shardOf hashes name (FNV-1a) to its shard.
func shardOf(name string) int {
	h := uint32(2166136261)
	for i := 0; i < len(name); i++ {
		h ^= uint32(name[i])
		h *= 16777619
	}
	return int(h % tableShards)
}

// newTable is a table of generation gen holding m.
func newTable(gen int64, m map[string]*Compiled) *table {
	t := &table{gen: gen, n: len(m)}
	for name, c := range m {
		i := shardOf(name)
		if t.shards[i] == nil {
			t.shards[i] = map[string]*Compiled{}
		}
		t.shards[i][name] = c
	}
	return t
}

// get returns the topology name, nil when it is not in the table.
func (t *table) get(name string) *Compiled { return t.shards[shardOf(name)][name] }

// len is the number of topologies in the table.
func (t *table) len() int { return t.n }

// sorted returns the table's topologies by name.
func (t *table) sorted() []*Compiled {
	out := make([]*Compiled, 0, t.n)
	for _, s := range t.shards {
		for _, c := range s {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b *Compiled) int { return strings.Compare(a.name, b.name) })
	return out
}

// with returns generation gen: t without the names of drop and with the
// topologies of add (by name). Only the shards they touch are copied.
func (t *table) with(gen int64, add map[string]*Compiled, drop []string) *table {
	next := &table{gen: gen, n: t.n, shards: t.shards}
	var copied [tableShards]bool
	shard := func(name string) map[string]*Compiled {
		i := shardOf(name)
		if !copied[i] {
			next.shards[i] = maps.Clone(t.shards[i])
			if next.shards[i] == nil {
				next.shards[i] = map[string]*Compiled{}
			}
			copied[i] = true
		}
		return next.shards[i]
	}
	for _, name := range drop {
		if t.get(name) != nil {
			delete(shard(name), name)
			next.n--
		}
	}
	for name, c := range add {
		s := shard(name)
		if _, ok := s[name]; !ok {
			next.n++
		}
		s[name] = c
	}
	return next
}
