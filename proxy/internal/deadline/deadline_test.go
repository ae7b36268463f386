package deadline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// timeoutErr is a net.Error reporting a timeout that is not a deadline of
// a connection (as a TLS handshake's).
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "handshake timed out" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// A read that passed its deadline is a timeout, told without an
// allocation, wrapped or not; so is another net.Error's timeout. Other
// errors are not, nor a nil one.
func TestPassed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(-time.Second))
	_, readErr := c.Read(make([]byte, 1))
	for _, err := range []error{readErr, fmt.Errorf("reading: %w", readErr), timeoutErr{}} {
		if !Passed(err) {
			t.Errorf("%v is not a timeout", err)
		}
	}
	for _, err := range []error{nil, io.EOF, net.ErrClosed, context.Canceled, errors.New("timeout")} {
		if Passed(err) {
			t.Errorf("%v is a timeout", err)
		}
	}
	if n := testing.AllocsPerRun(100, func() { Passed(readErr) }); n != 0 {
		t.Fatalf("%.0f allocations to tell a passed deadline", n)
	}
}
