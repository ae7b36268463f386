package proxy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/securegw/gateway/proxy/identity"
	"github.com/securegw/gateway/proxy/wsrelay"
)

// Upgraded connections (WebSocket) outlive the request that opened them and
// the routing table it was served by. Once relayed (websocket.go, wsrelay)
// a connection holds no reference to the topology generation that accepted
// it: the generation's chain and transports are released when its last
// plain request ends, while the socket stays open.
//
// Each connection is tracked under its topology and service with the
// service's fingerprint (fingerprint.go). When a swap retires the topology
// (Apply, Remove, Load, Close), its connections are checked against the
// live table: a service with the same fingerprint keeps them; a service
// removed or changed has them closed (1001) after Config.UpgradeGrace (a
// later swap restoring the same fingerprint within the grace keeps them).
// CloseUpgraded closes them all (1001) at shutdown.

var errUpgradesClosed = errors.New("shutting down")

// upgrades is the registry of upgraded connections.
type upgrades struct {
	hub *wsrelay.Hub

	mu          sync.Mutex
	byTopo      map[string]map[*upgraded]struct{}
	byPrincipal map[principalKey]int
	total       int
	closed      bool
}

type principalKey struct{ topo, name string }

// upgraded is one upgraded connection, reserved before its backend is
// dialled and relayed once both handshakes are done.
type upgraded struct {
	topo, svc, principal string
	fp                   fingerprint
	closing              *time.Timer   // pending close after the grace; guarded by upgrades.mu
	conn                 *wsrelay.Conn // nil until relayed; guarded by upgrades.mu
	closeCode            int           // a close asked for before conn was set
	released             bool          // guarded by upgrades.mu
}

// reserve counts a new connection of s for who, refused (with the reason
// the client gets in a 503) past the service's limits or the descriptor
// ceiling, or during shutdown. It is checked at once against the live
// table: a swap may have retired s's topology since routing.
func (r *upgrades) reserve(s *service, who *identity.Principal) (*upgraded, error) {
	p := s.topo.p
	u := &upgraded{topo: s.topo.name, svc: s.path, fp: s.fp, principal: who.Name}
	pk := principalKey{u.topo, u.principal}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.closed:
		return nil, errUpgradesClosed
	case p.fdCeiling > 0 && 2*(r.total+1)+fdReserve > p.fdCeiling:
		// Counted, not read from /proc: the gateway's other descriptors
		// (listeners, store, HTTP keep-alives) live in the reserve.
		return nil, errors.New("too many open connections")
	case s.ws.maxConns > 0 && len(r.byTopo[u.topo]) >= s.ws.maxConns:
		return nil, errors.New("too many WebSocket connections to this topology")
	case s.ws.maxPerPrincipal > 0 && r.byPrincipal[pk] >= s.ws.maxPerPrincipal:
		return nil, errors.New("too many WebSocket connections for this principal")
	}
	if r.byTopo == nil {
		r.byTopo = map[string]map[*upgraded]struct{}{}
		r.byPrincipal = map[principalKey]int{}
	}
	m := r.byTopo[u.topo]
	if m == nil {
		m = map[*upgraded]struct{}{}
		r.byTopo[u.topo] = m
	}
	m[u] = struct{}{}
	r.byPrincipal[pk]++
	r.total++
	r.checkLocked(u, p.table.Load(), p.upgradeGrace)
	return u, nil
}

// fdReserve descriptors are kept for plain HTTP, listeners and the store
// when upgrades near the descriptor ceiling (two descriptors each).
const fdReserve = 200

// started attaches the relayed connection to u.
func (r *upgrades) started(u *upgraded, c *wsrelay.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if u.released {
		return
	}
	u.conn = c
	if u.closeCode != 0 {
		c.Close(u.closeCode, "route changed")
	}
}

// release forgets u (its relay ended, or it never started).
func (r *upgrades) release(u *upgraded) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if u.released {
		return
	}
	u.released = true
	if u.closing != nil {
		u.closing.Stop()
	}
	if m := r.byTopo[u.topo]; m != nil {
		delete(m, u)
		if len(m) == 0 {
			delete(r.byTopo, u.topo)
		}
	}
	pk := principalKey{u.topo, u.principal}
	if r.byPrincipal[pk]--; r.byPrincipal[pk] <= 0 {
		delete(r.byPrincipal, pk)
	}
	r.total--
}

// reconcile checks the connections of topology name against the live
// table t; called under Proxy.mu when a swap retired name's topology.
func (r *upgrades) reconcile(name string, t *table, grace time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for u := range r.byTopo[name] {
		r.checkLocked(u, t, grace)
	}
}

// checkLocked keeps u if t serves its route with the same fingerprint, and
// else closes it after grace.
func (r *upgrades) checkLocked(u *upgraded, t *table, grace time.Duration) {
	if c := t.get(u.topo); c != nil {
		if s := c.services[u.svc]; s != nil && s.fp == u.fp {
			if u.closing != nil {
				u.closing.Stop()
				u.closing = nil
			}
			return
		}
	}
	if u.closing == nil {
		u.closing = time.AfterFunc(grace, func() { r.closeOne(u, wsrelay.CloseGoingAway) })
	}
}

func (r *upgrades) closeOne(u *upgraded, code int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if u.conn != nil {
		u.conn.Close(code, "route changed")
	} else {
		u.closeCode = code
	}
}

// count is the number of tracked connections.
func (r *upgrades) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total
}

// CloseUpgraded closes every upgraded connection (WebSocket: close 1001)
// and refuses new ones, then waits until their relays ended or ctx is done.
// http.Server.Shutdown does not see hijacked connections: call it after
// the HTTP drain. Close calls it too.
func (p *Proxy) CloseUpgraded(ctx context.Context) error {
	r := &p.upgrades
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	if err := r.hub.CloseAll(ctx, wsrelay.CloseGoingAway, "gateway shutting down"); err != nil {
		return fmt.Errorf("closing upgraded connections: %w", err)
	}
	return nil
}

// UpgradedConnections is the number of open upgraded connections.
func (p *Proxy) UpgradedConnections() int { return p.upgrades.count() }

// MaxOpenFiles is the descriptor ceiling new upgrades are checked
// against (Config.MaxOpenFiles); 0 when unknown.
func (p *Proxy) MaxOpenFiles() int { return p.fdCeiling }
