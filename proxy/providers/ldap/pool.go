package ldap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	goldap "github.com/go-ldap/ldap/v3"

	"github.com/securegw/gateway/proxy/chain"
)

// unavailableError is a failure of the directory or of the way to it, as
// opposed to a user the directory refused. It never holds a password.
type unavailableError struct {
	op  string
	err error
}

func (e *unavailableError) Error() string {
	if e.err == nil {
		return e.op
	}
	return e.op + ": " + e.err.Error()
}
func (e *unavailableError) Unwrap() error { return e.err }
func (e *unavailableError) Is(target error) bool {
	return target == ErrUnavailable || target == chain.ErrSourceUnavailable
}

func unavailable(op string, err error) error { return &unavailableError{op: op, err: err} }

// conn is one connection of the pool.
type conn struct {
	nc     net.Conn // what go-ldap reads and writes: the TLS conn, or TCP
	l      *goldap.Conn
	bound  string // DN of the last successful bind, "" when anonymous
	broken bool   // a transport error or an abandoned operation: do not reuse
}

// dial connects to the directory: TCP, then TLS (ldaps) or StartTLS, within
// cfg.timeout. A TLS failure never falls back to plain LDAP.
func dial(ctx context.Context, cfg *config) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	d := net.Dialer{KeepAlive: 30 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", cfg.url.Host)
	if err != nil {
		return nil, unavailable("connecting to "+cfg.url.Host, err)
	}
	ok := false
	defer func() {
		if !ok {
			nc.Close()
		}
	}()
	if cfg.startTLS {
		deadline, _ := ctx.Deadline()
		_ = nc.SetDeadline(deadline)
		stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(aLongTimeAgo) })
		err := startTLS(nc)
		stop()
		_ = nc.SetDeadline(time.Time{})
		if err != nil {
			return nil, unavailable("StartTLS with "+cfg.url.Host, err)
		}
	}
	if cfg.tls != nil {
		tc := tls.Client(nc, cfg.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			if _, verify := errors.AsType[*tls.CertificateVerificationError](err); verify {
				return nil, unavailable("TLS verification of the directory's certificate failed ("+cfg.url.Host+")", err)
			}
			return nil, unavailable("TLS handshake with "+cfg.url.Host, err)
		}
		nc = tc
	}
	l := goldap.NewConn(nc, cfg.tls != nil)
	l.Start()
	// A second guard behind the per-operation deadlines set on nc.
	l.SetTimeout(cfg.timeout)
	ok = true
	return &conn{nc: nc, l: l}, nil
}

var aLongTimeAgo = time.Unix(1, 0)

// startTLSOID is the StartTLS extended operation (RFC 4511 section 4.14).
const startTLSOID = "1.3.6.1.4.1.1466.20037"

// startTLS runs the StartTLS extended operation on a fresh connection, as
// message 1, before go-ldap takes the connection over: the TLS handshake
// that follows is then ours, with its errors intact.
func startTLS(nc net.Conn) error {
	req := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAP Request")
	req.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 1, "MessageID"))
	ext := ber.Encode(ber.ClassApplication, ber.TypeConstructed, goldap.ApplicationExtendedRequest, nil, "Start TLS")
	ext.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, startTLSOID, "TLS Extended Command"))
	req.AppendChild(ext)
	if _, err := nc.Write(req.Bytes()); err != nil {
		return err
	}
	resp, err := ber.ReadPacket(nc)
	if err != nil {
		return err
	}
	if len(resp.Children) < 2 {
		return errors.New("malformed StartTLS response")
	}
	if id, ok := resp.Children[0].Value.(int64); !ok || id != 1 {
		return errors.New("StartTLS response with an unexpected message id")
	}
	if op := resp.Children[1]; op.ClassType != ber.ClassApplication || op.Tag != goldap.ApplicationExtendedResponse {
		return errors.New("StartTLS answered with something else than an extended response")
	}
	if err := goldap.GetLDAPError(resp); err != nil {
		return fmt.Errorf("the directory refused StartTLS: %w", err)
	}
	return nil
}

// do runs one operation with the connection's deadline at timeout and
// ctx's cancellation closing it early. A transport error or an abandoned
// operation marks the connection broken.
func (c *conn) do(ctx context.Context, timeout time.Duration, op func(*goldap.Conn) error) error {
	if c.broken || c.l.IsClosing() {
		c.broken = true
		return goldap.NewError(goldap.ErrorNetwork, errors.New("connection closed"))
	}
	_ = c.nc.SetDeadline(time.Now().Add(timeout))
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(aLongTimeAgo) })
	err := op(c.l)
	if !stop() {
		c.broken = true
		if err == nil {
			err = ctx.Err()
		}
	}
	_ = c.nc.SetDeadline(time.Time{})
	if err != nil && isTransport(err) {
		c.broken = true
	}
	return err
}

// isTransport reports whether err is about the connection rather than an
// answer of the directory.
func isTransport(err error) bool {
	le, ok := errors.AsType[*goldap.Error](err)
	return !ok || le.ResultCode >= goldap.ErrorNetwork
}

func (c *conn) close() { _ = c.l.Close() }

// pool holds up to size connections, opened on demand and kept idle
// between uses.
type pool struct {
	cfg   *config
	slots chan struct{}

	mu     sync.Mutex
	idle   []*conn
	closed bool
}

func newPool(cfg *config) *pool {
	return &pool{cfg: cfg, slots: make(chan struct{}, cfg.poolSize)}
}

var errPoolClosed = errors.New("the provider was retired")

// get returns a connection, reused from the idle ones when one is left,
// waiting at most cfg.timeout for a free slot. reused tells the caller that
// the connection may have gone stale.
func (p *pool) get(ctx context.Context) (c *conn, reused bool, err error) {
	wait := time.NewTimer(p.cfg.timeout)
	defer wait.Stop()
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, false, unavailable("waiting for a directory connection", ctx.Err())
	case <-wait.C:
		return nil, false, unavailable("waiting for a directory connection", fmt.Errorf("all %d connections busy for %v", p.cfg.poolSize, p.cfg.timeout))
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.slots
		return nil, false, unavailable("connecting", errPoolClosed)
	}
	for len(p.idle) > 0 {
		c := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if !c.l.IsClosing() {
			p.mu.Unlock()
			return c, true, nil
		}
		c.close()
	}
	p.mu.Unlock()
	c, err = dial(ctx, p.cfg)
	if err != nil {
		<-p.slots
		return nil, false, err
	}
	return c, false, nil
}

// put gives c back: kept idle when healthy, closed otherwise.
func (p *pool) put(c *conn) {
	p.mu.Lock()
	keep := !p.closed && !c.broken && !c.l.IsClosing()
	if keep {
		p.idle = append(p.idle, c)
	}
	p.mu.Unlock()
	if !keep {
		c.close()
	}
	<-p.slots
}

// dropIdle closes the idle connections.
func (p *pool) dropIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, c := range idle {
		c.close()
	}
}

// close closes the idle connections; those in use are closed when put back.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.dropIdle()
}
