package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// transportKey identifies a backend origin with its TLS settings and
// timeouts: services that agree on all of them share one *http.Transport
// and so its keep-alive pool.
type transportKey struct {
	scheme, host string // host is lower-case host:port
	insecure     bool
	roots        string // digest of a per-service truststore, "" for the proxy's roots
	clientCert   string // digest of the client certificate, "" for none
	timeouts     Timeouts
}

// transportEntry is a pooled transport. refs counts the Compiled
// topologies (compiled, live, or retired with requests in flight) that use it.
type transportEntry struct {
	key    transportKey
	origin string
	t      *http.Transport
	refs   int // guarded by transportPool.mu
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
	open := e.open
	dialer := &net.Dialer{Timeout: key.timeouts.Dial, KeepAlive: 30 * time.Second}
	e.t = &http.Transport{
		Proxy: nil, // never the environment's proxy
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			e.dials.Add(1)
			open.Add(1)
			return &countedConn{Conn: c, open: open}, nil
		},
		TLSHandshakeTimeout:   key.timeouts.TLSHandshake,
		ResponseHeaderTimeout: key.timeouts.ResponseHeader,
		IdleConnTimeout:       key.timeouts.Idle,
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          0, // no global cap; per host below
		MaxIdleConnsPerHost:   256,
		DisableCompression:    true, // pass Accept-Encoding and bodies through untouched
		// HTTP/1.1 to backends (a custom TLS config leaves HTTP/2 off): upgrades
		// and connection accounting stay simple.
		ForceAttemptHTTP2: false,
	}
	if key.scheme == "https" {
		cfg := &tls.Config{
			MinVersion:         tls.VersionTLS12,
			RootCAs:            bt.roots, // nil: system roots
			InsecureSkipVerify: bt.insecure,
			// ServerName is left empty: the transport sets it to the URL's
			// host, for SNI and hostname verification.
		}
		if bt.cert != nil {
			cfg.Certificates = []tls.Certificate{*bt.cert}
		}
		e.t.TLSClientConfig = cfg
	}
	tp.m[key] = e
	return e
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
		e.t.CloseIdleConnections()
	}
}

func (tp *transportPool) closeIdle() {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	for _, e := range tp.m {
		e.t.CloseIdleConnections()
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
