// Command catalogue measures the figures of issue #16 side by side and
// prints them as a markdown section:
//
//   - WebHDFS in three processes (the section's figure): "catalogue
//     webhdfs" runs the namenode and datanode (internal/webhdfstest,
//     keeping no data), the section runs gatewayd in front of them, and
//     "catalogue transfers" is the client, timing a BIG-byte upload
//     (two-step CREATE) and download (OPEN) directly and through gatewayd,
//     interleaved round by round; the markdown run prints their medians
//     (-procs FILE).
//   - WebHDFS in one process (the older method, kept beside): the same
//     transfers through the gateway's data plane (proxy.Proxy on a loopback
//     listener, Basic authentication, identity assertion, sealed datanode
//     URL) with the client, namenode and datanode in this process.
//   - UI rewriting: a 100 KiB HTML page of a YARN-like UI rewritten by
//     proxy/rewrite in process (MB/s, µs and allocations per page, plain
//     and gzip), and served through the gateway with rewriting on and off
//     (the cost per page is the difference of the two times per page).
//
// Everything listens on 127.0.0.1 and stops when the program ends.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
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
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/internal/webhdfstest"
	"github.com/securegw/gateway/proxy"
	"github.com/securegw/gateway/proxy/rewrite"
)

func main() {
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "webhdfs":
		err = serveWebHDFS(os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "transfers":
		err = transfers(os.Args[2:])
	default:
		err = runFlags()
	}
	if err != nil {
		log.Fatal(err)
	}
}

// uiProfile is -ui-cpuprofile's file.
var uiProfile string

func runFlags() error {
	big := flag.Int64("bytes", 1<<30, "size of the WebHDFS transfers")
	rounds := flag.Int("rounds", 2, "interleaved rounds of the in-process figures (best of)")
	uiTime := flag.Duration("ui-time", 2*time.Second, "time per UI measurement")
	flag.StringVar(&uiProfile, "ui-cpuprofile", "", "CPU profile of the UI pages served through the gateway (rewriting on and off)")
	procs := flag.String("procs", "", "output of catalogue transfers: the three-process rows")
	flag.Parse()
	return run(*big, *rounds, *uiTime, *procs)
}

func run(big int64, rounds int, uiTime time.Duration, procs string) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "catalogue-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cl := webhdfstest.New(dir, true)
	defer cl.Close()
	ui := &http.Server{Handler: http.HandlerFunc(uiHandler), ReadHeaderTimeout: 10 * time.Second}
	uiLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() { _ = ui.Serve(uiLn) }()
	defer ui.Close()
	uiURL := "http://" + uiLn.Addr().String()

	p, err := proxy.New(proxy.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer p.Close()
	hash, err := bcrypt.GenerateFromPassword([]byte("bench-secret"), bcrypt.MinCost)
	if err != nil {
		return err
	}
	top := &topology.Topology{Name: "bench", Providers: []topology.Provider{
		{Role: "authentication", Name: "basic", Params: map[string]string{"user.alice": string(hash)}},
		{Role: "identity-assertion", Name: "default", Params: map[string]string{"query_param": "user.name"}},
	}, Services: []topology.Service{
		{Role: "WEBHDFS", Path: "webhdfs", URLs: []string{cl.NamenodeURL()}},
		{Role: "YARNUI", Path: "yarn", URLs: []string{uiURL}},
		{Role: "YARNUI", Path: "yarn-plain", URLs: []string{uiURL}, Params: map[string]string{"rewrite.body": "false"}},
	}}
	c, err := p.Compile(ctx, top)
	if err != nil {
		return err
	}
	p.Apply(c)
	gwLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	gw := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = gw.Serve(gwLn) }()
	defer gw.Close()
	gwURL := "http://" + gwLn.Addr().String()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}}

	direct := &webhdfstest.Client{Base: cl.NamenodeURL() + "/v1", HTTP: hc, UserName: "alice"}
	through := &webhdfstest.Client{Base: gwURL + "/gateway/bench/webhdfs/v1", HTTP: hc, User: "alice", Pass: "bench-secret"}
	if _, err := direct.Mkdirs("/bench"); err != nil {
		return fmt.Errorf("MKDIRS: %w", err)
	}
	best := map[string]float64{}
	for r := 0; r < rounds; r++ {
		for _, t := range []struct {
			name string
			c    *webhdfstest.Client
		}{{"direct", direct}, {"gateway", through}} {
			up, down, err := upDown(t.c, big, &tcpCounters{}, &tcpCounters{})
			if err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			best[t.name+"-up"] = max(best[t.name+"-up"], up)
			best[t.name+"-down"] = max(best[t.name+"-down"], down)
		}
	}

	page := uiPage(uiURL)
	plain := inProcess(page, "", uiTime)
	var zbuf bytes.Buffer
	zw := gzip.NewWriter(&zbuf)
	_, _ = zw.Write(page)
	_ = zw.Close()
	gz := inProcess(zbuf.Bytes(), "gzip", uiTime)
	var on, off float64
	if uiProfile != "" {
		f, err := os.Create(uiProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	for r := 0; r < rounds; r++ {
		on = max(on, pagesPerSecond(hc, gwURL+"/gateway/bench/yarn/page", uiTime))
		off = max(off, pagesPerSecond(hc, gwURL+"/gateway/bench/yarn-plain/page", uiTime))
	}

	if uiProfile != "" {
		pprof.StopCPUProfile()
	}
	fmt.Printf("## Knox catalogue: WebHDFS through datanode redirects, UI rewriting (issue #16)\n\n")
	fmt.Printf("| figure | gateway | direct | ratio | per round |\n|---|---|---|---|---|\n")
	if procs != "" {
		procRows(procs, big)
	}
	fmt.Printf("| WebHDFS upload %d MiB (CREATE, two steps), MB/s, all in one process (older method), best of %d | %.0f | %.0f | %.2f | |\n", big>>20, rounds, best["gateway-up"], best["direct-up"], best["gateway-up"]/best["direct-up"])
	fmt.Printf("| WebHDFS download %d MiB (OPEN, redirect followed), MB/s, all in one process (older method), best of %d | %.0f | %.0f | %.2f | |\n", big>>20, rounds, best["gateway-down"], best["direct-down"], best["gateway-down"]/best["direct-down"])
	if procs != "" {
		tcpRows(procs)
	}
	fmt.Printf("\n| UI rewriting (page of %d KiB) | MB/s | µs per page | allocations per page | KiB allocated per page |\n|---|---|---|---|---|\n", len(page)>>10)
	fmt.Printf("| in process, plain HTML | %.0f | %.0f | %.0f | %.0f |\n", plain.mbps, plain.usPerPage, plain.allocs, plain.kib)
	fmt.Printf("| in process, gzip HTML (decoded, rewritten) | %.0f | %.0f | %.0f | %.0f |\n", gz.mbps, gz.usPerPage, gz.allocs, gz.kib)
	fmt.Printf("\n| through the gateway, one client, sequential GETs | pages/s | µs per page |\n|---|---|---|\n")
	fmt.Printf("| rewriting on (YARNUI) | %.0f | %.0f |\n| rewriting off (rewrite.body: false) | %.0f | %.0f |\n", on, 1e6/on, off, 1e6/off)
	fmt.Printf("| cost of rewriting per %d KiB page | | %.0f |\n", len(page)>>10, 1e6/on-1e6/off)
	if procs != "" {
		fmt.Printf("\nMethod, three processes: gatewayd serve (plain HTTP front, log level warn; topology with Basic authentication, identity assertion as user.name, WEBHDFS service on the namenode) in its own process; the namenode and datanode of internal/webhdfstest (catalogue webhdfs; the datanode keeps no data and reads uploads in 256 KiB pieces, before 2026-12-06 16:50 in io.Discard's 8 KiB ones) in a second; the client (catalogue transfers, net/http, Basic credentials from a file, reading downloads in 256 KiB pieces) in a third. Direct is the same client on the namenode with user.name, its redirect followed to the datanode. Every row runs twice: with every socket at the system's congestion control (%s), and with every socket at cubic (a second namenode and datanode with cubic listeners, a second gatewayd with proxy.tcp_congestion: cubic, the client's sockets cubic). Bare forwarder: the same client on a third namenode through tcpfwd (scripts/bench/tcpfwd: io.Copy between two TCP sockets, so splice(2), no HTTP, in its own process), the namenode redirecting to a second tcpfwd in front of its datanode: the floor of any proxy hop between the same processes. Rounds interleaved (direct upload, download, gateway upload, download, forwarder upload, download, then the same with cubic), median MB/s of each; per round: the round's gateway ÷ direct.\n", systemCC())
	}
	fmt.Printf("\nMethod, one process: one process (%d cores, GOMAXPROCS %d) holds the gateway's data plane (proxy.Proxy, the handler gatewayd serves, on a loopback listener; Basic authentication with the password cache, identity assertion as user.name), the namenode and datanode of internal/webhdfstest (the datanode keeps no data: the figures are the path, not a disk) and the client; WebHDFS best of %d interleaved rounds (direct, gateway), MB = 10^6 bytes; UI in-process figures over %s of repeated rewrites of one page, allocations from runtime.MemStats. Client, gateway and WebHDFS share the machine's cores: compare the ratios, not the absolute figures. Load average at the end: %s.\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), rounds, uiTime, loadAverage())
	return nil
}

// loadAverage is /proc/loadavg's first three figures ("?" without it).
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}

// timed runs f, returning MB/s for n bytes.
func timed(n int64, f func() error) (float64, error) {
	start := time.Now()
	if err := f(); err != nil {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds() / 1e6, nil
}

// sink discards what it is given. Unlike io.Discard it has no ReadFrom, so
// io.CopyBuffer reads with the 256 KiB buffer it is handed (as the core
// section's download does) instead of io.Discard's own 8 KiB one.
type sink struct{}

func (sink) Write(p []byte) (int, error) { return len(p), nil }

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

type uiFigures struct{ mbps, usPerPage, allocs, kib float64 }

// inProcess rewrites body (Content-Encoding enc) repeatedly for d.
func inProcess(body []byte, enc string, d time.Duration) uiFigures {
	// As the gateway sets them for a UI service served from its
	// backends' root: root-relative links by RootPrefix, the rest mapped.
	o := &rewrite.Options{RootPrefix: "/gateway/t/yarn", Map: func(link string) (string, bool) {
		if rest, ok := strings.CutPrefix(link, "http://backend.internal:8088"); ok {
			return "https://gw.example/gateway/t/yarn" + rest, true
		}
		if strings.HasPrefix(link, "/") && !strings.HasPrefix(link, "//") {
			return "/gateway/t/yarn" + link, true
		}
		return link, true
	}}
	one := func() int64 {
		r, err := rewrite.NewReader(io.NopCloser(bytes.NewReader(body)), rewrite.KindHTML, enc, o)
		if err != nil {
			log.Fatal(err)
		}
		if err := r.Prime(); err != nil {
			log.Fatal(err)
		}
		n, err := io.Copy(io.Discard, r)
		if err != nil {
			log.Fatal(err)
		}
		return n
	}
	out := one()
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	start := time.Now()
	pages := 0
	for time.Since(start) < d {
		one()
		pages++
	}
	el := time.Since(start)
	runtime.ReadMemStats(&m1)
	return uiFigures{
		mbps:      float64(out) * float64(pages) / el.Seconds() / 1e6,
		usPerPage: float64(el.Microseconds()) / float64(pages),
		allocs:    float64(m1.Mallocs-m0.Mallocs) / float64(pages),
		kib:       float64(m1.TotalAlloc-m0.TotalAlloc) / float64(pages) / 1024,
	}
}

func pagesPerSecond(hc *http.Client, url string, d time.Duration) float64 {
	start := time.Now()
	n := 0
	for time.Since(start) < d {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.SetBasicAuth("alice", "bench-secret")
		resp, err := hc.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			log.Fatalf("%s: %d", url, resp.StatusCode)
		}
		n++
	}
	return float64(n) / time.Since(start).Seconds()
}

var uiPageBody []byte

func uiHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(uiPageBody)
}

// uiPage is a YARN-like applications page of about 100 KiB: a table of
// applications, each row with absolute and root-relative links, and
// scripts and stylesheets.
func uiPage(self string) []byte {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html><html><head><title>All Applications</title>
<link rel="stylesheet" href="/static/yarn.css"><link rel="stylesheet" href="` + self + `/static/jquery/themes-1.9.1/base/jquery-ui.css">
<script src="/static/jquery/jquery-3.6.0.min.js"></script><script src="` + self + `/static/dt-1.10.18/js/jquery.dataTables.min.js"></script>
<style>.ui-widget{background:url(/static/images/bg.png)}</style></head><body><div id="layout"><table id="apps"><thead><tr><th>ID</th><th>User</th><th>Name</th><th>State</th><th>Tracking UI</th></tr></thead><tbody>
`)
	for i := 0; b.Len() < 100<<10-300; i++ {
		fmt.Fprintf(&b, `<tr><td><a href="/cluster/app/application_1700000000000_%04d">application_1700000000000_%04d</a></td><td>alice</td><td>word count %d</td><td class="state">RUNNING</td><td><a href="%s/proxy/application_1700000000000_%04d/">ApplicationMaster</a></td></tr>
`, i, i, i, self, i)
	}
	b.WriteString(`</tbody></table></div><script>var appsTableData=[]; $(function(){ $.get("/ws/v1/cluster/metrics", function(d){}); });</script></body></html>`)
	// The served page names the UI backend itself, as YARN does; the page
	// rewritten in process names a backend of its Mapper.
	uiPageBody = []byte(b.String())
	return []byte(strings.ReplaceAll(b.String(), self, "http://backend.internal:8088"))
}

// systemCC is the system's TCP congestion control.
func systemCC() string {
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_congestion_control")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}
