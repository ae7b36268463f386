// Command goproxy is the benchmark's floor: Go's own httputil.ReverseProxy
// in front of one backend, nothing else. Its transport keeps as many idle
// connections per host as the load uses (the default of 2 would measure
// connection churn, not the proxy).
//
//	goproxy -listen 127.0.0.1:18090 -backend http://127.0.0.1:18081
package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	backend := flag.String("backend", "", "backend URL")
	idle := flag.Int("max-idle-per-host", 1024, "idle backend connections kept")
	flag.Parse()
	u, err := url.Parse(*backend)
	if err != nil || u.Host == "" {
		log.Fatalf("goproxy: -backend %q is not a URL", *backend)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = *idle
	tr.MaxIdleConnsPerHost = *idle
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.SetXForwarded()
		},
		Transport: tr,
		ErrorLog:  log.New(io.Discard, "", 0),
	}
	srv := &http.Server{Addr: *listen, Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("goproxy: %v", err)
	}
}
