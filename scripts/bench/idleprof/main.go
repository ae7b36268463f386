// Command idleprof measures what an idle keep-alive connection costs the
// gateway's front: it serves the bench topology's full chain in process
// (as profgw does), opens -n connections that each make one request and
// then stay idle, waits past the front's idle release (a second), collects
// twice and prints the heap and goroutine stacks per connection, then
// writes a heap profile of what is live.
//
//	idleprof -backend http://127.0.0.1:9000 -n 3000 -heap idle.heap
//	go tool pprof -sample_index=inuse_space -top idleprof idle.heap
//
// The clients run in the same process: their connections (about 0.3 KiB
// each, their readers are dropped; with -tls their TLS state too) are in
// the heap figure. -tls serves a TLS front (HTTP/1.1 by ALPN) with a
// certificate made at start. Each connection is two descriptors here:
// raise the soft limit (ulimit -n).
package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/securegw/gateway/internal/pki"
	"github.com/securegw/gateway/proxy/frontend"
	"github.com/securegw/gateway/scripts/bench/internal/benchgw"
)

func main() {
	backend := flag.String("backend", "http://127.0.0.1:9000", "backend URL of service svc0")
	n := flag.Int("n", 2000, "idle connections")
	front := flag.String("front", frontend.DefaultKind, "the front server: lean or net/http")
	heap := flag.String("heap", "", "heap profile file")
	useTLS := flag.Bool("tls", false, "a TLS front (HTTP/1.1 by ALPN), with a certificate made here")
	flag.Parse()

	p, err := benchgw.New(*backend, slog.LevelWarn)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	var opts frontend.ServerOptions
	dial := func() (net.Conn, error) { return net.Dial("tcp", ln.Addr().String()) }
	if *useTLS {
		cert, pool := selfSigned()
		opts.TLSConfig, err = frontend.TLSConfig(func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert, nil }, "off", nil)
		if err != nil {
			log.Fatal(err)
		}
		dial = func() (net.Conn, error) {
			return tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}})
		}
	}
	fe, err := frontend.NewFront(p, opts, *front)
	if err != nil {
		log.Fatal(err)
	}
	go func() { log.Fatal(fe.Serve(ln)) }()

	heap0, stack0 := live()
	conns := make([]net.Conn, 0, *n)
	for i := 0; i < *n; i++ {
		c, err := dial()
		if err != nil {
			log.Fatalf("connection %d: %v", i, err)
		}
		if _, err := io.WriteString(c, "GET "+benchgw.Path+"hello HTTP/1.1\r\nHost: bench\r\n\r\n"); err != nil {
			log.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			log.Fatalf("connection %d: %v", i, err)
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil || resp.StatusCode != http.StatusOK {
			log.Fatalf("connection %d: %d %v", i, resp.StatusCode, err)
		}
		conns = append(conns, c)
	}
	time.Sleep(1500 * time.Millisecond) // past the front's idle release: what idle connections hold
	heap1, stack1 := live()
	proto := "plain"
	if *useTLS {
		proto = "TLS"
	}
	fmt.Printf("%d idle connections (%s front, %s): heap %.1f KiB, stacks %.1f KiB per connection\n", *n, *front, proto,
		float64(heap1-heap0)/1024/float64(*n), float64(stack1-stack0)/1024/float64(*n))
	if *heap != "" {
		f, err := os.Create(*heap)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			log.Fatal(err)
		}
		f.Close()
	}
	runtime.KeepAlive(conns)
}

// live returns the heap and stack bytes in use after two collections.
func live() (heap, stack uint64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse, ms.StackInuse
}

// selfSigned returns a certificate for 127.0.0.1, issued by a CA of
// internal/pki (what gatewayd init makes), and a pool that trusts it.
func selfSigned() (*tls.Certificate, *x509.CertPool) {
	ca, err := pki.NewCA("idleprof", pki.DefaultKeySpec(), 2*time.Hour)
	if err != nil {
		log.Fatal(err)
	}
	certPEM, keyPEM, err := ca.IssueServer([]string{"127.0.0.1"}, pki.DefaultKeySpec(), time.Hour)
	if err != nil {
		log.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		log.Fatal(err)
	}
	return &cert, ca.CertPool()
}
