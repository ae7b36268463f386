package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/securegw/gateway/proxy/h1"
	"github.com/securegw/gateway/proxy/seal"
)

// transportKey identifies a backend origin with its TLS settings and
// timeouts: services that agree on all of them share one keep-alive pool.
type transportKey struct {
	scheme, host string // host is lower-case host:port
	insecure     bool
	roots        string // digest of a per-service truststore, "" for the proxy's roots
	clientCert   string // digest of the client certificate, "" for none
	timeouts     Timeouts
}

// transportEntry is the keep-alive connections to one backend origin with
// one set of TLS settings and timeouts. refs counts the Compiled
// topologies (compiled, live, or retired with requests in flight) that use it.
type transportEntry struct {
	key    transportKey
	origin string
	pool   *h1.Pool    // nil for the entry of any host (anyHost)
	tls    *tls.Config // nil for plain http
	refs   int         // guarded by transportPool.mu
	// byHost are the pools of an anyHost entry, by lower-case host:port.
	mu     sync.Mutex
	byHost map[string]*h1.Pool
	closed bool
	// open is allocated on its own: a backend connection handed over to a
	// relay (WebSocket) counts on it without keeping the entry alive.
	open *atomic.Int64
	// control runs on each socket before it connects (Config.DialControl).
	control func(network, address string, c syscall.RawConn) error
	dials   atomic.Uint64
}

type transportPool struct {
	p  *Proxy
	mu sync.Mutex
	m  map[transportKey]*transportEntry
}

func newTransportPool(p *Proxy) *transportPool {
	return &transportPool{p: p, m: map[transportKey]*transportEntry{}}
}

// maxIdlePerOrigin bounds the idle keep-alive connections kept per origin
// (about 13 KiB each): at 1,024 concurrent requests to one backend, a
// smaller bound closes and redials connections all the time.
const maxIdlePerOrigin = 1024

// expectContinueTimeout is how long a request with Expect: 100-continue
// waits for the backend's 100 (or final answer) before sending its body.
const expectContinueTimeout = time.Second

// acquire returns the transport of key, creating it if needed, with one
// more reference.
func (tp *transportPool) acquire(key transportKey, bt backendTLS) *transportEntry {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if e, ok := tp.m[key]; ok {
		e.refs++
		return e
	}
	e := &transportEntry{key: key, origin: key.scheme + "://" + key.host, refs: 1, open: new(atomic.Int64), control: tp.p.dialControl}
	if key.scheme == "https" {
		e.tls = &tls.Config{
			MinVersion:         tls.VersionTLS12,
			RootCAs:            bt.roots, // nil: system roots
			InsecureSkipVerify: bt.insecure,
			NextProtos:         []string{"http/1.1"},
			// ServerName: the host dialled (dialer), for SNI and
			// hostname verification.
		}
		if bt.cert != nil {
			e.tls.Certificates = []tls.Certificate{*bt.cert}
		}
	}
	if key.host != anyHost {
		e.pool = h1.NewPool(e.dialer(key.host), maxIdlePerOrigin, key.timeouts.Idle)
	} else {
		e.control = sealedControl(e.control)
	}
	tp.m[key] = e
	return e
}

// anyHost is the host of an entry whose requests go to any host (sealed
// datanode targets): it keeps one pool per host it was asked for.
const anyHost = "~datanodes"

// sealedControl checks, before a sealed target's socket connects, the
// address its name resolved to (seal.CheckAddr): a namenode's redirect to
// a name that resolves to the cloud metadata service, or to a numeric
// spelling the system resolver reads as one, is refused there, whatever
// resolver the process uses. next (Config.DialControl) runs after.
func sealedControl(next func(network, address string, c syscall.RawConn) error) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, c syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("sealed target: dialled address %q: %w", address, err)
		}
		if err := seal.CheckAddr(ap.Addr()); err != nil {
			return fmt.Errorf("sealed target refused: %w", err)
		}
		if next != nil {
			return next(network, address, c)
		}
		return nil
	}
}

// poolFor is the pool of host (host or host:port, for an anyHost entry).
func (e *transportEntry) poolFor(host string) (*h1.Pool, error) {
	if e.pool != nil {
		return e.pool, nil
	}
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(strings.Trim(host, "[]"), defaultPort(e.key.scheme))
	}
	host = strings.ToLower(host)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, errors.New("backend transport released")
	}
	p := e.byHost[host]
	if p == nil {
		if e.byHost == nil {
			e.byHost = map[string]*h1.Pool{}
		}
		p = h1.NewPool(e.dialer(host), maxIdlePerOrigin, e.key.timeouts.Idle)
		e.byHost[host] = p
	}
	return p, nil
}

// pools are the entry's pools.
func (e *transportEntry) pools() []*h1.Pool {
	if e.pool != nil {
		return []*h1.Pool{e.pool}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*h1.Pool, 0, len(e.byHost))
	for _, p := range e.byHost {
		out = append(out, p)
	}
	return out
}

// close closes the entry's idle connections; those in use close when
// their request ends.
func (e *transportEntry) close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	for _, p := range e.pools() {
		p.Close()
	}
}

// errTLSHandshakeTimeout: the backend did not complete the TLS handshake
// within the service's tls_handshake_timeout.
var errTLSHandshakeTimeout error = handshakeTimeout{}

type handshakeTimeout struct{}

func (handshakeTimeout) Error() string   { return "TLS handshake timeout" }
func (handshakeTimeout) Timeout() bool   { return true }
func (handshakeTimeout) Temporary() bool { return true }

// dialer opens connections to addr (host:port; TLS handshake included),
// counted in the entry's metrics.
func (e *transportEntry) dialer(addr string) h1.Dialer {
	var cfg *tls.Config
	if e.tls != nil {
		host, _, _ := net.SplitHostPort(addr)
		cfg = e.tls.Clone()
		cfg.ServerName = host
	}
	return func(ctx context.Context) (net.Conn, error) { return e.dial(ctx, addr, cfg) }
}

func (e *transportEntry) dial(ctx context.Context, addr string, cfg *tls.Config) (net.Conn, error) {
	d := net.Dialer{Timeout: e.key.timeouts.Dial, KeepAlive: 30 * time.Second, Control: e.control}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	e.dials.Add(1)
	e.open.Add(1)
	var nc net.Conn = &countedConn{Conn: c, open: e.open}
	if cfg == nil {
		return nc, nil
	}
	tc := tls.Client(nc, cfg)
	hctx, cancel := context.WithTimeout(ctx, e.key.timeouts.TLSHandshake)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		nc.Close()
		if hctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
			return nil, errTLSHandshakeTimeout
		}
		return nil, err
	}
	return tc, nil
}

// probe sends a health check GET of target (path) to the origin and
// returns the answer's status, reading at most 64 KiB of its body.
func (e *transportEntry) probe(ctx context.Context, host, target string) (int, error) {
	pool, err := e.poolFor(host)
	if err != nil {
		return 0, err
	}
	c, err := pool.Get(ctx)
	if err != nil {
		return 0, err
	}
	if d, ok := ctx.Deadline(); ok {
		_ = c.NetConn().SetDeadline(d)
	}
	h := http.Header{"User-Agent": {"securegw-healthcheck"}}
	err = c.WriteRequestHead(http.MethodGet, target, "", host, h, -1, false, nil)
	if err == nil {
		err = c.Flush()
	}
	var resp http.Response
	if err == nil {
		err = c.ReadResponse(&resp, http.MethodGet, nil)
	}
	if err != nil {
		c.Close()
		return 0, err
	}
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	_ = c.NetConn().SetDeadline(time.Time{})
	resp.Body.Close()
	return resp.StatusCode, nil
}

// release drops one reference of each entry; an entry nobody references
// is removed from the pool and its idle connections closed.
func (tp *transportPool) release(es []*transportEntry) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	for _, e := range es {
		e.refs--
		if e.refs > 0 {
			continue
		}
		if tp.m[e.key] == e {
			delete(tp.m, e.key)
		}
		e.close()
	}
}

func (tp *transportPool) closeIdle() {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	for _, e := range tp.m {
		for _, p := range e.pools() {
			p.CloseIdle()
		}
	}
}

func (tp *transportPool) snapshot() []*transportEntry {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	out := make([]*transportEntry, 0, len(tp.m))
	for _, e := range tp.m {
		out = append(out, e)
	}
	return out
}

// countedConn keeps the per-origin count of open backend connections.
type countedConn struct {
	net.Conn
	open   *atomic.Int64
	closed atomic.Bool
}

func (c *countedConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.open.Add(-1)
	}
	return c.Conn.Close()
}

// CloseWrite half-closes the connection when the underlying one can (TCP):
// a relayed upgraded connection passes the client's end of input on.
func (c *countedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// Unwrap is the TCP connection: splice(2) and liveness checks use it.
func (c *countedConn) Unwrap() net.Conn { return c.Conn }
