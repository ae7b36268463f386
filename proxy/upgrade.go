package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Upgraded connections (WebSocket) outlive the request that opened them and
// the routing table it was served by. The proxy relays their bytes itself
// (not ReverseProxy), so that once switched a connection holds no reference
// to the topology generation that accepted it: the generation's chain and
// transports are released when its last plain request ends, while the
// socket stays open.
//
// Each connection is tracked under its topology and service with the
// service's fingerprint (fingerprint.go). When a swap retires the topology
// (Apply, Remove, Load, Close), its connections are checked against the
// live table: a service with the same fingerprint keeps them; a service
// removed or changed has them closed after Config.UpgradeGrace (a later
// swap restoring the same fingerprint within the grace keeps them).
// CloseUpgraded closes them all at shutdown.

// errSwitched tells errorHandler that switchProtocols took the connection
// over (or closed it): there is nothing to answer.
var errSwitched = errors.New("connection switched protocols")

var errUpgradesClosed = errors.New("upgraded connections are closed: shutting down")

// upgrades is the registry of upgraded connections.
type upgrades struct {
	mu     sync.Mutex
	byTopo map[string]map[*upgraded]struct{}
	closed bool
	relays sync.WaitGroup // one per tracked connection, done when untracked
}

// upgraded is one switched connection and its relay.
type upgraded struct {
	topo, svc string
	fp        fingerprint
	ctx       context.Context // canceled: the relay closes both ends
	cancel    context.CancelFunc
	closing   *time.Timer // pending close after the grace; guarded by upgrades.mu

	client  net.Conn
	pending []byte // bytes the client sent after the handshake, read by the server
	backend io.ReadWriteCloser
}

// switchProtocols takes over a 101 answer: it checks that the backend
// switched to the protocol asked for, hijacks the client connection,
// writes the 101 and leaves the exchange a relay to run once the request
// has left its topology generation (ServeHTTP). It returns errSwitched,
// or an error for errorHandler to answer.
func (s *service) switchProtocols(resp *http.Response) error {
	ex := exchangeOf(resp.Request.Context())
	want, got := upgradeType(resp.Request.Header), upgradeType(resp.Header)
	backend, ok := resp.Body.(io.ReadWriteCloser)
	switch {
	case ex == nil:
		return errors.New("switching protocols outside a routed request")
	case !s.websocket || want == "" || !strings.EqualFold(want, got):
		return fmt.Errorf("backend switched to protocol %q when %q was asked for", got, want)
	case !ok:
		return errors.New("101 response without a writable body")
	}
	// ReverseProxy closes the body of a response refused here; from now on
	// the connection is ours, closed by the relay or below.
	resp.Body = http.NoBody
	u, err := s.topo.p.upgrades.track(s)
	if err != nil {
		backend.Close()
		return err
	}
	conn, brw, err := ex.Hijack()
	if err != nil {
		backend.Close()
		s.topo.p.upgrades.untrack(u)
		return fmt.Errorf("hijacking the client connection: %w", err)
	}
	h := ex.w.Header() // what the gateway set (X-Request-Id, chain headers) and the backend's
	for k, vv := range resp.Header {
		h[k] = append(h[k], vv...)
	}
	resp.Header = h
	err = resp.Write(brw)
	if err == nil {
		err = brw.Flush()
	}
	if err != nil {
		conn.Close()
		backend.Close()
		s.topo.p.upgrades.untrack(u)
		ex.clientGone = true
		return errSwitched
	}
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		u.pending = bytes.Clone(b)
	}
	// A read of nothing drops the transport's reader, which references the
	// transport, once nothing is buffered in it.
	_, _ = backend.Read(nil)
	u.client, u.backend = conn, backend
	ex.up = u
	return errSwitched
}

// upgradeType is the protocol a header asks to switch to, "" for none.
func upgradeType(h http.Header) string {
	for _, v := range h["Connection"] {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return h.Get("Upgrade")
			}
		}
	}
	return ""
}

// track registers a connection of s, checked at once against the live
// table (a swap may have retired s's topology since routing).
func (r *upgrades) track(s *service) (*upgraded, error) {
	p := s.topo.p
	ctx, cancel := context.WithCancel(context.Background())
	u := &upgraded{topo: s.topo.name, svc: s.path, fp: s.fp, ctx: ctx, cancel: cancel}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		cancel()
		return nil, errUpgradesClosed
	}
	if r.byTopo == nil {
		r.byTopo = map[string]map[*upgraded]struct{}{}
	}
	m := r.byTopo[u.topo]
	if m == nil {
		m = map[*upgraded]struct{}{}
		r.byTopo[u.topo] = m
	}
	m[u] = struct{}{}
	r.relays.Add(1)
	r.checkLocked(u, p.table.Load(), p.upgradeGrace)
	return u, nil
}

// untrack removes u once its relay ended (or never started).
func (r *upgrades) untrack(u *upgraded) {
	u.cancel()
	r.mu.Lock()
	if u.closing != nil {
		u.closing.Stop()
	}
	if m := r.byTopo[u.topo]; m != nil {
		delete(m, u)
		if len(m) == 0 {
			delete(r.byTopo, u.topo)
		}
	}
	r.mu.Unlock()
	r.relays.Done()
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
		u.closing = time.AfterFunc(grace, u.cancel)
	}
}

// count is the number of tracked connections.
func (r *upgrades) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.byTopo {
		n += len(m)
	}
	return n
}

// CloseUpgraded closes every upgraded connection (WebSocket) now and
// refuses new ones, then waits until their relays ended or ctx is done.
// http.Server.Shutdown does not see hijacked connections: call it after
// the HTTP drain. Close calls it too.
func (p *Proxy) CloseUpgraded(ctx context.Context) error {
	r := &p.upgrades
	r.mu.Lock()
	r.closed = true
	for _, m := range r.byTopo {
		for u := range m {
			u.cancel()
		}
	}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() {
		r.relays.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("closing upgraded connections: %w", ctx.Err())
	}
}

// UpgradedConnections is the number of open upgraded connections.
func (p *Proxy) UpgradedConnections() int { return p.upgrades.count() }

// relay copies bytes both ways until either side ends or u is canceled
// (grace expired, shutdown), then closes both ends. An end of input from
// one side is passed on as a half close when the other side supports it.
func (u *upgraded) relay(r *upgrades) {
	defer r.untrack(u)
	stop := context.AfterFunc(u.ctx, func() {
		u.client.Close()
		u.backend.Close()
	})
	defer stop()
	errc := make(chan error, 2)
	go func() {
		if len(u.pending) > 0 {
			if _, err := u.backend.Write(u.pending); err != nil {
				errc <- err
				return
			}
			u.pending = nil
		}
		errc <- copyHalf(u.backend, u.client)
	}()
	go func() { errc <- copyHalf(u.client, u.backend) }()
	if err := <-errc; err == nil {
		<-errc
	} else {
		u.client.Close()
		u.backend.Close()
		<-errc
	}
	u.client.Close()
	u.backend.Close()
}

// copyHalf copies src to dst and half-closes dst at src's end: nil when
// that worked, else the error that ends the relay.
func copyHalf(dst io.Writer, src io.Reader) error {
	if _, err := io.Copy(dst, src); err != nil {
		return err
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
