package wsrelay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Defaults of Limits and HubOptions.
const (
	DefaultMaxMessageBytes = 1 << 20
	DefaultWriteTimeout    = 10 * time.Second
	DefaultCloseTimeout    = 2 * time.Second
	DefaultSweepInterval   = 200 * time.Millisecond
)

// bufSize is the size of the pooled readers and writers.
const bufSize = 4 << 10

// Limits bound one relayed connection. Zero fields take the defaults.
type Limits struct {
	// MaxMessageBytes bounds a message (all its fragments): close 1009.
	MaxMessageBytes int64
	// WriteTimeout bounds writing a frame to a side, and reading the rest
	// of a frame once it started; past it the side is dropped. Deadlines
	// are set per burst, not per frame: each write or read is given ¾ to
	// all of it.
	WriteTimeout time.Duration
	// IdleTimeout closes the connection (1001) when no message, ping or
	// pong passed either way for that long (the relay's own keepalive
	// pings and their pongs do not count); 0: never.
	IdleTimeout time.Duration
	// PingInterval: a side not heard from for that long is pinged, and
	// closed (1001) if it stays silent for another interval; 0: no pings.
	PingInterval time.Duration
}

func (l Limits) withDefaults() Limits {
	if l.MaxMessageBytes <= 0 {
		l.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = DefaultWriteTimeout
	}
	return l
}

// Options configure one relayed connection.
type Options struct {
	Limits
	// ToBackend and ToClient rewrite the messages of each direction; nil:
	// messages pass untouched.
	ToBackend, ToClient *Bound
	// Guard, when set, is asked on every sweep whether the connection must
	// close (a credential revoked or expired): a non-zero code closes it
	// with that code and reason.
	Guard func(now time.Time) (code int, reason string)
	// OnClose runs once when both TCP connections are closed.
	OnClose func()
	// ClientDeflate and BackendDeflate: permessage-deflate was negotiated
	// with that side (without context takeover either way; see
	// AcceptDeflate, DeflateOffer).
	ClientDeflate, BackendDeflate bool
}

// HubOptions configure a Hub.
type HubOptions struct {
	// CloseTimeout is how long a closing connection waits for the peers'
	// close frames before dropping them; 0: DefaultCloseTimeout.
	CloseTimeout time.Duration
	// SweepInterval is how often idle, keepalive and Guard checks run;
	// 0: DefaultSweepInterval.
	SweepInterval time.Duration
	// NoPark keeps one goroutine per side instead of parking idle sides
	// on epoll (for measurements; parking is the default where supported).
	NoPark bool
}

// Hub tracks relayed connections and runs their sweeper.
type Hub struct {
	opts   HubOptions
	poller *poller // nil: sides are not parked

	mu      sync.Mutex
	conns   map[*Conn]struct{}
	closed  bool
	stop    chan struct{}
	running bool
	wg      sync.WaitGroup

	keepalive [8]byte // payload of the hub's pings: their pongs are not relayed
}

// ErrClosed is returned by Relay once CloseAll began.
var ErrClosed = errors.New("wsrelay: hub closed")

// NewHub returns a hub; its sweeper runs while it has connections.
func NewHub(o HubOptions) *Hub {
	if o.CloseTimeout <= 0 {
		o.CloseTimeout = DefaultCloseTimeout
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = DefaultSweepInterval
	}
	h := &Hub{opts: o, conns: map[*Conn]struct{}{}}
	if !o.NoPark {
		h.poller, _ = sharedPoller() // nil where unsupported: goroutines then
	}
	binary.LittleEndian.PutUint64(h.keepalive[:], rand.Uint64())
	return h
}

// Conn is one relayed connection.
type Conn struct {
	hub   *Hub
	lim   Limits
	guard func(time.Time) (int, string)
	onEnd func()
	sides [2]side // client, backend

	lastData atomic.Int64 // unix ns of the last frame relayed either way
	closing  atomic.Bool  // a close began (by the relay, a peer or Close)
	done     atomic.Bool

	mu    sync.Mutex
	timer *time.Timer // forces the end CloseTimeout after closing began
}

const (
	client  = 0
	backend = 1
)

// side is one of the two connections of a Conn: frames read from it go to
// the other side.
type side struct {
	c       *Conn
	idx     int
	conn    net.Conn
	pending []byte // bytes read before the relay began
	one     [1]byte
	hasOne  bool
	rules   *Bound // rewrites the messages read from this side
	deflate bool   // permessage-deflate negotiated with this side

	// Parking (pmu guards closed against the descriptor's reuse: the raw
	// reads and writes hold it shared, shut holds it alone).
	fd       int
	parkable bool
	pollID   uint64
	pmu      sync.RWMutex
	closed   bool
	state    atomic.Int32 // parked, running or woken (see wake)
	hup      atomic.Bool  // the peer shut its side or the connection failed: read to the end

	// Writing to this side.
	wmu      sync.Mutex
	bw       *bufio.Writer // non-nil while a frame batch is being written
	wrearmAt time.Time     // when the write deadline is due for a refresh

	// Reading from this side: one goroutine at a time, holding rmu (the
	// poller's wake-ups order them, but through the kernel).
	rmu        sync.Mutex
	rearmAt    time.Time // when the read deadline is due for a refresh
	armed      bool      // a read deadline is set (parked sides have none)
	drained    bool      // the last read from the socket emptied it
	atBoundary bool      // between frames: a read finding nothing returns errWouldBlock
	readAt     int64     // unix ns of the last read that brought bytes (the frames' arrival)
	inMsg      bool
	msgZ       bool // the message is compressed (RSV1)
	msgOp      byte
	msgLen     int64
	text       utf8Stream
	msg        []byte // a message being collected for rewriting or inflating

	lastHeard atomic.Int64 // unix ns of the last frame read
	pingSent  atomic.Int64 // unix ns of an unanswered keepalive ping, 0: none
	closeSent atomic.Bool  // a close frame was written to this side
	closeRecv atomic.Bool  // a close frame was read from this side
	dead      atomic.Bool  // its connection failed or was closed
}

func (s *side) other() *side { return &s.c.sides[1-s.idx] }

var (
	readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, bufSize) }}
	writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, bufSize) }}
	inUse   atomic.Int64 // pooled readers and writers taken and not returned
)

// BuffersInUse is the number of pooled buffers relays hold right now: 0
// when every relayed connection is idle (or none is open).
func BuffersInUse() int64 { return inUse.Load() }

func getReader() *bufio.Reader {
	inUse.Add(1)
	return readers.Get().(*bufio.Reader)
}

func putReader(br *bufio.Reader) {
	br.Reset(nil)
	readers.Put(br)
	inUse.Add(-1)
}

// Relay starts relaying between client (the gateway is its server) and
// backend (the gateway is its client), both past their handshakes.
// clientPending and backendPending are bytes already read from each.
// The connections are the relay's from now on, also on error.
func (h *Hub) Relay(clientConn net.Conn, clientPending []byte, backendConn net.Conn, backendPending []byte, o Options) (*Conn, error) {
	c := &Conn{hub: h, lim: o.Limits.withDefaults(), guard: o.Guard, onEnd: o.OnClose}
	now := time.Now().UnixNano()
	c.lastData.Store(now)
	for i, nc := range [2]net.Conn{clientConn, backendConn} {
		s := &c.sides[i]
		s.c, s.idx, s.conn = c, i, nc
		s.lastHeard.Store(now)
		if h.poller != nil {
			s.fd, s.parkable = parkableFD(nc)
		}
	}
	c.sides[client].pending, c.sides[backend].pending = clientPending, backendPending
	c.sides[client].rules, c.sides[backend].rules = o.ToBackend, o.ToClient
	c.sides[client].deflate, c.sides[backend].deflate = o.ClientDeflate, o.BackendDeflate
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		clientConn.Close()
		backendConn.Close()
		return nil, ErrClosed
	}
	h.conns[c] = struct{}{}
	h.wg.Add(1)
	if !h.running {
		h.running = true
		h.stop = make(chan struct{})
		go h.sweep(h.stop)
	}
	h.mu.Unlock()
	for i := range c.sides {
		s := &c.sides[i]
		if s.parkable {
			// Parked when there is nothing to relay yet (bytes already in
			// the socket wake it at once); else running from the start,
			// an event meanwhile marking it woken.
			idle := len(s.pending) == 0
			if !idle {
				s.state.Store(sideRunning)
			}
			if err := h.poller.add(s); err == nil {
				if !idle {
					startRun(s)
				}
				continue
			}
			s.parkable = false
		}
		go s.run()
	}
	return c, nil
}

// Len is the number of open relayed connections.
func (h *Hub) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

// CloseAll closes every connection with code and reason and refuses new
// ones, then waits until all ended or ctx is done.
func (h *Hub) CloseAll(ctx context.Context, code int, reason string) error {
	h.mu.Lock()
	h.closed = true
	for c := range h.conns {
		c.Close(code, reason)
	}
	h.mu.Unlock()
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("closing relayed connections: %w", ctx.Err())
	}
}

// sweep runs the timed checks until the hub has no connection left.
func (h *Hub) sweep(stop chan struct{}) {
	t := time.NewTicker(h.opts.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			h.mu.Lock()
			for c := range h.conns {
				c.check(now)
			}
			h.mu.Unlock()
		}
	}
}

func (h *Hub) remove(c *Conn) {
	h.mu.Lock()
	delete(h.conns, c)
	if len(h.conns) == 0 && h.running {
		h.running = false
		close(h.stop)
	}
	h.mu.Unlock()
	h.wg.Done()
}

// check runs c's timed checks (under h.mu: nothing here blocks).
func (c *Conn) check(now time.Time) {
	if c.closing.Load() {
		return
	}
	if c.guard != nil {
		if code, reason := c.guard(now); code != 0 {
			c.Close(code, reason)
			return
		}
	}
	ns := now.UnixNano()
	if c.lim.IdleTimeout > 0 && ns-c.lastData.Load() > int64(c.lim.IdleTimeout) {
		c.Close(CloseGoingAway, "idle timeout")
		return
	}
	if c.lim.PingInterval <= 0 {
		return
	}
	for i := range c.sides {
		s := &c.sides[i]
		sent := s.pingSent.Load()
		switch {
		case sent != 0 && ns-sent > int64(c.lim.PingInterval):
			c.Close(CloseGoingAway, "keepalive timeout")
			return
		case sent == 0 && ns-s.lastHeard.Load() > int64(c.lim.PingInterval):
			s.pingSent.Store(ns)
			go s.ping()
		}
	}
}

// ping sends the hub's keepalive ping unless a frame is being written.
func (s *side) ping() {
	if !s.wmu.TryLock() {
		return // busy writing: the side is alive enough; asked again next sweep
	}
	err := s.writeControlLocked(OpPing, s.c.hub.keepalive[:])
	s.wmu.Unlock()
	if err != nil {
		s.c.drop(s, err)
	}
}

// Close closes c: a close frame with code and reason to both sides, then
// both TCP connections once they answered or CloseTimeout passed. It does
// not block.
func (c *Conn) Close(code int, reason string) {
	if c.closing.Swap(true) {
		return
	}
	c.armTimer()
	go func() {
		p := ClosePayload(code, reason)
		for i := range c.sides {
			s := &c.sides[i]
			if !s.dead.Load() && !s.closeSent.Swap(true) {
				if err := s.writeControl(OpClose, p); err != nil {
					c.drop(s, err)
				}
			}
		}
		c.maybeFinish()
	}()
}

func (c *Conn) armTimer() {
	c.mu.Lock()
	if c.timer == nil && !c.done.Load() {
		c.timer = time.AfterFunc(c.hub.opts.CloseTimeout, c.finish)
	}
	c.mu.Unlock()
}

// maybeFinish ends c when each side either completed the close handshake
// or is gone.
func (c *Conn) maybeFinish() {
	for i := range c.sides {
		s := &c.sides[i]
		if !s.dead.Load() && !(s.closeSent.Load() && s.closeRecv.Load()) {
			return
		}
	}
	c.finish()
}

// finish closes both connections and untracks c, once.
func (c *Conn) finish() {
	if c.done.Swap(true) {
		return
	}
	c.closing.Store(true)
	c.mu.Lock()
	if c.timer != nil {
		c.timer.Stop()
	}
	c.mu.Unlock()
	for i := range c.sides {
		c.sides[i].shut()
	}
	// onEnd before remove: CloseAll returns when the last remove is done,
	// and by then every connection's owner must have forgotten it.
	if c.onEnd != nil {
		c.onEnd()
	}
	c.hub.remove(c)
}

// shut unparks and closes s's connection.
func (s *side) shut() {
	s.dead.Store(true)
	s.pmu.Lock()
	if !s.closed {
		s.closed = true
		if s.parkable {
			s.c.hub.poller.remove(s)
		}
		s.conn.Close()
	}
	s.pmu.Unlock()
}

// drop handles a side whose connection failed: it is closed, and the other
// side gets a close frame (1011 when the backend went, 1001 when the client
// did) unless it had one.
func (c *Conn) drop(s *side, err error) {
	_ = err // the peer went away or broke the protocol: nothing for the log
	if s.dead.Swap(true) {
		c.maybeFinish()
		return
	}
	s.shut()
	o := s.other()
	c.closing.Store(true)
	c.armTimer()
	if !o.dead.Load() && !o.closeSent.Swap(true) {
		code, reason := CloseGoingAway, "client went away"
		if s.idx == backend {
			code, reason = CloseInternalError, "backend went away"
		}
		if err := o.writeControl(OpClose, ClosePayload(code, reason)); err != nil {
			o.dead.Store(true)
			o.shut()
		}
	}
	c.maybeFinish()
}

// protocolError is a frame the relay refuses: the sender gets a close
// frame with code, and the connection ends.
type protocolError struct {
	code   int
	reason string
}

func (e *protocolError) Error() string {
	return fmt.Sprintf("websocket: %s (close %d)", e.reason, e.code)
}

// writeError is a failure to write to the other side.
type writeError struct{ err error }

func (e *writeError) Error() string { return "writing to the peer: " + e.err.Error() }

// States of a parkable side: no goroutine (parked), one relaying its
// frames (running), or one relaying while another event came (woken: it
// reads again before it parks).
const (
	sideParked int32 = iota
	sideRunning
	sideWoken
)

// errWouldBlock: the socket holds nothing between two frames (side.Read
// at a frame boundary).
var errWouldBlock = errors.New("wsrelay: nothing to read")

// wake is the poller's event for s: bytes arrived, or the peer closed
// (hup). It starts a goroutine for a parked side, or tells the running
// one. Once the peer closed, no later event comes: the side reads until
// the end instead of parking after a short read (bytes and the close may
// come in one event).
func (s *side) wake(hup bool) {
	if hup {
		s.hup.Store(true)
	}
	for {
		switch s.state.Load() {
		case sideParked:
			if s.state.CompareAndSwap(sideParked, sideRunning) {
				startRun(s)
				return
			}
		case sideRunning:
			if s.state.CompareAndSwap(sideRunning, sideWoken) {
				return
			}
		default:
			return
		}
	}
}

// Workers run woken sides: a goroutine that relayed one waits a while for
// the next, so that a busy relay neither starts a goroutine per wake nor
// grows a new one's stack each time. At most maxIdleWorkers wait, each
// for workerIdle at most: an idle gateway keeps none.
var (
	work        = make(chan *side)
	idleWorkers atomic.Int32
)

const (
	maxIdleWorkers = 256
	workerIdle     = 2 * time.Second
)

// startRun runs s on a waiting worker, or on a new one.
func startRun(s *side) {
	select {
	case work <- s:
	default:
		go runWorker(s)
	}
}

func runWorker(s *side) {
	var t *time.Timer
	for {
		s.run()
		if idleWorkers.Add(1) > maxIdleWorkers {
			idleWorkers.Add(-1)
			return
		}
		if t == nil {
			t = time.NewTimer(workerIdle)
		} else {
			t.Reset(workerIdle)
		}
		select {
		case s = <-work:
			idleWorkers.Add(-1)
		case <-t.C:
			idleWorkers.Add(-1)
			return
		}
	}
}

// run relays the frames read from s.
//
// A parkable side's goroutine reads what the socket holds (never waiting
// between frames), relays the frames, and parks once a read found the
// socket drained and no event came meanwhile: it then holds no goroutine
// and no buffer, and the poller's next event starts another. A frame
// that arrives in parts waits for its rest in the netpoller, bounded by
// WriteTimeout. Sides that cannot be parked (TLS, other systems) wait on
// a one-byte read without buffers.
func (s *side) run() {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if !s.parkable {
		s.runBlocking()
		return
	}
	br := getReader()
	br.Reset(s)
	s.drained = false
	for {
		if br.Buffered() == 0 && len(s.pending) == 0 {
			if !s.drained || s.hup.Load() {
				s.atBoundary = true
				_, err := br.Peek(1)
				s.atBoundary = false
				if err == nil {
					continue
				}
				if !errors.Is(err, errWouldBlock) {
					putReader(br)
					s.fail(err)
					return
				}
			}
			if s.armed {
				s.armed = false
				s.rearmAt = time.Time{}
				_ = s.conn.SetReadDeadline(time.Time{})
			}
			if s.state.CompareAndSwap(sideRunning, sideParked) {
				putReader(br)
				return
			}
			s.state.Store(sideRunning) // woken meanwhile: read again
			s.drained = false
			continue
		}
		if err := s.frame(br); err != nil {
			putReader(br)
			s.fail(err)
			return
		}
	}
}

// runBlocking relays the frames of a side that cannot be parked: while
// frames come, with a pooled reader and a read deadline refreshed once a
// quarter of it passed; in between, a one-byte read without buffers.
func (s *side) runBlocking() {
	br := getReader()
	br.Reset(s)
	s.armRead(time.Now())
	for {
		if err := s.frame(br); err != nil {
			putReader(br)
			s.fail(err)
			return
		}
		if br.Buffered() > 0 || len(s.pending) > 0 || s.hasOne {
			if now := time.Now(); now.After(s.rearmAt) {
				s.armRead(now)
			}
			continue
		}
		putReader(br)
		_ = s.conn.SetReadDeadline(time.Time{})
		if _, err := io.ReadFull(s.conn, s.one[:]); err != nil {
			s.fail(err)
			return
		}
		s.hasOne = true
		br = getReader()
		br.Reset(s)
		s.armRead(time.Now())
	}
}

// armRead bounds the reads of the frames that follow by WriteTimeout
// from now; the next call is due when a quarter of it has passed.
func (s *side) armRead(now time.Time) {
	_ = s.conn.SetReadDeadline(now.Add(s.c.lim.WriteTimeout))
	s.rearmAt = now.Add(s.c.lim.WriteTimeout / 4)
	s.armed = true
}

// fail ends the relay after an error reading from s (or writing what s sent).
func (s *side) fail(err error) {
	c := s.c
	var pe *protocolError
	var we *writeError
	switch {
	case errors.As(err, &pe):
		if !s.closeSent.Swap(true) {
			_ = s.writeControl(OpClose, ClosePayload(pe.code, pe.reason))
		}
		c.drop(s, err)
	case errors.As(err, &we):
		c.drop(s.other(), err)
	default:
		c.drop(s, err)
	}
}

// Read serves the bytes read before the relay began, then the connection.
//
// A parkable side reads what the socket holds; when it holds nothing, a
// read between frames returns errWouldBlock (the side parks), one within
// a frame waits in the netpoller, bounded by WriteTimeout.
//
// The time of each read that brings bytes is kept (readAt): the arrival
// of the frames in them, read once per read rather than per frame.
func (s *side) Read(p []byte) (int, error) {
	n, err := s.read(p)
	if n > 0 {
		s.readAt = time.Now().UnixNano()
	}
	return n, err
}

func (s *side) read(p []byte) (int, error) {
	switch {
	case s.hasOne && len(p) > 0:
		p[0], s.hasOne = s.one[0], false
		return 1, nil
	case len(s.pending) > 0:
		n := copy(p, s.pending)
		s.pending = s.pending[n:]
		if len(s.pending) == 0 {
			s.pending = nil
		}
		return n, nil
	case !s.parkable:
		return s.conn.Read(p)
	}
	n, again, err := s.readNow(p)
	if !again {
		s.drained = n < len(p)
		return n, err
	}
	s.drained = true
	if s.atBoundary {
		return 0, errWouldBlock
	}
	if now := time.Now(); now.After(s.rearmAt) {
		s.armRead(now)
	}
	n, err = s.conn.Read(p)
	s.drained = n < len(p)
	return n, err
}

// readHeader reads and checks a frame header from s.
func (s *side) readHeader(br *bufio.Reader) (header, error) {
	var h header
	b, err := br.Peek(2)
	if err != nil {
		return h, err
	}
	h.fin, h.rsv, h.op = b[0]&0x80 != 0, b[0]&0x70, b[0]&0x0F
	h.masked = b[1]&0x80 != 0
	n := 2
	switch l := b[1] & 0x7F; l {
	case 126:
		n += 2
	case 127:
		n += 8
	default:
		h.length = int64(l)
	}
	if h.masked {
		n += 4
	}
	if b, err = br.Peek(n); err != nil {
		return h, err
	}
	switch b[1] & 0x7F {
	case 126:
		h.length = int64(binary.BigEndian.Uint16(b[2:]))
	case 127:
		v := binary.BigEndian.Uint64(b[2:])
		if v>>63 != 0 {
			return h, &protocolError{CloseProtocolError, "64-bit length with the most significant bit set"}
		}
		h.length = int64(v)
	}
	if h.masked {
		copy(h.key[:], b[n-4:])
	}
	_, _ = br.Discard(n)
	switch {
	case h.rsv == 0x40 && s.deflate && (h.op == OpText || h.op == OpBinary):
		// RSV1 on a message's first frame: compressed (permessage-deflate).
	case h.rsv != 0:
		return h, &protocolError{CloseProtocolError, "reserved bits set without a negotiated extension"}
	case h.op > OpBinary && h.op < OpClose, h.op > OpPong:
		return h, &protocolError{CloseProtocolError, "unknown opcode"}
	case h.control() && (!h.fin || h.length > 125):
		return h, &protocolError{CloseProtocolError, "fragmented or oversized control frame"}
	case s.idx == client && !h.masked:
		return h, &protocolError{CloseProtocolError, "unmasked client frame"}
	case s.idx == backend && h.masked:
		return h, &protocolError{CloseProtocolError, "masked server frame"}
	}
	return h, nil
}

// frame relays one frame read from s.
func (s *side) frame(br *bufio.Reader) error {
	h, err := s.readHeader(br)
	if err != nil {
		return err
	}
	now := s.readAt
	s.lastHeard.Store(now)
	if s.pingSent.Load() != 0 {
		s.pingSent.Store(0)
	}
	if h.control() {
		var buf [125]byte
		p := buf[:h.length]
		if _, err := io.ReadFull(br, p); err != nil {
			return err
		}
		if h.masked {
			maskBytes(h.key, 0, p)
		}
		return s.control(h.op, p)
	}
	switch {
	case h.op == OpContinuation && !s.inMsg:
		return &protocolError{CloseProtocolError, "continuation frame without a message"}
	case h.op != OpContinuation && s.inMsg:
		return &protocolError{CloseProtocolError, "new message before the last one ended"}
	case h.op != OpContinuation:
		s.inMsg, s.msgOp, s.msgLen, s.msgZ = true, h.op, 0, h.rsv != 0
	}
	s.msgLen += h.length
	if s.msgLen > s.c.lim.MaxMessageBytes {
		return &protocolError{CloseMessageTooBig, "message too big"}
	}
	s.c.lastData.Store(now)
	o := s.other()
	switch {
	case s.closeRecv.Load() || o.closeSent.Load():
		// Closing: what follows a close frame is not relayed.
		_, err = br.Discard(int(h.length))
	case s.msgZ:
		err = s.collectCompressed(br, h)
	case s.rules != nil && s.rules.Applies(s.msgOp):
		err = s.collect(br, h)
	default:
		err = s.stream(br, h)
	}
	if err != nil {
		return err
	}
	if h.fin {
		s.inMsg = false
		if s.msgOp == OpText && !s.text.end() {
			return &protocolError{CloseInvalidPayload, "invalid UTF-8 in a text message"}
		}
	}
	return nil
}

// stream copies a data frame's payload to the other side as it arrives.
func (s *side) stream(br *bufio.Reader, h header) error {
	o := s.other()
	o.wmu.Lock()
	defer o.wmu.Unlock()
	bw := o.writerLocked()
	key := o.maskKey()
	if err := writeHeader(bw, h.fin, h.op, h.length, o.idx == backend, key); err != nil {
		o.releaseLocked()
		return &writeError{err}
	}
	var pos, wpos int
	for rem := h.length; rem > 0; {
		if br.Buffered() == 0 {
			if _, err := br.Peek(1); err != nil {
				o.flushLocked()
				return err
			}
		}
		n := int(min(int64(br.Buffered()), rem))
		p, _ := br.Peek(n)
		if h.masked {
			pos = maskBytes(h.key, pos, p)
		}
		if s.msgOp == OpText && !s.text.write(p) {
			o.flushLocked()
			return &protocolError{CloseInvalidPayload, "invalid UTF-8 in a text message"}
		}
		if o.idx == backend {
			wpos = maskBytes(key, wpos, p)
		}
		if _, err := bw.Write(p); err != nil {
			o.releaseLocked()
			return &writeError{err}
		}
		_, _ = br.Discard(n)
		rem -= int64(n)
	}
	if br.Buffered() == 0 {
		if err := o.flushLocked(); err != nil {
			return &writeError{err}
		}
	}
	return nil
}

// appendPayload reads a frame's payload onto the message being gathered,
// unmasked, and returns the part it added.
func (s *side) appendPayload(br *bufio.Reader, h header) ([]byte, error) {
	start := len(s.msg)
	s.msg = append(s.msg, make([]byte, h.length)...)
	p := s.msg[start:]
	if _, err := io.ReadFull(br, p); err != nil {
		return nil, err
	}
	if h.masked {
		maskBytes(h.key, 0, p)
	}
	return p, nil
}

// collect gathers a message that a rule may rewrite; at its last frame the
// rewritten message goes out as one frame.
func (s *side) collect(br *bufio.Reader, h header) error {
	p, err := s.appendPayload(br, h)
	if err != nil {
		return err
	}
	if s.msgOp == OpText && !s.text.write(p) {
		return &protocolError{CloseInvalidPayload, "invalid UTF-8 in a text message"}
	}
	if !h.fin {
		return nil
	}
	out := s.rules.Apply(s.msgOp, s.msg)
	s.msg = nil
	if s.msgOp == OpText && !s.text.end() {
		return &protocolError{CloseInvalidPayload, "invalid UTF-8 in a text message"}
	}
	o := s.other()
	o.wmu.Lock()
	defer o.wmu.Unlock()
	if err := o.writeFrameLocked(true, s.msgOp, out); err != nil {
		return &writeError{err}
	}
	return nil
}

// collectCompressed gathers a compressed message; at its last frame it is
// inflated (bounded, checked) and passes on compressed as it came when
// the other side takes that and no rule rewrites it, else inflated (and
// rewritten), uncompressed.
func (s *side) collectCompressed(br *bufio.Reader, h header) error {
	if _, err := s.appendPayload(br, h); err != nil {
		return err
	}
	if !h.fin {
		return nil
	}
	z := s.msg
	s.msg = nil
	plain, err := inflate(z, s.c.lim.MaxMessageBytes)
	if err != nil {
		return err
	}
	if s.msgOp == OpText && !utf8.Valid(plain) {
		return &protocolError{CloseInvalidPayload, "invalid UTF-8 in a text message"}
	}
	o := s.other()
	op, out := s.msgOp, plain
	switch {
	case s.rules != nil && s.rules.Applies(s.msgOp):
		out = s.rules.Apply(s.msgOp, plain)
	case o.deflate:
		op, out = s.msgOp|0x40, z // RSV1: compressed, as it came
	}
	o.wmu.Lock()
	defer o.wmu.Unlock()
	if err := o.writeFrameLocked(true, op, out); err != nil {
		return &writeError{err}
	}
	return nil
}

// control handles a control frame read from s.
func (s *side) control(op byte, p []byte) error {
	o := s.other()
	switch op {
	case OpClose:
		if code := checkClosePayload(p); code != 0 {
			return &protocolError{code, "malformed close frame"}
		}
		s.closeRecv.Store(true)
		s.c.closing.Store(true)
		s.c.armTimer()
		switch {
		case o.dead.Load():
			// Nobody to relay to: the relay answers.
			if !s.closeSent.Swap(true) {
				if err := s.writeControl(OpClose, p); err != nil {
					return err
				}
			}
		case !o.closeSent.Swap(true):
			if err := o.writeControl(OpClose, p); err != nil {
				return &writeError{err}
			}
		}
		s.c.maybeFinish()
		return nil
	case OpPong:
		if bytes.Equal(p, s.c.hub.keepalive[:]) {
			return nil // the answer to the hub's keepalive
		}
	}
	if s.closeRecv.Load() || o.closeSent.Load() {
		return nil
	}
	// A relayed ping or pong is the peers' own keepalive: activity.
	s.c.lastData.Store(s.lastHeard.Load())
	if err := o.writeControl(op, p); err != nil {
		return &writeError{err}
	}
	return nil
}

// writeControl writes one control frame to s.
func (s *side) writeControl(op byte, p []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.writeControlLocked(op, p)
}

func (s *side) writeControlLocked(op byte, p []byte) error {
	if s.dead.Load() {
		return net.ErrClosed
	}
	return s.writeFrameLocked(true, op, p)
}

// writeFrameLocked writes a whole frame (payload p, masked towards the
// backend on a copy) and flushes; op may carry RSV1 (0x40).
func (s *side) writeFrameLocked(fin bool, op byte, p []byte) error {
	bw := s.writerLocked()
	key := s.maskKey()
	if err := writeHeader(bw, fin, op, int64(len(p)), s.idx == backend, key); err != nil {
		s.releaseLocked()
		return err
	}
	if s.idx == backend && len(p) > 0 {
		// Mask in chunks through the writer's free space, leaving p as is.
		pos := 0
		for len(p) > 0 {
			if bw.Available() == 0 {
				if err := bw.Flush(); err != nil {
					s.releaseLocked()
					return err
				}
			}
			chunk := bw.AvailableBuffer()[:min(bw.Available(), len(p))]
			copy(chunk, p)
			pos = maskBytes(key, pos, chunk)
			_, _ = bw.Write(chunk)
			p = p[len(chunk):]
		}
	} else if _, err := bw.Write(p); err != nil {
		s.releaseLocked()
		return err
	}
	return s.flushLocked()
}

// writeHeader writes a frame header into bw's free space (no copy of it
// on the heap per frame).
func writeHeader(bw *bufio.Writer, fin bool, op byte, length int64, masked bool, key [4]byte) error {
	if bw.Available() < maxHeader {
		if err := bw.Flush(); err != nil {
			return err
		}
	}
	_, err := bw.Write(appendHeader(bw.AvailableBuffer(), fin, op, length, masked, key))
	return err
}

// maskKey is a fresh masking key for a frame to the backend (RFC 6455
// §5.3: unpredictable), zero towards the client.
func (s *side) maskKey() [4]byte {
	var k [4]byte
	if s.idx == backend {
		binary.LittleEndian.PutUint32(k[:], rand.Uint32())
	}
	return k
}

// writerLocked returns s's pooled writer, taking one when none is held.
// The write deadline is WriteTimeout from when it was last set, refreshed
// once a quarter of it has passed: a write is given ¾ to all of it.
func (s *side) writerLocked() *bufio.Writer {
	if s.bw == nil {
		s.bw = writers.Get().(*bufio.Writer)
		inUse.Add(1)
		s.bw.Reset(s)
		if !s.parkable {
			s.armWrite()
		}
	}
	return s.bw
}

// armWrite bounds the writes that follow by WriteTimeout from when it
// was last set, refreshed once a quarter of it has passed.
func (s *side) armWrite() {
	if now := time.Now(); now.After(s.wrearmAt) {
		_ = s.conn.SetWriteDeadline(now.Add(s.c.lim.WriteTimeout))
		s.wrearmAt = now.Add(s.c.lim.WriteTimeout / 4)
	}
}

// Write writes p to s's connection (the pooled writer's target). A
// parkable side writes what the socket takes at once, and waits for the
// rest in the netpoller, bounded by WriteTimeout.
func (s *side) Write(p []byte) (int, error) {
	if !s.parkable {
		return s.conn.Write(p)
	}
	n, err := s.writeNow(p)
	if err != nil || n == len(p) {
		return n, err
	}
	s.armWrite()
	m, err := s.conn.Write(p[n:])
	return n + m, err
}

// flushLocked flushes and returns the writer to the pool.
func (s *side) flushLocked() error {
	if s.bw == nil {
		return nil
	}
	err := s.bw.Flush()
	s.releaseLocked()
	return err
}

func (s *side) releaseLocked() {
	if s.bw != nil {
		s.bw.Reset(nil)
		writers.Put(s.bw)
		inUse.Add(-1)
		s.bw = nil
	}
}
