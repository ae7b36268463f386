package splice

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a.(*net.TCPConn), b.(*net.TCPConn)
}

// Copy moves exactly n bytes (what follows stays in the source), fewer
// when the source ends first, and tells which side failed: a source
// whose read deadline passed, a destination whose peer is gone.
func TestCopy(t *testing.T) {
	data := make([]byte, 5<<20+3)
	for i := range data {
		data[i] = byte(i*13 + i>>12)
	}
	t.Run("exact length", func(t *testing.T) {
		srcPeer, src := tcpPair(t)
		dst, dstPeer := tcpPair(t)
		go func() { srcPeer.Write(data); srcPeer.Write([]byte("NEXT")) }()
		got := make(chan []byte, 1)
		go func() { b, _ := io.ReadAll(io.LimitReader(dstPeer, int64(len(data)))); got <- b }()
		n, srcFailed, err := Copy(dst, src, int64(len(data)))
		if n != int64(len(data)) || srcFailed || err != nil {
			t.Fatalf("Copy: %d, %v, %v", n, srcFailed, err)
		}
		if b := <-got; !bytes.Equal(b, data) {
			t.Fatalf("the destination got %d bytes, equal %v", len(b), bytes.Equal(b, data))
		}
		next := make([]byte, 4)
		if _, err := io.ReadFull(src, next); err != nil || string(next) != "NEXT" {
			t.Fatalf("after the copy the source holds %q, %v", next, err)
		}
	})
	t.Run("source ends first", func(t *testing.T) {
		srcPeer, src := tcpPair(t)
		dst, dstPeer := tcpPair(t)
		go func() { srcPeer.Write(data[:1<<20]); srcPeer.Close() }()
		go io.Copy(io.Discard, dstPeer)
		n, srcFailed, err := Copy(dst, src, int64(len(data)))
		if n != 1<<20 || srcFailed || err != nil {
			t.Fatalf("Copy: %d, %v, %v; want %d, false, nil", n, srcFailed, err, 1<<20)
		}
	})
	t.Run("source stalls", func(t *testing.T) {
		srcPeer, src := tcpPair(t)
		dst, dstPeer := tcpPair(t)
		srcPeer.Write(data[:1000])
		go io.Copy(io.Discard, dstPeer)
		src.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, srcFailed, err := Copy(dst, src, int64(len(data)))
		if n != 1000 || !srcFailed || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Copy: %d, %v, %v; want 1000, true, a deadline error", n, srcFailed, err)
		}
	})
	t.Run("destination gone", func(t *testing.T) {
		srcPeer, src := tcpPair(t)
		dst, dstPeer := tcpPair(t)
		dstPeer.SetLinger(0)
		dstPeer.Close() // reset: writes to dst fail
		go srcPeer.Write(data)
		n, srcFailed, err := Copy(dst, src, int64(len(data)))
		if srcFailed || err == nil || n == int64(len(data)) {
			t.Fatalf("Copy: %d, %v, %v; want a destination error", n, srcFailed, err)
		}
	})
}

// CopySides bounds the waits on a side with Idle: a source that sends
// nothing, or a destination that takes nothing, for Idle fails that side
// (a deadline error), while one that trickles, or reads slowly, is never
// cut, however long the whole copy takes.
func TestCopySidesStall(t *testing.T) {
	const idle = 200 * time.Millisecond
	t.Run("source stalls", func(t *testing.T) {
		srcPeer, src := tcpPair(t)
		dst, dstPeer := tcpPair(t)
		go io.Copy(io.Discard, dstPeer)
		srcPeer.Write(make([]byte, 1000))
		start := time.Now()
		n, srcFailed, err := CopySides(Side{Conn: dst}, Side{Conn: src, Idle: idle}, 1<<20)
		if n != 1000 || !srcFailed || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("CopySides: %d, %v, %v; want 1000, true, a deadline error", n, srcFailed, err)
		}
		if d := time.Since(start); d < idle || d > idle+time.Second {
			t.Fatalf("the stalled source failed after %v, want about %v", d, idle)
		}
	})
	t.Run("source trickles", func(t *testing.T) {
		srcPeer, src := tcpPair(t)
		dst, dstPeer := tcpPair(t)
		go io.Copy(io.Discard, dstPeer)
		go func() {
			for i := 0; i < 10; i++ { // a piece every idle/3: 3.3 idles in all
				time.Sleep(idle / 3) // the peer's pace, not a wait for an event
				srcPeer.Write(make([]byte, 100))
			}
		}()
		n, _, err := CopySides(Side{Conn: dst}, Side{Conn: src, Idle: idle}, 1000)
		if n != 1000 || err != nil {
			t.Fatalf("CopySides: %d, %v; want 1000, nil", n, err)
		}
	})
	t.Run("source capped by End", func(t *testing.T) {
		srcPeer, src := tcpPair(t)
		dst, dstPeer := tcpPair(t)
		go io.Copy(io.Discard, dstPeer)
		srcPeer.Write(make([]byte, 10))
		start := time.Now()
		_, srcFailed, err := CopySides(Side{Conn: dst}, Side{Conn: src, Idle: time.Hour, End: time.Now().Add(idle)}, 1<<20)
		if !srcFailed || !errors.Is(err, os.ErrDeadlineExceeded) || time.Since(start) > idle+time.Second {
			t.Fatalf("CopySides: %v, %v after %v; want the End deadline", srcFailed, err, time.Since(start))
		}
	})
	t.Run("destination stalls", func(t *testing.T) {
		srcPeer, src := tcpPair(t)
		dst, _ := tcpPair(t)
		dst.SetWriteBuffer(64 << 10)
		go srcPeer.Write(make([]byte, 64<<20))
		start := time.Now()
		n, srcFailed, err := CopySides(Side{Conn: dst, Idle: idle}, Side{Conn: src}, 64<<20)
		if srcFailed || !errors.Is(err, os.ErrDeadlineExceeded) || n == 64<<20 {
			t.Fatalf("CopySides: %d, %v, %v; want a destination deadline error", n, srcFailed, err)
		}
		if d := time.Since(start); d > idle+5*time.Second { // generous: a loaded machine splices slowly before the stall
			t.Fatalf("the stalled destination failed after %v, want about %v", d, idle)
		}
	})
	t.Run("destination reads slowly", func(t *testing.T) {
		srcPeer, src := tcpPair(t)
		dst, dstPeer := tcpPair(t)
		const size = 16 << 20
		go srcPeer.Write(make([]byte, size))
		go func() {
			buf := make([]byte, 32<<10)
			for {
				time.Sleep(10 * time.Millisecond) // the peer's pace (3.2 MB/s)
				if _, err := dstPeer.Read(buf); err != nil {
					return
				}
			}
		}()
		start := time.Now()
		// A longer idle than the other cases: the peer's reads must keep
		// their pace on a loaded machine too.
		const slowIdle = 2 * idle
		n, _, err := CopySides(Side{Conn: dst, Idle: slowIdle}, Side{Conn: src}, size)
		if n != size || err != nil {
			t.Fatalf("CopySides: %d, %v after %v; want all of it", n, err, time.Since(start))
		}
		if d := time.Since(start); d < 3*slowIdle {
			t.Fatalf("the copy took %v: not longer than 3 idles, the test proves nothing", d)
		}
	})
}
