//go:build linux

package frontend_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/securegw/gateway/proxy/frontend"
)

// A client that sends a large body faster than it reads the answer (an
// upload's writer beside the answer's reader, as in the proxy's
// TestClosingUploadAnsweredEarly) gets its whole answer when the lean
// front closes the connection over the unread body: the lingering close
// discarded 4 MiB, then closed while the answer was still in the send
// queue (the client's small receive buffer holds little of it), and the
// close's reset dropped it ("connection reset by peer" mid-answer). It
// now discards until the client acknowledged the whole answer.
//
// The client reads its answer only once it sent 6 MiB (more than the
// 4 MiB and the sockets' buffers): before, its writes failed first.
func TestLingerUntilAnswerDelivered(t *testing.T) {
	const answer = 1 << 20
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The body is not read: the connection closes after the answer.
		w.Header().Set("Content-Length", fmt.Sprint(answer))
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, strings.Repeat("n", answer))
	})
	_, addr := serveFront(t, frontend.KindLean, h, frontend.ServerOptions{})
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10)
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, 64<<10)
		})
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	const size = 64 << 20
	var written atomic.Int64
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		fmt.Fprintf(c, "PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size)
		buf := make([]byte, 64<<10)
		for left := size; left > 0; left -= len(buf) {
			n, err := c.Write(buf)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}()
	sent := func() bool {
		select {
		case <-writerDone:
			return true
		default:
			return written.Load() >= 6<<20
		}
	}
	for end := time.Now().Add(10 * time.Second); !sent(); time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("the client sent %d bytes in 10s", written.Load())
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("answer (after %d bytes sent): %v", written.Load(), err)
	}
	got, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusForbidden || len(got) != answer {
		t.Fatalf("answer (after %d bytes sent): %d, %d of %d bytes, %v", written.Load(), resp.StatusCode, len(got), answer, err)
	}
}
