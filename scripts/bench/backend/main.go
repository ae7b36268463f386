// Command backend is the benchmark's origin server: a small, fast Go HTTP
// server on loopback.
//
//	GET  /anything      19-byte body "hello from backend\n", keep-alive
//	GET  /big?n=BYTES   streams BYTES bytes (default 1 GiB), no buffering
//	POST /upload        reads and discards the body, answers the byte count
//	GET  …/tag/X/…      answers "tag X" (deploybench's proof of which route served)
//
// Paths are matched anywhere in the URL path, so the same answers come back
// whatever prefix a proxy in front adds or keeps.
//
//	backend -listen 127.0.0.1:18081,127.0.0.1:18082
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/securegw/gateway/internal/tcpcc"
)

var hello = []byte("hello from backend\n") // 19 bytes

// chunk is what /big writes, over and over.
var chunk = func() []byte {
	b := make([]byte, 256<<10)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}()

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "comma-separated addresses to listen on")
	cc := flag.String("cc", "", "TCP congestion control of its sockets (default: the system's)")
	flag.Parse()
	lc := net.ListenConfig{Control: tcpcc.Control(*cc)}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	srv := &http.Server{Handler: http.HandlerFunc(serve), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute}
	var wg sync.WaitGroup
	for _, addr := range strings.Split(*listen, ",") {
		ln, err := lc.Listen(ctx, "tcp", strings.TrimSpace(addr))
		if err != nil {
			log.Fatalf("backend: %v", err)
		}
		fmt.Println("backend listening on", ln.Addr())
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Printf("backend: %v", err)
			}
		}()
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	wg.Wait()
}

func serve(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case strings.HasSuffix(p, "/upload") || strings.Contains(p, "/upload/"):
		upload(w, r)
	case strings.HasSuffix(p, "/big") || strings.Contains(p, "/big/"):
		big(w, r)
	case strings.Contains(p, "/tag/"):
		tag := p[strings.Index(p, "/tag/")+len("/tag/"):]
		if i := strings.IndexByte(tag, '/'); i >= 0 {
			tag = tag[:i]
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "tag "+tag+"\n")
	default:
		h := w.Header()
		h["Content-Type"] = []string{"text/plain"}
		h["Content-Length"] = []string{"19"}
		_, _ = w.Write(hello)
	}
}

func big(w http.ResponseWriter, r *http.Request) {
	n := int64(1 << 30)
	if s := r.URL.Query().Get("n"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 0 {
			http.Error(w, "bad n", http.StatusBadRequest)
			return
		}
		n = v
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	for n > 0 {
		b := chunk
		if int64(len(b)) > n {
			b = b[:n]
		}
		k, err := w.Write(b)
		if err != nil {
			return
		}
		n -= int64(k)
	}
}

// sink discards what is written. Unlike io.Discard it has no ReadFrom,
// which would read in its own 8 KiB pieces and ignore CopyBuffer's buffer.
type sink struct{}

func (sink) Write(p []byte) (int, error) { return len(p), nil }

// upload reads the body in 256 KiB pieces (before 2026-12-06 16:50 UTC
// io.Discard's ReadFrom read it in 8 KiB ones) and discards it.
func upload(w http.ResponseWriter, r *http.Request) {
	n, err := io.CopyBuffer(sink{}, r.Body, make([]byte, 256<<10))
	if err != nil {
		http.Error(w, fmt.Sprintf("read %d bytes, then: %v", n, err), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "%d\n", n)
}
