package splice

import (
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"
)

const (
	spliceMove     = 0x1  // SPLICE_F_MOVE
	spliceNonblock = 0x2  // SPLICE_F_NONBLOCK
	fSetPipeSize   = 1031 // F_SETPIPE_SZ
	pipeSize       = 1 << 20
)

// pipe is a pipe and the bytes it holds.
type pipe struct {
	r, w    int
	data    int
	cleanup runtime.Cleanup // closes the descriptors of a pipe the pool dropped
}

var pipes sync.Pool

func getPipe() (*pipe, error) {
	if v := pipes.Get(); v != nil {
		return v.(*pipe), nil
	}
	var fds [2]int
	if err := syscall.Pipe2(fds[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		return nil, os.NewSyscallError("pipe2", err)
	}
	// 1 MiB when the system allows it (fs.pipe-max-size); a smaller pipe
	// works, with more system calls.
	_, _, _ = syscall.RawSyscall(syscall.SYS_FCNTL, uintptr(fds[0]), fSetPipeSize, pipeSize)
	p := &pipe{r: fds[0], w: fds[1]}
	p.cleanup = runtime.AddCleanup(p, closePipe, fds)
	return p, nil
}

func closePipe(fds [2]int) {
	syscall.Close(fds[0])
	syscall.Close(fds[1])
}

// putPipe pools p, or closes it when bytes were left in it.
func putPipe(p *pipe) {
	if p.data != 0 {
		p.cleanup.Stop()
		closePipe([2]int{p.r, p.w})
		return
	}
	pipes.Put(p)
}

// Copy moves n bytes from src to dst, fewer when src ends first (then err
// is nil). On failure, srcFailed tells whether src failed (its read
// deadline, its peer's reset, its closing) or dst did.
func Copy(dst, src *net.TCPConn, n int64) (written int64, srcFailed bool, err error) {
	return CopySides(Side{Conn: dst}, Side{Conn: src}, n)
}

// CopySides is Copy with the sides' stall bounds (Side.Idle): the
// source's read deadline is moved before each wait for it to be readable,
// the destination's before each wait for it to be writable after bytes
// went out, so that a side that makes no progress for Idle fails (with
// os.ErrDeadlineExceeded) while a slow one that progresses does not.
// src.Taken is told of the bytes taken from src before they go to dst.
func CopySides(dst, src Side, n int64) (written int64, srcFailed bool, err error) {
	sc, err := src.Conn.SyscallConn()
	if err != nil {
		return 0, true, err
	}
	dc, err := dst.Conn.SyscallConn()
	if err != nil {
		return 0, false, err
	}
	p, err := getPipe()
	if err != nil {
		return 0, false, err
	}
	defer putPipe(p)
	var errno syscall.Errno
	var want, moved int
	drain := func(fd uintptr) bool {
		for {
			r, _, e := syscall.RawSyscall6(syscall.SYS_SPLICE, fd, 0, uintptr(p.w), 0, uintptr(want), spliceMove|spliceNonblock)
			switch e {
			case 0:
				moved = int(r)
				return true
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // wait until src is readable
			}
			errno = e
			return true
		}
	}
	progress := false  // bytes went to dst since its deadline moved
	var acked Progress // what dst's peer acknowledged
	pump := func(fd uintptr) bool {
		for p.data > 0 {
			r, _, e := syscall.RawSyscall6(syscall.SYS_SPLICE, uintptr(p.r), 0, fd, 0, uintptr(p.data), spliceMove|spliceNonblock)
			switch e {
			case 0:
				p.data -= int(r)
				written += int64(r)
				progress = true
			case syscall.EINTR:
			case syscall.EAGAIN:
				if progress && dst.Idle > 0 {
					// A slow reader that took some: its stall bound starts again.
					progress = false
					dst.boundWrite()
				}
				return false // wait until dst is writable
			default:
				errno = e
				return true
			}
		}
		return true
	}
	for written < n {
		want, moved = int(min(n-written, pipeSize)), 0
		if src.Idle > 0 {
			src.boundRead()
		}
		if err := sc.Read(drain); err != nil {
			return written, true, err
		}
		if errno != 0 {
			return written, true, os.NewSyscallError("splice", errno)
		}
		if moved == 0 {
			return written, false, nil // src ended
		}
		if src.Taken != nil {
			src.Taken(int64(moved))
		}
		p.data = moved
		if dst.Idle > 0 {
			progress = false
			dst.boundWrite()
			acked.Mark(dst.Conn)
		}
		err := dc.Write(pump)
		for err != nil && dst.Idle > 0 && p.data > 0 && Timeout(err) && acked.Moved(dst.Conn) {
			// A slow reader, not a stalled one: it took bytes meanwhile.
			dst.boundWrite()
			err = dc.Write(pump)
		}
		if err != nil {
			return written, false, err
		}
		if errno != 0 {
			return written, false, os.NewSyscallError("splice", errno)
		}
	}
	return written, false, nil
}
