package wsrelay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// tcpPair is a connected loopback pair: the test's end and the relay's.
func tcpPair(t *testing.T) (mine, relays net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	mine, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	relays, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mine.Close() })
	return mine, relays
}

// relayed starts a relay between a client and a backend end the test
// holds, past their handshakes.
func relayed(t *testing.T, lim Limits) (client, backend net.Conn) {
	t.Helper()
	client, gwClient := tcpPair(t)
	backend, gwBackend := tcpPair(t)
	h := NewHub(HubOptions{CloseTimeout: 300 * time.Millisecond})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = h.CloseAll(ctx, CloseGoingAway, "")
	})
	if _, err := h.Relay(gwClient, nil, gwBackend, nil, Options{Limits: lim}); err != nil {
		t.Fatal(err)
	}
	return client, backend
}

// frameBytes is a frame as a client (masked) or a backend sends it.
func frameBytes(op byte, p []byte, masked bool) []byte {
	var key [4]byte
	if masked {
		binary.LittleEndian.PutUint32(key[:], 0x5a3c9f17)
	}
	b := appendHeader(nil, true, op, int64(len(p)), masked, key)
	start := len(b)
	b = append(b, p...)
	if masked {
		maskBytes(key, 0, b[start:])
	}
	return b
}

// readFrame reads one frame, unmasked.
func readFrame(br *bufio.Reader) (op byte, p []byte, err error) {
	var h [2]byte
	if _, err = io.ReadFull(br, h[:]); err != nil {
		return 0, nil, err
	}
	n := int64(h[1] & 0x7F)
	switch n {
	case 126:
		var l [2]byte
		_, err = io.ReadFull(br, l[:])
		n = int64(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		_, err = io.ReadFull(br, l[:])
		n = int64(binary.BigEndian.Uint64(l[:]))
	}
	var key [4]byte
	if err == nil && h[1]&0x80 != 0 {
		_, err = io.ReadFull(br, key[:])
	}
	if err != nil {
		return 0, nil, err
	}
	p = make([]byte, n)
	if _, err = io.ReadFull(br, p); err != nil {
		return 0, nil, err
	}
	if h[1]&0x80 != 0 {
		maskBytes(key, 0, p)
	}
	return h[0] & 0x0F, p, nil
}

func payload(i, n int) []byte {
	p := make([]byte, n)
	for j := range p {
		p[j] = byte(i + j)
	}
	return p
}

// A stream of frames written at once, both ways (many frames per read
// and per write), arrives whole and in order; once it stopped, the
// relay holds no buffer.
func TestRelayFramesInBulk(t *testing.T) {
	client, backend := relayed(t, Limits{})
	const count = 2000
	sizes := []int{0, 1, 32, 125, 126, 300, 5000}
	write := func(c net.Conn, masked bool) {
		var all []byte
		for i := range count {
			all = append(all, frameBytes(OpBinary, payload(i, sizes[i%len(sizes)]), masked)...)
		}
		_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(all); err != nil {
			t.Error(err)
		}
	}
	read := func(c net.Conn) {
		br := bufio.NewReader(c)
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for i := range count {
			op, p, err := readFrame(br)
			if err != nil {
				t.Fatalf("frame %d: %v", i, err)
			}
			if op != OpBinary || !bytes.Equal(p, payload(i, sizes[i%len(sizes)])) {
				t.Fatalf("frame %d: op %d, %d bytes, not what was sent", i, op, len(p))
			}
		}
	}
	go write(client, true)
	read(backend)
	go write(backend, false)
	read(client)
	deadline := time.Now().Add(5 * time.Second)
	for BuffersInUse() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d buffers held by an idle relay", BuffersInUse())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A frame that arrives in parts is relayed whole; a pause longer than
// WriteTimeout between two frames (after one that waited for its rest)
// closes nothing.
func TestRelayFrameInParts(t *testing.T) {
	client, backend := relayed(t, Limits{WriteTimeout: 200 * time.Millisecond})
	br := bufio.NewReader(backend)
	f := frameBytes(OpBinary, payload(7, 10000), true)
	for _, part := range [][]byte{f[:1], f[1:3], f[3:4000], f[4000:]} {
		if _, err := client.Write(part); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // the parts arrive apart
	}
	_ = backend.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, p, err := readFrame(br); err != nil || !bytes.Equal(p, payload(7, 10000)) {
		t.Fatalf("frame in parts: %d bytes, %v", len(p), err)
	}
	time.Sleep(500 * time.Millisecond) // idle for over WriteTimeout
	if _, err := client.Write(frameBytes(OpText, []byte("still here"), true)); err != nil {
		t.Fatal(err)
	}
	if op, p, err := readFrame(br); err != nil || op != OpText || string(p) != "still here" {
		t.Fatalf("after a pause: op %d %q %v", op, p, err)
	}
}

// A frame whose rest does not come within WriteTimeout ends the
// connection: stalled in its header, the backend gets close 1001; stalled
// in its payload (whose start was relayed), the backend's connection is
// closed. Either way the client's connection is closed.
func TestRelayStalledFrame(t *testing.T) {
	f := frameBytes(OpBinary, payload(1, 100), true)
	tests := []struct {
		name      string
		sent      []byte
		wantClose bool
	}{
		{"in the header", f[:1], true},
		{"in the payload", f[:20], false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client, backend := relayed(t, Limits{WriteTimeout: 200 * time.Millisecond})
			if _, err := client.Write(tc.sent); err != nil {
				t.Fatal(err)
			}
			_ = backend.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, err := io.ReadAll(backend)
			if err != nil {
				t.Fatalf("backend connection not closed: %v (read %d bytes)", err, len(got))
			}
			if tc.wantClose {
				op, p, err := readFrame(bufio.NewReader(bytes.NewReader(got)))
				if err != nil || op != OpClose || len(p) < 2 || binary.BigEndian.Uint16(p) != CloseGoingAway {
					t.Fatalf("backend got op %d %q %v, want close 1001", op, p, err)
				}
			}
			_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadAll(client); err != nil {
				t.Fatalf("client connection not closed: %v", err)
			}
		})
	}
}

// A client that sends a message and closes its connection at once (the
// bytes and the FIN come together) is noticed: the backend gets the
// message, then close 1001, and its connection is closed.
func TestRelayMessageThenHangUp(t *testing.T) {
	for i := range 20 {
		client, backend := relayed(t, Limits{})
		if _, err := client.Write(frameBytes(OpText, []byte("bye"), true)); err != nil {
			t.Fatal(err)
		}
		client.Close()
		_ = backend.SetReadDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(backend)
		if op, p, err := readFrame(br); err != nil || op != OpText || string(p) != "bye" {
			t.Fatalf("round %d: message: op %d %q %v", i, op, p, err)
		}
		op, p, err := readFrame(br)
		if err != nil || op != OpClose || len(p) < 2 || binary.BigEndian.Uint16(p) != CloseGoingAway {
			t.Fatalf("round %d: after the hang-up: op %d %q %v, want close 1001", i, op, p, err)
		}
	}
}
