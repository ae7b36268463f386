package frontend

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/securegw/gateway/proxy/internal/rawread"
)

// A keep-alive answer on a TCP connection (under TLS too) is sent from
// inside the wait for the client's next request (the answer is deferred).
//
// Go's net.Conn.Read first tries read(2) and parks only when it finds
// nothing (EAGAIN). Right after an answer is sent the next request is not
// there yet, so that try costs a system call for nothing on every request
// of a busy connection (a microsecond and more on a virtual machine).
// Waiting first is not possible on its own: readiness that came before the
// wait began is reset when it begins (internal/poll's prepareRead). Sent
// from inside the wait, after that reset, the answer cannot be followed by
// a request the wait misses.
//
// Bytes a client sent before the answer (a pipelined request that came
// while the handler ran, after the connection's last read) may be missed
// by the wait: it ends after deferredWait at the latest, and the usual
// read finds them. An answer is deferred only when the request had no
// body and no byte of a next request was seen (buffered, or kept by the
// client-gone watch); every way out of serving the connection sends a
// deferred answer first (flushDeferred).
//
// Under TLS the wait is crypto/tls's read of the TCP connection (tlsRead,
// tlsSock): the answer is encrypted and sent from inside it as above.
// A request crypto/tls already decrypted or buffered (it came with the
// last one) needs no read of the connection: the answer is sent before
// it is served.

// deferredWait bounds the wait an answer is sent from, for the bytes it
// may miss (a pipelined request's): a busy client's next request comes
// well within it, an idle one's is waited for as usual after it.
const deferredWait = 10 * time.Millisecond

// answersAtOnce is how many answers a connection sends at once, not
// deferred, after a deferred wait ran to its deadline. A client that
// pauses longer than deferredWait after an answer (each of a thousand
// busy connections sharing one backend; a browser's) most likely pauses
// as long after the next: each such wait's timer would wake the
// connection's goroutine, which sets the usual deadline and reads, to find
// nothing, before it waits again. An answer sent at once costs only that
// read; a busy client that paused once pays it for answersAtOnce answers.
const answersAtOnce = 8

// sendWait is deferredWait but in tests (a time.Duration): one of 0 makes
// the wait's deadline pass before it begins, as for a goroutine that runs
// late.
var sendWait atomic.Int64

func init() { sendWait.Store(int64(deferredWait)) }

// mayDefer reports whether the answer r finishes may stay in the buffer
// for the next wait to send.
func (c *leanConn) mayDefer(r *response) bool {
	if c.sock == nil || c.big || r.body != nil || r.closeAfter || c.writeFailed || c.s.shutdown.Load() {
		return false
	}
	if c.atOnce > 0 {
		c.atOnce--
		return false
	}
	if c.raw == nil {
		raw, err := c.sock.SyscallConn()
		if err != nil {
			return false
		}
		c.raw, c.step = raw, c.sendStep
	}
	return true
}

// errAnswerNotSent: sending a deferred answer failed; the connection ends.
var errAnswerNotSent = errors.New("frontend: the answer could not be sent")

// flushDeferred sends a deferred answer (nothing when there is none).
func (c *leanConn) flushDeferred() error {
	if !c.deferred {
		return nil
	}
	c.deferred = false
	return c.bw.Flush()
}

// sendRead sends the deferred answer, waits for the client's next bytes
// and reads them into p, as connReader reads the connection.
func (c *leanConn) sendRead(p []byte) (int, error) {
	c.rp, c.rn, c.rerr = p, 0, nil
	err := c.raw.Read(c.step) // the read deadline applies to its wait
	n, serr := c.rn, c.rerr
	c.rp, c.rerr = nil, nil
	if serr != nil {
		return 0, serr
	}
	if err != nil {
		return 0, err
	}
	return n, nil
}

// tlsRead reads the client's next bytes through crypto/tls, whose read of
// the TCP connection sends the deferred answer from inside its wait
// (tlsSock). Bytes crypto/tls already holds need no read of the connection:
// the answer goes out then, before they are served. So does an answer
// whose wait never began (its deadline passed first: a goroutine that ran
// late), and the connection is idle after it, as after sendStep's: the
// usual wait follows, which Shutdown may end.
func (c *leanConn) tlsRead(p []byte) (int, error) {
	c.tlsSend = true
	n, err := c.nc.Read(p)
	c.tlsSend = false
	if !c.deferred {
		return n, err
	}
	if c.flushDeferred() != nil {
		return 0, errAnswerNotSent
	}
	if n == 0 {
		c.idle.Store(true) // answered, and no byte of a request came
	}
	return n, err
}

// sendStep runs inside the wait of c.raw.Read: the first time it sends the
// answer (which may wait for the client to take it, as any write) and asks
// to wait; then it reads what came.
func (c *leanConn) sendStep(fd uintptr) bool {
	if c.deferred {
		if c.flushDeferred() != nil {
			// Not the write's error, which may be a timeout: the wait
			// for a request would go on after it.
			c.rerr = errAnswerNotSent
			return true
		}
		c.idle.Store(true) // answered: Shutdown may close it now
		return false
	}
	n, done, err := rawread.Step(fd, c.rp)
	c.rn, c.rerr = n, err
	return done
}
