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
