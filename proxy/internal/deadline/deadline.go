// Package deadline tells an error that ended a wait at its deadline: the
// read or write deadline of a connection (os.ErrDeadlineExceeded, however
// wrapped) or any net.Error that reports a timeout (a TLS handshake's).
// The proxy's waits end so all the time (the lean front's first wait for a
// next request, the first wait for an answer, the client watch), so the
// common case is found by comparison: errors.As's reflection and its
// heap-allocated target only for other errors.
package deadline

import (
	"errors"
	"net"
	"os"
)

// Passed reports whether err is a timeout.
func Passed(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
