package ldaptest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
)

// Proxy forwards TCP connections to a server, and can freeze the ones it
// holds: they stay open but nothing passes any more, as when a firewall or
// a crashed host drops a connection without closing it.
type Proxy struct {
	// URL is the proxy's ldap:// URL.
	URL string

	target string
	ln     net.Listener
	mu     sync.Mutex
	pairs  []*pair
	closed bool
	wg     sync.WaitGroup
}

type pair struct {
	client, server net.Conn
	frozen         chan struct{}
}

// NewProxy starts a proxy on 127.0.0.1 to the server at url (ldap://host:port/).
// It stops when the test ends.
func NewProxy(t testing.TB, url string) *Proxy {
	t.Helper()
	target := strings.TrimSuffix(strings.TrimPrefix(url, "ldap://"), "/")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("ldaptest: %v", err)
	}
	p := &Proxy{URL: fmt.Sprintf("ldap://%s/", ln.Addr()), target: target, ln: ln}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		pr := &pair{client: c, server: s, frozen: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			s.Close()
			return
		}
		p.pairs = append(p.pairs, pr)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(pr, c, s)
		go p.pipe(pr, s, c)
	}
}

// pipe copies src to dst until either closes or the pair is frozen; a
// frozen pair keeps both connections open and drops what arrives.
func (p *Proxy) pipe(pr *pair, dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if pr.isFrozen() {
			if err != nil {
				return
			}
			continue
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				return
			}
			if tc, ok := dst.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
			return
		}
	}
}

// Freeze stops traffic on every connection the proxy holds now, without
// closing them. New connections pass as before.
func (p *Proxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pr := range p.pairs {
		if !pr.isFrozen() {
			close(pr.frozen)
		}
	}
}

func (pr *pair) isFrozen() bool {
	select {
	case <-pr.frozen:
		return true
	default:
		return false
	}
}

func (p *Proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for _, pr := range p.pairs {
		pr.client.Close()
		pr.server.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
