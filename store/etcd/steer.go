package etcd

import (
	"context"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
)

// steering closes the client's connections to a member that does not
// answer, so that calls and streams move to the members that do.
//
// The client spreads calls over every member whose connection is up, and
// the connection to a member that hangs (paused, its host or network
// stalled) stays up until gRPC's keepalive gives up on it: about 10 s, and
// longer once etcd's keepalive policy (a ping at most every 5 s) has made
// the client ping less often. Until then every third try goes to it and
// costs a whole attempt timeout, other callers' picks in between can send
// each retry of one call there again, and the watch and lease streams on
// it are stuck. So when a try gets no answer (suspect), steering asks
// every member a read it answers by itself (serializable: no leader
// needed); when some answer and others do not within the attempt timeout,
// it closes the connections to the silent ones. gRPC connects to them
// again at once, but a connection counts only once the member has answered
// its handshake: the balancer leaves a hung member out, calls and streams
// go to the others, and it is used again as soon as it answers.
type steering struct {
	eps     []string
	kvs     []pb.KVClient // one connection per member
	probes  []*grpc.ClientConn
	probe   *pb.RangeRequest
	conns   *connSet
	timeout time.Duration
	log     *slog.Logger
	kick    chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	stopped chan struct{}
}

// steer starts steering cli, whose connections conns dialed; nil (nothing
// to steer to) for a single endpoint.
func steer(cli *clientv3.Client, conns *connSet, prefix string, timeout time.Duration, log *slog.Logger) *steering {
	eps := cli.Endpoints()
	if len(eps) < 2 {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	// A serializable read is answered by the member itself (no leader
	// needed), and needs no more than the store's own permission.
	probe := &pb.RangeRequest{Key: []byte(prefix + keyRevision), Serializable: true, CountOnly: true}
	st := &steering{eps: eps, conns: conns, probe: probe, timeout: timeout, log: log,
		kick: make(chan struct{}, 1), ctx: ctx, cancel: cancel, stopped: make(chan struct{})}
	for _, ep := range eps {
		// A connection of its own per member (made when first used), so
		// that each question goes where it is meant to.
		conn, err := cli.Dial(ep)
		if err != nil {
			log.Warn("not watching for etcd members that hang", "endpoint", ep, "err", err)
			st.closeProbes()
			cancel()
			return nil
		}
		st.probes = append(st.probes, conn)
		st.kvs = append(st.kvs, pb.NewKVClient(conn))
	}
	go st.run()
	return st
}

// suspect reports a try that got no answer: the members are asked soon.
func (st *steering) suspect() {
	if st == nil {
		return
	}
	select {
	case st.kick <- struct{}{}:
	default: // a round is due already
	}
}

// stop ends steering.
func (st *steering) stop() {
	if st == nil {
		return
	}
	st.cancel()
	<-st.stopped
	st.closeProbes()
}

func (st *steering) closeProbes() {
	for _, c := range st.probes {
		_ = c.Close()
	}
}

func (st *steering) run() {
	defer close(st.stopped)
	for {
		select {
		case <-st.ctx.Done():
			return
		case <-st.kick:
		}
		st.check()
	}
}

// check asks every member a local read and, when some answer, closes the
// connections to those that do not answer in time.
func (st *steering) check() {
	ctx, cancel := context.WithTimeout(st.ctx, st.timeout)
	defer cancel()
	errs := make([]error, len(st.eps))
	var wg sync.WaitGroup
	for i, kv := range st.kvs {
		wg.Go(func() {
			_, errs[i] = kv.Range(ctx, st.probe)
		})
	}
	wg.Wait()
	answered := 0
	for _, err := range errs {
		if err == nil {
			answered++
		}
	}
	if answered == 0 || st.ctx.Err() != nil {
		return // none to move to, or stopping
	}
	for i, ep := range st.eps {
		// A member that refuses connections is left out by gRPC already;
		// one that accepts them and hangs does not answer in time.
		if errs[i] == nil || !isTimeout(errs[i]) {
			continue
		}
		if n := st.conns.cut(dialAddress(ep)); n > 0 {
			st.log.Warn("an etcd member does not answer: its connections are closed, calls go to the others until it answers",
				"endpoint", ep, "connections", n)
		}
	}
}

// connSet dials the client's connections and keeps them by address, so
// that those to one member can be closed.
type connSet struct {
	mu    sync.Mutex
	conns map[string]map[*trackedConn]struct{}
}

func newConnSet() *connSet { return &connSet{conns: map[string]map[*trackedConn]struct{}{}} }

// dial is the client's dialer (grpc.WithContextDialer). addr is what the
// client makes of an endpoint (see dialAddress). gRPC sets TCP_USER_TIMEOUT
// only on connections it dialed itself; its keepalive still ends one to a
// host that died.
func (s *connSet) dial(ctx context.Context, addr string) (net.Conn, error) {
	network, address := "tcp", addr
	if p, ok := strings.CutPrefix(addr, "unix://"); ok {
		network, address = "unix", p
	} else if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, address = "unix", p
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, set: s, addr: addr}
	s.mu.Lock()
	if s.conns[addr] == nil {
		s.conns[addr] = map[*trackedConn]struct{}{}
	}
	s.conns[addr][tc] = struct{}{}
	s.mu.Unlock()
	return tc, nil
}

// cut closes every connection to addr and returns how many there were.
func (s *connSet) cut(addr string) int {
	s.mu.Lock()
	conns := s.conns[addr]
	delete(s.conns, addr)
	s.mu.Unlock()
	for c := range conns {
		_ = c.Conn.Close()
	}
	return len(conns)
}

type trackedConn struct {
	net.Conn
	set  *connSet
	addr string
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.set.mu.Lock()
		delete(c.set.conns[c.addr], c)
		c.set.mu.Unlock()
	})
	return c.Conn.Close()
}

// dialAddress is the address the client dials for endpoint ep, as
// clientv3 translates endpoints: host:port of an http(s) URL, unix
// sockets as "unix:path" or "unix://absolute-path", anything else as is.
func dialAddress(ep string) string {
	switch {
	case strings.HasPrefix(ep, "unix:///"), strings.HasPrefix(ep, "unixs:///"):
		_, p, _ := strings.Cut(ep, "://")
		return "unix://" + p
	case strings.HasPrefix(ep, "unix://"), strings.HasPrefix(ep, "unixs://"):
		_, p, _ := strings.Cut(ep, "://")
		return "unix:" + p
	case strings.HasPrefix(ep, "unix:"), strings.HasPrefix(ep, "unixs:"):
		_, p, _ := strings.Cut(ep, ":")
		return "unix:" + p
	case strings.Contains(ep, "://"):
		u, err := url.Parse(ep)
		if err == nil && (u.Scheme == "http" || u.Scheme == "https") {
			return u.Host
		}
	}
	return ep
}
