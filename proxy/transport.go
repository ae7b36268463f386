package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/securegw/gateway/proxy/h1"
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
	pool   *h1.Pool
	tls    *tls.Config // nil for plain http
	refs   int         // guarded by transportPool.mu
	// open is allocated on its own: a backend connection handed over to a
	// relay (WebSocket) counts on it without keeping the entry alive.
	open  *atomic.Int64
	dials atomic.Uint64
}

type transportPool struct {
	p  *Proxy
	mu sync.Mutex
	m  map[transportKey]*transportEntry
}

func newTransportPool(p *Proxy) *transportPool {
	return &transportPool{p: p, m: map[transportKey]*transportEntry{}}
}

// maxIdlePerOrigin bounds the idle keep-alive connections kept per origin.
const maxIdlePerOrigin = 256

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
	e := &transportEntry{key: key, origin: key.scheme + "://" + key.host, refs: 1, open: new(atomic.Int64)}
	if key.scheme == "https" {
		host, _, err := net.SplitHostPort(key.host)
		if err != nil {
			host = key.host
		}
		e.tls = &tls.Config{
			MinVersion:         tls.VersionTLS12,
			RootCAs:            bt.roots, // nil: system roots
			InsecureSkipVerify: bt.insecure,
			ServerName:         host, // SNI and hostname verification
			NextProtos:         []string{"http/1.1"},
		}
		if bt.cert != nil {
			e.tls.Certificates = []tls.Certificate{*bt.cert}
		}
	}
	e.pool = h1.NewPool(e.dial, maxIdlePerOrigin, key.timeouts.Idle)
	tp.m[key] = e
	return e
}

// errTLSHandshakeTimeout: the backend did not complete the TLS handshake
// within the service's tls_handshake_timeout.
var errTLSHandshakeTimeout error = handshakeTimeout{}

type handshakeTimeout struct{}

func (handshakeTimeout) Error() string   { return "TLS handshake timeout" }
func (handshakeTimeout) Timeout() bool   { return true }
func (handshakeTimeout) Temporary() bool { return true }

// dial opens a connection to the origin (TLS handshake included), counted
// in the origin's metrics.
func (e *transportEntry) dial(ctx context.Context) (net.Conn, error) {
	d := net.Dialer{Timeout: e.key.timeouts.Dial, KeepAlive: 30 * time.Second}
	c, err := d.DialContext(ctx, "tcp", e.key.host)
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	e.dials.Add(1)
	e.open.Add(1)
	var nc net.Conn = &countedConn{Conn: c, open: e.open}
	if e.tls == nil {
		return nc, nil
	}
	tc := tls.Client(nc, e.tls)
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
	c, err := e.pool.Get(ctx)
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
		err = c.ReadResponse(&resp, http.MethodGet)
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
		e.pool.Close()
	}
}

func (tp *transportPool) closeIdle() {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	for _, e := range tp.m {
		e.pool.CloseIdle()
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
