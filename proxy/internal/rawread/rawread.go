// Package rawread reads a socket from inside syscall.RawConn.Read's
// callback, for the senders that write from inside the wait for an answer
// (h1's FlushOnRead, the lean front's deferred answers): after the bytes
// that provoke the answer were written there, the callback asks to wait,
// and Step reads what came.
package rawread

import (
	"io"
	"os"
	"syscall"
)

// Step reads once from fd into p. done is false when there was nothing to
// read (EAGAIN: woken for nothing, wait again); else n and err are the
// read's, the end of the stream being io.EOF.
func Step(fd uintptr, p []byte) (n int, done bool, err error) {
	for {
		n, err := syscall.Read(int(fd), p)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return 0, false, nil
		case err != nil:
			return 0, true, os.NewSyscallError("read", err)
		case n == 0:
			return 0, true, io.EOF
		}
		return n, true, nil
	}
}
