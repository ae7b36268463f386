package splice

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// queued reports how many bytes c received that were not read yet.
func queued(t *testing.T, c *net.TCPConn) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var qerr error
	if err := rc.Control(func(fd uintptr) { n, qerr = unix.IoctlGetInt(int(fd), unix.SIOCINQ) }); err != nil {
		t.Fatal(err)
	}
	if qerr != nil {
		t.Fatal(qerr)
	}
	return n
}

// A source's Taken is told of the bytes taken from it before any of them
// reaches the destination, whether CopySides splices them or a copy reads
// them through Side.Read: a caller knows where the source stands before
// the destination's peer can answer them. What follows the limit stays
// in the source, untold.
func TestTakenBeforeSent(t *testing.T) {
	const size = 1000
	for _, tc := range []struct {
		name string
		copy func(dst, src *net.TCPConn, taken func(int64)) (int64, error)
	}{
		{"CopySides", func(dst, src *net.TCPConn, taken func(int64)) (int64, error) {
			n, _, err := CopySides(Side{Conn: dst}, Side{Conn: src, Taken: taken}, size)
			return n, err
		}},
		{"Read", func(dst, src *net.TCPConn, taken func(int64)) (int64, error) {
			lr := &io.LimitedReader{R: &Side{Conn: src, Taken: taken}, N: size}
			return io.Copy(struct{ io.Writer }{dst}, lr)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srcPeer, src := tcpPair(t)
			dst, dstPeer := tcpPair(t)
			data := bytes.Repeat([]byte("0123456789"), size/10)
			if _, err := srcPeer.Write(append(data, "NEXT"...)); err != nil {
				t.Fatal(err)
			}
			var told int64
			n, err := tc.copy(dst, src, func(k int64) {
				if q := queued(t, dstPeer); int64(q) != told {
					t.Errorf("when told of %d more bytes (%d before), the destination had %d", k, told, q)
				}
				told += k
			})
			if n != size || err != nil || told != size {
				t.Fatalf("copy: %d, %v, told of %d; want %d, nil, told of %d", n, err, told, size, size)
			}
			_ = dstPeer.SetReadDeadline(time.Now().Add(10 * time.Second))
			got := make([]byte, size)
			if _, err := io.ReadFull(dstPeer, got); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("the destination got %q, %v", got, err)
			}
			_ = src.SetReadDeadline(time.Now().Add(10 * time.Second))
			next := make([]byte, 4)
			if _, err := io.ReadFull(src, next); err != nil || string(next) != "NEXT" {
				t.Fatalf("after the copy the source holds %q, %v", next, err)
			}
		})
	}
}
