package proxy

// Update publishes every Compiled of apply and unpublishes the topologies
// named in remove with one atomic swap, and returns the new generation (the
// current one when nothing changes). It is Apply and Remove for a batch: a
// reader sees either none or all of the batch. Names in remove are
// unpublished before apply is published, so a name in both ends up live;
// when two entries of apply share a name the later one wins and the other
// is discarded. Entries that cannot be published (see Apply) are skipped
// with an error log.
func (p *Proxy) Update(apply []*Compiled, remove []string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	cur := p.table.Load()
	add := make(map[string]*Compiled, len(apply))
	for _, c := range apply {
		if !p.publishableLocked(c) {
			continue
		}
		if prev, dup := add[c.name]; dup && prev != c && prev.state == stateCompiled {
			prev.discardLocked()
		}
		add[c.name] = c
	}
	var drop []string
	for _, name := range remove {
		if cur.get(name) != nil {
			if _, replaced := add[name]; !replaced {
				drop = append(drop, name)
			}
		}
	}
	for name, c := range add {
		if cur.get(name) == c {
			delete(add, name) // already live: nothing to do
		}
	}
	if len(add) == 0 && len(drop) == 0 {
		return cur.gen
	}
	next := cur.with(cur.gen+1, add, drop)
	for name, c := range add {
		c.adoptLocked(cur.get(name))
	}
	p.table.Store(next)
	for _, c := range sortedTopologies(add) {
		c.startLocked()
	}
	for _, name := range drop {
		cur.get(name).retireLocked()
	}
	for name := range add {
		if old := cur.get(name); old != nil {
			old.retireLocked()
		}
	}
	return next.gen
}
