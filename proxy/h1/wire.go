package h1

import (
	"net"
	"os"
	"syscall"

	"github.com/securegw/gateway/proxy/internal/rawread"
)

// wire is what a connection's buffers read from and write to: the
// connection itself, except for a request head flushed by FlushOnRead on
// plain TCP, which the next Read sends from inside its wait for the answer.
//
// Go's net.Conn.Read first tries read(2) and parks only when it finds
// nothing (EAGAIN). Right after a request is sent its answer is never
// there yet, so that try is a system call spent for nothing on every
// request (a microsecond and more on a virtual machine). Waiting first is
// not possible on its own: readiness that came before the wait began is
// reset when it begins (internal/poll's prepareRead), and the wait would
// not end. Sent from inside the wait, after that reset, the request cannot
// be answered before it: its answer is always seen.
type wire struct {
	nc  net.Conn
	raw syscall.RawConn // of the plain TCP connection; nil under TLS

	held    []byte // the head FlushOnRead held back
	holding bool   // the next Write is FlushOnRead's: held back
	sending bool   // held is sent by the next Read

	// State of one sendRead, for step (made once: no closure per request).
	out  []byte // of held, what is still to be sent
	p    []byte // the Read's buffer
	n    int
	err  error
	step func(fd uintptr) bool
}

func newWire(nc net.Conn, tcp *net.TCPConn) *wire {
	w := &wire{nc: nc}
	if tcp != nil {
		if raw, err := tcp.SyscallConn(); err == nil {
			w.raw = raw
			w.step = w.sendStep
		}
	}
	return w
}

func (w *wire) Write(p []byte) (int, error) {
	if w.holding {
		w.holding = false
		w.held = append(w.held[:0], p...)
		w.sending = true
		return len(p), nil
	}
	return w.nc.Write(p)
}

func (w *wire) Read(p []byte) (int, error) {
	if !w.sending {
		return w.nc.Read(p)
	}
	w.sending = false
	return w.sendRead(p)
}

// sendRead sends the held head, waits for the answer, and reads it into
// p. If the head does not fit the socket's buffer at once (EAGAIN after
// part of it), the rest is written and the answer read the usual way.
func (w *wire) sendRead(p []byte) (int, error) {
	w.out, w.p, w.n, w.err = w.held, p, 0, nil
	err := w.raw.Read(w.step) // the read deadline applies to its wait
	out, n, serr := w.out, w.n, w.err
	w.out, w.p, w.err = nil, nil, nil
	switch {
	case serr != nil:
		return 0, serr
	case len(out) > 0 && err == nil:
		if _, err := w.nc.Write(out); err != nil {
			return 0, err
		}
		return w.nc.Read(p)
	case err != nil:
		if len(out) > 0 {
			// The wait never began (its deadline had passed, or was
			// moved to the past, before it: a goroutine that ran late),
			// so sendStep never ran and nothing was sent. The head goes
			// now, as Flush would have sent it: else the next read would
			// wait for the answer to a request the backend never got.
			if _, werr := w.nc.Write(out); werr != nil {
				return 0, werr
			}
		}
		return 0, err
	}
	return n, nil
}

// sendStep runs inside the wait of w.raw.Read: the first time it sends
// the head and asks to wait; then it reads what came.
func (w *wire) sendStep(fd uintptr) bool {
	for len(w.out) > 0 {
		n, err := syscall.Write(int(fd), w.out)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return true // the socket's buffer is full: sendRead writes the rest
		case err != nil:
			w.err = os.NewSyscallError("write", err)
			return true
		}
		w.out = w.out[n:]
		if len(w.out) == 0 {
			return false // sent: wait for the answer before reading
		}
	}
	n, done, err := rawread.Step(fd, w.p)
	w.n, w.err = n, err
	return done
}
