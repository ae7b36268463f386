package frontend

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// A body reader that outlives its handler (the proxy's writer of a body
// to a backend that answered before it had all of it) may be inside the
// connection's reader when the connection closes: that reader must not go
// back to the pool, where another connection would take it while the
// straggler still writes into it (run with -race).
func TestStragglerKeepsReaderOutOfPool(t *testing.T) {
	readErr := make(chan error, 1)
	var held *bufio.Reader
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := r.Body.(*reqBody)
		held = b.res.c.br
		first := make(chan struct{})
		go func() {
			buf := make([]byte, 64)
			_, err := r.Body.Read(buf)
			close(first)
			for err == nil {
				_, err = r.Body.Read(buf) // waits for bytes that never come
			}
			readErr <- err
		}()
		<-first
		// Return once the straggler is back in a read, holding the body.
		for deadline := time.Now().Add(10 * time.Second); b.mu.TryLock(); {
			b.mu.Unlock()
			if time.Now().After(deadline) {
				t.Error("the body's reader did not read again")
				return
			}
		}
		w.WriteHeader(http.StatusRequestEntityTooLarge)
	})
	f, err := NewFront(h, ServerOptions{}, KindLean)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- f.Serve(ln) }()
	t.Cleanup(func() {
		f.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nfirst part"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !resp.Close {
		t.Fatalf("%d, close %v; want 413 and the connection closed", resp.StatusCode, resp.Close)
	}
	select {
	case err := <-readErr:
		if err == nil || err == io.EOF {
			t.Fatalf("the straggler's read ended with %v, want an error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the straggler's read did not end when the connection closed")
	}
	// The pool must not hand the straggler's reader to another connection.
	for v := readerPool.Get(); v != nil; v = readerPool.Get() {
		if v == held {
			t.Fatal("the reader a straggler used went back to the pool")
		}
	}
}
