package proxy_test

import (
	"net"
	"testing"
)

// serveRaw accepts loopback connections until the test ends and runs
// serve on each in its own goroutine, closing the connection after it: a
// backend that speaks HTTP/1.1 by hand. It returns host:port.
func serveRaw(t *testing.T, serve func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(c)
			}()
		}
	}()
	return ln.Addr().String()
}
