// Command tcpfwd is the large-body figure's floor of a proxy hop: it copies
// the bytes of each connection to one backend and back with io.Copy, which
// moves them by splice(2) between the two TCP sockets. It reads no HTTP,
// so no proxy can pass a body with less work in Go.
//
//	tcpfwd -listen 127.0.0.1:18091 -backend 127.0.0.1:18081 [-cc cubic]
//
// -cc sets the TCP congestion control of both its sockets, as gatewayd's
// proxy.tcp_congestion does.
package main

import (
	"context"
	"flag"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/securegw/gateway/internal/tcpcc"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	backend := flag.String("backend", "", "backend host:port")
	cc := flag.String("cc", "", "TCP congestion control of both sockets (default: the system's)")
	flag.Parse()
	if *backend == "" {
		log.Fatal("tcpfwd: -backend is required")
	}
	control := tcpcc.Control(*cc)
	dialer = net.Dialer{Control: control}
	ln, err := (&net.ListenConfig{Control: control}).Listen(context.Background(), "tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go forward(c.(*net.TCPConn), *backend)
	}
}

// dialer connects to the backend (with -cc's congestion control).
var dialer net.Dialer

// forward joins c to a new connection to backend until both sides end.
func forward(c *net.TCPConn, backend string) {
	defer c.Close()
	nc, err := dialer.Dial("tcp", backend)
	if err != nil {
		return
	}
	b := nc.(*net.TCPConn)
	defer b.Close()
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(b, c)
		_ = b.CloseWrite()
		close(done)
	}()
	_, _ = io.Copy(c, b)
	_ = c.CloseWrite()
	<-done
}
