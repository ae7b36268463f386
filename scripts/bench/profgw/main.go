// Command profgw serves the gateway's data path in process, with the bench
// topology's full chain (anonymous authentication, default identity
// assertion) in front of one backend, and writes CPU and allocation
// profiles of the load it serves: the "profile first" step of the data path
// work (issue 13), run beside wrk. At the end it prints the process's
// allocations per request served (the backend being another process).
//
//	profgw -listen 127.0.0.1:9800 -backend http://127.0.0.1:9000 -duration 10s -cpuprofile cpu.prof -memprofile mem.prof
//	wrk -t2 -c64 -d8s http://127.0.0.1:9800/gateway/bench/svc0/hello
//	go tool pprof -top bin/profgw cpu.prof
//
// -front net/http serves on net/http's server instead of the default lean
// one (gateway.yaml's proxy.front); -tls serves TLS (a P-256 certificate
// for 127.0.0.1 from a CA of internal/pki, as gatewayd init makes; wrk
// does not check it), the TLS front's figure:
//
//	profgw -tls -cpuprofile cpu.prof & wrk -t2 -c64 -d8s https://127.0.0.1:9800/gateway/bench/svc0/hello
//
// For latency (what waits, and for how long): it prints the runtime's
// goroutine scheduling latency (runnable to running) and stop-the-world
// pauses over the window, and -trace, -mutexprofile and -blockprofile write
// an execution trace and the lock and blocking profiles of it:
//
//	go tool trace -pprof=sched trace.out > sched.prof && go tool pprof -top -cum sched.prof
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"log"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"runtime/trace"
	"sync/atomic"
	"time"

	"github.com/securegw/gateway/internal/pki"
	"github.com/securegw/gateway/proxy/frontend"
	"github.com/securegw/gateway/scripts/bench/internal/benchgw"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9800", "proxy listen address")
	backend := flag.String("backend", "http://127.0.0.1:9000", "backend URL of service svc0")
	duration := flag.Duration("duration", 10*time.Second, "how long to profile, from the first request on")
	cpu := flag.String("cpuprofile", "", "CPU profile file")
	mem := flag.String("memprofile", "", "allocation profile file (every allocation sampled)")
	accessLog := flag.Bool("access-log", false, "write the access log (JSON, discarded)")
	front := flag.String("front", frontend.DefaultKind, "the front server: lean or net/http")
	traceFile := flag.String("trace", "", "execution trace file")
	mutexFile := flag.String("mutexprofile", "", "mutex contention profile file")
	blockFile := flag.String("blockprofile", "", "blocking profile file (waits of 1 µs and more)")
	useTLS := flag.Bool("tls", false, "serve TLS (HTTP/1.1 and h2 by ALPN) with a generated certificate")
	flag.Parse()

	level := slog.LevelWarn
	if *accessLog {
		level = slog.LevelInfo
	}
	p, err := benchgw.New(*backend, level)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	first := make(chan struct{})
	var once = make(chan struct{}, 1)
	once <- struct{}{}
	var served atomic.Int64
	// A frontend.ContextHandler, as gatewayd's handler is (the lean front
	// then copies a request once).
	h := frontend.ContextHandlerFunc(func(ctx context.Context, w http.ResponseWriter, r *http.Request) {
		select {
		case <-once:
			close(first)
		default:
		}
		p.ServeHTTPContext(ctx, w, r)
		served.Add(1)
	})
	var opts frontend.ServerOptions
	if *useTLS {
		if opts.TLSConfig, err = tlsConfig(); err != nil {
			log.Fatal(err)
		}
	}
	fe, err := frontend.NewFront(h, opts, *front)
	if err != nil {
		log.Fatal(err)
	}
	go func() { log.Fatal(fe.Serve(ln)) }()
	log.Printf("profgw: serving on %s", ln.Addr())
	<-first
	if *mem != "" {
		runtime.MemProfileRate = 1
	}
	if *mutexFile != "" {
		runtime.SetMutexProfileFraction(1)
	}
	if *blockFile != "" {
		runtime.SetBlockProfileRate(int(time.Microsecond))
	}
	if *traceFile != "" {
		f, err := os.Create(*traceFile)
		if err != nil {
			log.Fatal(err)
		}
		if err := trace.Start(f); err != nil {
			log.Fatal(err)
		}
		defer f.Close()
		defer trace.Stop()
	}
	hist0 := readHists()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0 := readCPU()
	n0 := served.Load()
	if *cpu != "" {
		f, err := os.Create(*cpu)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		time.Sleep(*duration)
		pprof.StopCPUProfile()
		f.Close()
	} else {
		time.Sleep(*duration)
	}
	runtime.ReadMemStats(&after)
	cpu1 := readCPU()
	if n := served.Load() - n0; n > 0 {
		// The whole process's: the net/http front server, the chain and the
		// upstream client; the backend is another process.
		log.Printf("profgw: %d requests, %.1f allocations and %.0f bytes per request, %d GC cycles, GC %.1f%% of the process's CPU",
			n, float64(after.Mallocs-before.Mallocs)/float64(n), float64(after.TotalAlloc-before.TotalAlloc)/float64(n),
			after.NumGC-before.NumGC, 100*(cpu1.gc-cpu0.gc)/max(cpu1.total-cpu0.total, 1e-9))
	}
	hist1 := readHists()
	for i, name := range histNames {
		log.Printf("profgw: %s p50 %s, p99 %s, p99.9 %s, max %s", name, quantile(hist0[i], hist1[i], 0.5),
			quantile(hist0[i], hist1[i], 0.99), quantile(hist0[i], hist1[i], 0.999), quantile(hist0[i], hist1[i], 1))
	}
	for _, pr := range []struct{ file, name string }{{*mem, "allocs"}, {*mutexFile, "mutex"}, {*blockFile, "block"}} {
		if pr.file == "" {
			continue
		}
		f, err := os.Create(pr.file)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.Lookup(pr.name).WriteTo(f, 0); err != nil {
			log.Fatal(err)
		}
		f.Close()
	}
	log.Printf("profgw: profiles written")
	p.Close()
}

// cpuTimes are the runtime's estimates of the CPU time spent so far.
type cpuTimes struct{ gc, total float64 }

func readCPU() cpuTimes {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}, {Name: "/cpu/classes/total:cpu-seconds"}}
	metrics.Read(s)
	return cpuTimes{gc: s[0].Value.Float64(), total: s[1].Value.Float64()}
}

// histNames are the runtime's latency histograms profgw reports.
var histNames = []string{"/sched/latencies:seconds", "/gc/pauses:seconds"}

func readHists() []metrics.Float64Histogram {
	s := make([]metrics.Sample, len(histNames))
	for i, n := range histNames {
		s[i].Name = n
	}
	metrics.Read(s)
	out := make([]metrics.Float64Histogram, len(s))
	for i := range s {
		h := s[i].Value.Float64Histogram()
		out[i] = metrics.Float64Histogram{Counts: append([]uint64(nil), h.Counts...), Buckets: h.Buckets}
	}
	return out
}

// quantile is the q-quantile of what was counted between a and b, as the
// upper bound of its bucket.
func quantile(a, b metrics.Float64Histogram, q float64) string {
	var total uint64
	for i := range b.Counts {
		total += b.Counts[i] - a.Counts[i]
	}
	if total == 0 {
		return "-"
	}
	want := max(uint64(math.Ceil(q*float64(total))), 1)
	var seen uint64
	for i := range b.Counts {
		seen += b.Counts[i] - a.Counts[i]
		if seen >= want {
			if math.IsInf(b.Buckets[i+1], 1) {
				return "over " + time.Duration(b.Buckets[i]*1e9).String()
			}
			return time.Duration(b.Buckets[i+1] * 1e9).String()
		}
	}
	return "-"
}

// tlsConfig is the front's TLS configuration with a certificate for
// 127.0.0.1 issued by a fresh CA of internal/pki.
func tlsConfig() (*tls.Config, error) {
	ca, err := pki.NewCA("profgw", pki.DefaultKeySpec(), 2*time.Hour)
	if err != nil {
		return nil, err
	}
	certPEM, keyPEM, err := ca.IssueServer([]string{"127.0.0.1"}, pki.DefaultKeySpec(), time.Hour)
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	return frontend.TLSConfig(func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }, "", nil)
}
