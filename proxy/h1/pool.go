package h1

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"
)

// Dialer opens a connection to the pool's origin, TLS handshake included.
type Dialer func(ctx context.Context) (net.Conn, error)

// Buffer sizes of a connection: the reader holds a response head (longer
// heads are read in pieces) and the first bytes of a body; the writer one
// request head.
const (
	readBufferSize  = 8 << 10
	writeBufferSize = 4 << 10
)

// checkAfter is how long a connection may sit idle before Get peeks at it:
// backends close idle connections after seconds, not milliseconds.
const checkAfter = 500 * time.Millisecond

// sendOnReadWithin is how soon after its last answer a connection sends a
// bodyless request's head from inside the wait for the answer
// (FlushOnRead). A backend may end a connection idle for longer, and its
// end, come before that wait began, would not end the wait: the request
// would be sent again only at the wait's first deadline (the proxy's 50
// ms). A backend that closes the connection answers the head with a reset,
// which ends the wait at once; only one that shuts down its sending side
// alone, and reads on, costs that wait. Under load a pooled connection
// waits for its next request a few milliseconds on a busy host (at 1 ms a
// fifth of the requests under wrk -c64 took the usual path).
const sendOnReadWithin = 10 * time.Millisecond

// Pool is the keep-alive connections to one origin.
type Pool struct {
	dial        Dialer
	maxIdle     int
	idleTimeout time.Duration

	mu     sync.Mutex
	idle   []*Conn // the most recently used last
	timer  *time.Timer
	closed bool
}

// NewPool returns a pool that dials with dial and keeps at most maxIdle
// idle connections, each for at most idleTimeout (0: no limit).
func NewPool(dial Dialer, maxIdle int, idleTimeout time.Duration) *Pool {
	return &Pool{dial: dial, maxIdle: maxIdle, idleTimeout: idleTimeout}
}

// Get returns an idle connection, or a new one.
func (p *Pool) Get(ctx context.Context) (*Conn, error) {
	now := time.Now().UnixNano()
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			break
		}
		c := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		idle := time.Duration(now - c.idleAt)
		strict := c.peekFirst
		c.peekFirst = false
		if p.idleTimeout > 0 && idle >= p.idleTimeout || (strict || idle >= checkAfter) && !c.alive(strict) {
			c.nc.Close()
			continue
		}
		c.Reused = true
		c.sendOnRead = idle < sendOnReadWithin
		return c, nil
	}
	nc, err := p.dial(ctx)
	if err != nil {
		return nil, err
	}
	c := &Conn{nc: nc, pool: p, tcp: tcpConnOf(nc), sendOnRead: true}
	c.w = newWire(nc, c.tcp)
	c.br = bufio.NewReaderSize(c.w, readBufferSize)
	c.bw = bufio.NewWriterSize(c.w, writeBufferSize)
	c.interrupt = func() { _ = nc.SetReadDeadline(time.Unix(1, 0)) }
	return c, nil
}

// put keeps c for reuse; the caller read its last response to the end.
func (p *Pool) put(c *Conn) {
	c.idleAt = time.Now().UnixNano()
	p.mu.Lock()
	if p.closed || len(p.idle) >= p.maxIdle {
		p.mu.Unlock()
		c.nc.Close()
		return
	}
	p.idle = append(p.idle, c)
	if p.idleTimeout > 0 && p.timer == nil {
		p.timer = time.AfterFunc(p.idleTimeout, p.prune)
	}
	p.mu.Unlock()
}

// prune closes the connections idle for longer than the idle timeout (the
// oldest are first in the list) and runs again while any are left.
func (p *Pool) prune() {
	limit := time.Now().Add(-p.idleTimeout).UnixNano()
	p.mu.Lock()
	n := 0
	for n < len(p.idle) && p.idle[n].idleAt <= limit {
		n++
	}
	old := make([]*Conn, n)
	copy(old, p.idle[:n])
	p.idle = append(p.idle[:0], p.idle[n:]...)
	clear(p.idle[len(p.idle) : len(p.idle)+n])
	p.timer = nil
	if len(p.idle) > 0 && !p.closed {
		next := time.Duration(p.idle[0].idleAt - limit)
		p.timer = time.AfterFunc(max(next, time.Millisecond), p.prune)
	}
	p.mu.Unlock()
	for _, c := range old {
		c.nc.Close()
	}
}

// CloseIdle closes the idle connections.
func (p *Pool) CloseIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, c := range idle {
		c.nc.Close()
	}
}

// Close closes the idle connections; connections in use are closed when
// their request ends instead of coming back.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	p.mu.Unlock()
	p.CloseIdle()
}

// Idle is the number of idle connections.
func (p *Pool) Idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

func tcpConnOf(nc net.Conn) *net.TCPConn {
	for {
		switch c := nc.(type) {
		case *net.TCPConn:
			return c
		case interface{ Unwrap() net.Conn }:
			nc = c.Unwrap()
		default:
			return nil
		}
	}
}

// alive peeks at an idle plain TCP connection without blocking: a backend
// that closed it (or sent bytes nobody asked for) makes it unusable.
// TLS connections are taken as alive (a TLS 1.3 server's session tickets
// arrive unasked); a failure on them is retried by the caller when it may.
// Strict (the last answer had no body by rule: bytes after it would be one
// sent anyway), a TLS connection with any bytes waiting under it is not
// (a late session ticket costs a new connection, rarely).
func (c *Conn) alive(strict bool) bool {
	if c.br.Buffered() > 0 {
		return false
	}
	sock := c.tcp
	if sock == nil {
		tc, ok := c.nc.(*tls.Conn)
		if !strict || !ok {
			return true
		}
		if sock = tcpConnOf(tc.NetConn()); sock == nil {
			return true
		}
	}
	// The last exchange may have left a read deadline (they are moved
	// before each read, not cleared after it); an expired one would fail
	// the peek below.
	_ = c.nc.SetReadDeadline(time.Time{})
	rc, err := sock.SyscallConn()
	if err != nil {
		return false
	}
	alive := true
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = n < 0 && errors.Is(err, syscall.EAGAIN)
		return true
	})
	return err == nil && alive
}
