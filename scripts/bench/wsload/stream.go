package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// streamMode keeps window messages of size bytes in flight on each of c
// connections for dur: the load of a feed or a fan-out, where several
// frames travel per read and per write. The client speaks the protocol
// itself so that it stays cheap: each wake of the writer sends every
// message the window allows in one write (masked frames, RFC 6455 §5.3),
// and the reader parses the echoes out of large reads.
func streamMode(ctx context.Context, url string, c, window int, dur time.Duration, size int) error {
	if window < 1 || window > 4096 || size > 125 {
		return errors.New("stream: -window in 1..4096, -size at most 125")
	}
	conns := make([]net.Conn, c)
	readers := make([]*bufio.Reader, c)
	for i := range c {
		nc, br, err := rawDial(ctx, url)
		if err != nil {
			for _, o := range conns[:i] {
				o.Close()
			}
			return fmt.Errorf("connection %d: %w", i, err)
		}
		conns[i], readers[i] = nc, br
	}
	var count, errs atomic.Int64
	var wg sync.WaitGroup
	cpu0 := cpuSeconds()
	deadline := time.Now().Add(dur)
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	for i, nc := range conns {
		credit := make(chan int, 1) // messages echoed since the writer last looked
		wg.Add(2)
		go func() { // writer
			defer wg.Done()
			frame := clientFrame(size)
			buf := make([]byte, 0, window*len(frame))
			free := window
			for dctx.Err() == nil {
				if free == 0 {
					select {
					case n := <-credit:
						free += n
					case <-dctx.Done():
						return
					}
				}
				buf = buf[:0]
				for range free {
					buf = append(buf, frame...)
				}
				free = 0
				_ = nc.SetWriteDeadline(deadline.Add(5 * time.Second))
				if _, err := nc.Write(buf); err != nil {
					// Closed by the reader at the deadline: the end, not an error.
					if dctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
						errs.Add(1)
						out(map[string]any{"event": "error", "error": err.Error()})
					}
					return
				}
			}
		}()
		go func() { // reader
			defer wg.Done()
			defer nc.Close()
			br := readers[i]
			_ = nc.SetReadDeadline(deadline)
			got := 0
			for {
				if err := skipServerFrame(br); err != nil {
					if !errors.Is(err, os.ErrDeadlineExceeded) {
						errs.Add(1)
						out(map[string]any{"event": "error", "error": err.Error()})
					}
					return
				}
				count.Add(1)
				got++
				if br.Buffered() == 0 || got == window {
					select {
					case n := <-credit:
						credit <- n + got
					default:
						credit <- got
					}
					got = 0
				}
			}
		}()
	}
	wg.Wait()
	out(map[string]any{"event": "stream", "msgs_per_s": float64(count.Load()) / dur.Seconds(), "errors": errs.Load(),
		"conns": c, "window": window, "client_cpu_s": cpuSeconds() - cpu0})
	return nil
}

// rawDial opens a WebSocket connection with a minimal handshake.
func rawDial(ctx context.Context, rawURL string) (net.Conn, *bufio.Reader, error) {
	u, err := neturl.Parse(rawURL)
	if err != nil || u.Scheme != "ws" {
		return nil, nil, fmt.Errorf("stream: want a ws:// URL, got %q", rawURL)
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, nil, err
	}
	var k [16]byte
	_, _ = rand.Read(k[:])
	req := &http.Request{Method: http.MethodGet, URL: u, Host: u.Host, Header: http.Header{
		"Upgrade":               {"websocket"},
		"Connection":            {"Upgrade"},
		"Sec-Websocket-Key":     {base64.StdEncoding.EncodeToString(k[:])},
		"Sec-Websocket-Version": {"13"},
	}}
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	if err := req.Write(nc); err != nil {
		nc.Close()
		return nil, nil, err
	}
	br := bufio.NewReaderSize(nc, 64<<10)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		nc.Close()
		return nil, nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	_ = nc.SetDeadline(time.Time{})
	return nc, br, nil
}

// clientFrame is one masked binary frame of size bytes.
func clientFrame(size int) []byte {
	f := []byte{0x82, 0x80 | byte(size), 0, 0, 0, 0}
	_, _ = rand.Read(f[2:6])
	p := make([]byte, size)
	for i := range p {
		p[i] = ('a' + byte(i%26)) ^ f[2+i%4]
	}
	return append(f, p...)
}

// skipServerFrame reads one unmasked frame of at most 125 bytes.
func skipServerFrame(br *bufio.Reader) error {
	h, err := br.Peek(2)
	if err != nil {
		return err
	}
	if h[1]&0x80 != 0 || h[1]&0x7F > 125 {
		return fmt.Errorf("stream: unexpected frame header %x", h)
	}
	n := 2 + int(h[1]&0x7F)
	_, err = br.Discard(n)
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
