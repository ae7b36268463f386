package wsrelay

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
)

// poller parks idle sides on one epoll instance. A side is registered
// with EPOLLONESHOT: one readiness event wakes one goroutine, and the side
// is re-armed (level-triggered: at once if bytes arrived meanwhile) when
// that goroutine has relayed what was there. Events carry an id, never a
// descriptor or a pointer: an event for a side closed in between finds no
// id and is dropped.
type poller struct {
	epfd int
	file *os.File // epfd, watched by the netpoller (kept: its finalizer would close epfd)
	mu   sync.Mutex
	byID map[uint64]*side
	next uint64
}

const pollEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

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

// add registers s, armed or not (re-armed by rearm).
func (p *poller) add(s *side, armed bool) error {
	p.mu.Lock()
	p.next++
	id := p.next
	s.pollID = id
	p.byID[id] = s
	p.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLONESHOT, Fd: int32(id), Pad: int32(id >> 32)}
	if armed {
		ev.Events = pollEvents
	}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, s.fd, &ev); err != nil {
		p.forget(id)
		return err
	}
	return nil
}

// rearm waits for s's next readable bytes. The caller holds s.pmu and
// has checked that s is open (its descriptor is still s's).
func (p *poller) rearm(s *side) error {
	ev := syscall.EpollEvent{Events: pollEvents, Fd: int32(s.pollID), Pad: int32(s.pollID >> 32)}
	return syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, s.fd, &ev)
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

// loop dispatches readiness events to new goroutines, one per woken side.
// It takes the events there are without blocking (epoll_wait with no
// timeout) and waits in the netpoller for more once none are left; it
// never returns.
func (p *poller) loop(rc syscall.RawConn) {
	var events [256]syscall.EpollEvent
	err := rc.Read(func(uintptr) bool {
		for {
			n, err := syscall.EpollWait(p.epfd, events[:], 0)
			switch {
			case errors.Is(err, syscall.EINTR):
				continue
			case err != nil:
				panic("wsrelay: epoll_wait: " + err.Error()) // the descriptor is ours: cannot happen
			case n == 0:
				return false // drained: wait until the instance is readable
			}
			p.mu.Lock()
			for i := range n {
				id := uint64(uint32(events[i].Fd)) | uint64(uint32(events[i].Pad))<<32
				if s := p.byID[id]; s != nil {
					go s.run()
				}
			}
			p.mu.Unlock()
		}
	})
	panic("wsrelay: the epoll instance stopped: " + fmt.Sprint(err)) // it is never closed
}
