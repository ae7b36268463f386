package wsrelay

import (
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"
)

// poller parks idle sides on one epoll instance. A side is registered
// once, edge-triggered: every arrival of bytes reports it, and the event
// either starts a goroutine for a parked side or tells the running one
// that more came (side.wake). A side's goroutine parks once a read found
// the socket drained (it returned less than it asked for, or nothing), so
// a busy connection costs one read per burst and no re-arming. Events
// carry an id, never a descriptor or a pointer: an event for a side
// closed in between finds no id and is dropped.
type poller struct {
	epfd int
	file *os.File // epfd, watched by the netpoller (kept: its finalizer would close epfd)
	mu   sync.Mutex
	byID map[uint64]*side
	next uint64
}

// pollEvents: readable or shut by the peer, edge-triggered (EPOLLET is
// negative in package syscall: its bit as an untyped constant here).
const pollEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLET&0xFFFFFFFF

var (
	pollerOnce sync.Once
	thePoller  *poller
	pollerErr  error
)

// sharedPoller is the process's poller, started on first use.
//
// Its epoll descriptor is non-blocking and itself watched by the Go
// runtime's netpoller (an epoll instance is readable while it has
// events): the dispatching goroutine parks like any network read instead
// of holding a thread and its P in a blocking epoll_wait, so the
// goroutines it starts run at once rather than when the scheduler takes
// the P back from the blocked call.
func sharedPoller() (*poller, error) {
	pollerOnce.Do(func() {
		fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			pollerErr = err
			return
		}
		if err := syscall.SetNonblock(fd, true); err != nil {
			syscall.Close(fd)
			pollerErr = err
			return
		}
		f := os.NewFile(uintptr(fd), "wsrelay-epoll")
		rc, err := f.SyscallConn()
		if err != nil {
			pollerErr = err
			return
		}
		thePoller = &poller{epfd: fd, file: f, byID: map[uint64]*side{}}
		go thePoller.loop(rc)
	})
	return thePoller, pollerErr
}

// parkableFD returns the descriptor of a plain TCP connection; false for
// anything else (TLS keeps decrypted bytes the kernel does not see).
func parkableFD(c net.Conn) (int, bool) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return 0, false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return 0, false
	}
	fd := -1
	if rc.Control(func(f uintptr) { fd = int(f) }) != nil || fd < 0 {
		return 0, false
	}
	return fd, true
}

// add registers s: from now on each arrival of bytes wakes it (at once
// when some are there already).
func (p *poller) add(s *side) error {
	p.mu.Lock()
	p.next++
	id := p.next
	s.pollID = id
	p.byID[id] = s
	p.mu.Unlock()
	ev := syscall.EpollEvent{Events: pollEvents, Fd: int32(id), Pad: int32(id >> 32)}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, s.fd, &ev); err != nil {
		p.forget(id)
		return err
	}
	return nil
}

// readNow reads what s's socket holds without waiting for more; again is
// true when it holds nothing. writeNow writes what the socket takes
// without waiting, and returns how much that was.
//
// Both hold pmu shared; the descriptor is closed under it (shut), so the
// descriptor they use is still s's. Both are raw system calls: on a
// non-blocking socket they never wait, so the goroutine keeps its P
// instead of handing it over (entersyscall) and waking the scheduler's
// monitor, which on a busy relay cost more than the calls themselves.
func (s *side) readNow(p []byte) (n int, again bool, err error) {
	if len(p) == 0 {
		return 0, false, nil
	}
	s.pmu.RLock()
	defer s.pmu.RUnlock()
	if s.closed {
		return 0, false, net.ErrClosed
	}
	for {
		r, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(s.fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		switch e {
		case 0:
			if r == 0 {
				return 0, false, io.EOF
			}
			return int(r), false, nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return 0, true, nil
		}
		return 0, false, os.NewSyscallError("read", e)
	}
}

func (s *side) writeNow(p []byte) (n int, err error) {
	s.pmu.RLock()
	defer s.pmu.RUnlock()
	if s.closed {
		return 0, net.ErrClosed
	}
	for n < len(p) {
		r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(s.fd), uintptr(unsafe.Pointer(&p[n])), uintptr(len(p)-n))
		switch e {
		case 0:
			n += int(r)
			continue
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return n, nil
		}
		return n, os.NewSyscallError("write", e)
	}
	return n, nil
}

// remove unregisters s before its descriptor is closed (caller holds s.pmu).
func (p *poller) remove(s *side) {
	_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, s.fd, nil)
	p.forget(s.pollID)
}

func (p *poller) forget(id uint64) {
	p.mu.Lock()
	delete(p.byID, id)
	p.mu.Unlock()
}

// loop hands readiness events to their sides (side.wake). It takes the
// events there are without blocking (epoll_wait with no timeout) and
// waits in the netpoller for more once it got fewer than it asked for
// (the instance's ready list was empty then; a later event makes it
// readable again); it never returns.
func (p *poller) loop(rc syscall.RawConn) {
	var events [256]syscall.EpollEvent
	err := rc.Read(func(uintptr) bool {
		for {
			// Raw, like the sides' reads: with no timeout it never waits.
			r, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(p.epfd),
				uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
			n := int(r)
			switch {
			case e == syscall.EINTR:
				continue
			case e != 0:
				panic("wsrelay: epoll_wait: " + e.Error()) // the descriptor is ours: cannot happen
			case n == 0:
				return false // drained: wait until the instance is readable
			}
			p.mu.Lock()
			for i := range n {
				id := uint64(uint32(events[i].Fd)) | uint64(uint32(events[i].Pad))<<32
				if s := p.byID[id]; s != nil {
					s.wake(events[i].Events&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0)
				}
			}
			p.mu.Unlock()
			if n < len(events) {
				return false
			}
		}
	})
	panic("wsrelay: the epoll instance stopped: " + fmt.Sprint(err)) // it is never closed
}
