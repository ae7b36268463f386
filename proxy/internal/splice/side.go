package splice

import (
	"errors"
	"net"
	"time"
)

// Side is one connection of CopySides and the bound of its waits.
type Side struct {
	Conn *net.TCPConn
	// Idle, when positive, is the stall bound: the side must make progress
	// (the source give bytes, the destination take some) within Idle of
	// the last progress, and its deadline (read for the source, write for
	// the destination) is moved to that before each wait. 0 leaves the
	// side's deadline alone.
	Idle time.Duration
	// End, with Idle, is a deadline no wait goes past (zero: none).
	End time.Time
	// Taken, when not nil, is told of the bytes each read took from a
	// source (their count) as soon as they left the connection, before
	// any of them goes to the destination: a caller that counts them
	// knows where the source stands before the destination's peer can
	// answer them (a request body's end before the backend answers its
	// last byte).
	Taken func(n int64)
}

// until is Idle from now, no later than End.
func (s *Side) until() time.Time {
	d := time.Now().Add(s.Idle)
	if !s.End.IsZero() && s.End.Before(d) {
		d = s.End
	}
	return d
}

// boundRead moves the source's read deadline; boundWrite the
// destination's write deadline.
func (s *Side) boundRead()  { _ = s.Conn.SetReadDeadline(s.until()) }
func (s *Side) boundWrite() { _ = s.Conn.SetWriteDeadline(s.until()) }

// Read reads the connection as a source of Copy would: a side under an
// io.LimitedReader is how a caller hands a bounded source to a writer's
// ReadFrom (h1.Conn.ReadFrom splices it with CopySides).
func (s *Side) Read(p []byte) (int, error) {
	if s.Idle > 0 {
		s.boundRead()
	}
	n, err := s.Conn.Read(p)
	if n > 0 && s.Taken != nil {
		s.Taken(int64(n))
	}
	return n, err
}

// Progress tells whether a connection's peer took bytes of its output
// between two points: a write that timed out while the peer was taking
// bytes (more slowly than the kernel wakes writers: a third of the send
// buffer) met a slow reader, not a stalled one.
type Progress struct {
	base  uint64
	known bool
}

// Mark records how many bytes c's peer acknowledged so far.
func (p *Progress) Mark(c *net.TCPConn) { p.base, p.known = Acked(c) }

// Moved reports whether c's peer acknowledged bytes since the last Mark
// or Moved (without one: true, once), and marks.
func (p *Progress) Moved(c *net.TCPConn) bool {
	a, ok := Acked(c)
	if !ok {
		return false
	}
	moved := !p.known || a > p.base
	p.base, p.known = a, true
	return moved
}

// Timeout reports whether err is a deadline's.
func Timeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
