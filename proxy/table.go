package proxy

import (
	"maps"
	"slices"
	"strings"
	"time"
)

// Lifecycle of a Compiled, guarded by Proxy.mu.
const (
	stateCompiled  = iota // built, not yet published: holds transport references
	stateLive             // in the live table
	stateRetired          // replaced or removed: finalized when its last request ends
	stateDiscarded        // never published, resources released
)

// Apply publishes c, adding or replacing the topology of its name, with one
// atomic swap, and returns the new generation. Requests in flight finish on
// the table they started with; the replaced topology's health checkers stop
// now and its transports and handlers are released when its last request
// ends. A Compiled is published at most once: applying one that was
// replaced, removed or discarded (compile it again instead), or one built
// by another Proxy, logs an error and returns the current generation
// unchanged. Applying the live Compiled again changes nothing.
func (p *Proxy) Apply(c *Compiled) int64 { return p.Update([]*Compiled{c}, nil) }

// Remove unpublishes the topology name and returns the new generation (the
// current one when name is not live).
func (p *Proxy) Remove(name string) int64 { return p.Update(nil, []string{name}) }

// Load replaces the whole table with all in one swap (startup, resync) and
// returns the new generation. When two entries share a name the later one
// wins; the other is discarded. Entries that cannot be published (see
// Apply) are skipped with an error log.
func (p *Proxy) Load(all []*Compiled) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	cur := p.table.Load()
	m := make(map[string]*Compiled, len(all))
	for _, c := range all {
		if !p.publishableLocked(c) {
			continue
		}
		if prev, dup := m[c.name]; dup && prev != c && prev.state == stateCompiled {
			prev.discardLocked()
		}
		m[c.name] = c
	}
	next := newTable(cur.gen+1, m)
	for name, c := range m {
		if c.state == stateCompiled {
			c.adoptLocked(cur.get(name))
		}
	}
	p.table.Store(next)
	for _, c := range sortedTopologies(m) {
		if c.state == stateCompiled {
			c.startLocked()
		}
	}
	for _, old := range cur.sorted() {
		if m[old.name] != old {
			old.retireLocked()
		}
	}
	return next.gen
}

func (p *Proxy) publishableLocked(c *Compiled) bool {
	switch {
	case c == nil:
		p.log.Error("proxy: nil topology not applied")
		return false
	case c.p != p:
		p.log.Error("proxy: topology compiled by another proxy not applied", "topology", c.name)
		return false
	case c.state == stateRetired || c.state == stateDiscarded:
		p.log.Error("proxy: topology was unpublished or discarded: compile it again to deploy it", "topology", c.name)
		return false
	case p.closed.Load():
		p.log.Error("proxy: closed: topology not applied", "topology", c.name)
		return false
	}
	return true
}

// adoptLocked carries the counters and backend health of the topology c
// replaces over to c, so a redeploy neither resets metrics nor forgets that
// a backend is cooling off.
func (c *Compiled) adoptLocked(old *Compiled) {
	if old == nil {
		return
	}
	for _, s := range c.ordered {
		os, ok := old.services[s.path]
		if !ok {
			continue
		}
		s.stats = os.stats
		for _, b := range s.up.backends {
			for _, ob := range os.up.backends {
				if ob.configured == b.configured {
					b.h = ob.h
				}
			}
		}
	}
}

// startLocked marks c live, starts its active health checkers and checks
// the upgraded connections of its name against the live table.
func (c *Compiled) startLocked() {
	c.state = stateLive
	c.startHealthChecks()
	// A route restored within the grace with the same fingerprint keeps the
	// connections its removal was to close.
	c.p.upgrades.reconcile(c.name, c.p.table.Load(), c.p.upgradeGrace)
}

// retireLocked marks c unpublished: health checkers stop now, and
// resources go when the last request using c ends.
func (c *Compiled) retireLocked() {
	if c.state == stateRetired {
		return
	}
	c.state = stateRetired
	c.stopHealthChecks()
	// Every swap stores the new table before retiring what it replaced:
	// the topology's upgraded connections are checked against it.
	c.p.upgrades.reconcile(c.name, c.p.table.Load(), c.p.upgradeGrace)
	c.retired.Store(true)
	if c.inflight.Load() == 0 {
		c.finalize()
	}
}

func (c *Compiled) discardLocked() {
	if c.state != stateCompiled {
		return
	}
	c.state = stateDiscarded
	c.finalize()
}

// Discard releases the transports and handlers of a Compiled that will not
// be applied. It does nothing to a Compiled that is or was live.
func (c *Compiled) Discard() {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	c.discardLocked()
}

// enter counts a request on c; false when c was retired meanwhile (the
// caller then routes again on the newer table).
func (c *Compiled) enter() bool {
	c.inflight.Add(1)
	if c.retired.Load() {
		c.leave()
		return false
	}
	return true
}

func (c *Compiled) leave() {
	if c.inflight.Add(-1) == 0 && c.retired.Load() {
		c.finalize()
	}
}

func (c *Compiled) finalize() {
	c.finalizeOnce.Do(func() {
		c.p.pool.release(c.transports)
		if err := c.chain.Close(); err != nil {
			c.p.log.Warn("proxy: closing handlers", "topology", c.name, "err", err)
		}
	})
}

func sortedTopologies(m map[string]*Compiled) []*Compiled {
	out := slices.Collect(maps.Values(m))
	slices.SortFunc(out, func(a, b *Compiled) int { return strings.Compare(a.name, b.name) })
	return out
}

// BackendStatus reports the health of every backend URL of the live table,
// by topology name, then service and URL in topology order.
func (p *Proxy) BackendStatus() []BackendStatus {
	now := time.Now()
	var out []BackendStatus
	for _, c := range p.table.Load().sorted() {
		for _, s := range c.ordered {
			for _, b := range s.up.backends {
				until := b.h.cooloffUntil.Load()
				st := BackendStatus{
					Topology:            c.name,
					Service:             s.path,
					URL:                 b.configured,
					Healthy:             until <= now.UnixNano(),
					ConsecutiveFailures: b.h.failures.Load(),
				}
				if until > now.UnixNano() {
					st.CooloffUntil = time.Unix(0, until)
				}
				out = append(out, st)
			}
		}
	}
	return out
}
