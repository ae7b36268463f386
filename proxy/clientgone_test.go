package proxy_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// A client that goes away frees the backend connection it was waiting on:
// while the backend says nothing (the answer's head is slow, so the gateway
// watches the client only after a while) and while the backend stalls in
// the middle of a body. The gateway closes that connection (the backend
// reads EOF) instead of waiting for the backend, and logs 499 for an
// answer not begun.
func TestClientGoneFreesBackend(t *testing.T) {
	tests := []struct {
		name   string
		answer string // written after the request head; then the backend stalls
		log499 bool
	}{
		{"silent backend", "", true},
		{"stalled body", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, proxyConfig())
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			conns := make(chan net.Conn, 1)
			t.Cleanup(func() { // before the front server's close, which waits for the handler
				ln.Close()
				select {
				case c := <-conns:
					c.Close()
				default:
				}
			})
			asked, freed := make(chan struct{}), make(chan struct{})
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				conns <- c
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if line == "\r\n" {
						break
					}
				}
				_, _ = io.WriteString(c, tc.answer)
				close(asked)
				_, _ = io.Copy(io.Discard, br) // until the gateway closes the connection
				close(freed)
			}()
			e.deploy(topo("t", svc("s", "http://"+ln.Addr().String())))

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.fe.URL+"/gateway/t/s/x", nil)
			head, done := make(chan struct{}), make(chan error, 1)
			go func() {
				resp, err := e.fe.Client().Do(req)
				if err == nil {
					close(head)
					_, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				done <- err
			}()
			select {
			case <-asked:
			case <-time.After(10 * time.Second):
				t.Fatal("the request did not reach the backend")
			}
			if tc.answer != "" {
				select { // the answer has begun: the gateway reads its body
				case <-head:
				case <-time.After(10 * time.Second):
					t.Fatal("the answer's head did not reach the client")
				}
			}
			cancel()
			if err := <-done; err == nil {
				t.Fatal("the canceled request succeeded")
			}
			select {
			case <-freed:
			case <-time.After(10 * time.Second):
				t.Fatal("the backend connection is still held after the client went away")
			}
			if tc.log499 {
				eventually(t, 5*time.Second, "the access line", func() bool {
					for _, l := range accessLines(t, e.logs.String()) {
						if l.Status == 499 {
							return true
						}
					}
					return false
				})
			}
		})
	}
}
