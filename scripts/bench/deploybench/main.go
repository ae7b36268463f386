// Command deploybench measures the gateway's control plane over its gRPC
// management API, as the admin of a data dir (gatewayctl.yaml: server, ca,
// cert, key, server_name; paths relative to the file). Every mode is bounded
// in time and prints one JSON object.
//
//	deploybench addrs    -ctl DIR/gatewayctl.yaml                 wait for the daemon; print its proxy and management addresses
//	deploybench latency  -ctl … -proxy URL -backend URL -n 200    deploy-to-live latency, misses, sustained deploys/s
//	deploybench churn    -ctl … -urls A,B -n 100                  redeploy one topology n times, alternating backends
//	deploybench populate -ctl … -backend URL -from 0 -to 10000    store many topologies, -conc at a time
//	deploybench waitlog  -file LOG -start-ns N                    time from N to the "gatewayd serving" log line
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	mode, args := os.Args[1], os.Args[2:]
	var err error
	switch mode {
	case "addrs":
		err = runAddrs(args)
	case "latency":
		err = runLatency(args)
	case "churn":
		err = runChurn(args)
	case "populate":
		err = runPopulate(args)
	case "waitlog":
		err = runWaitLog(args)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "deploybench "+mode+": "+err.Error())
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: deploybench addrs|latency|churn|populate|waitlog [flags]")
	os.Exit(2)
}

func printJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Println(string(b))
	return err
}

// ctlConfig is gatewayctl.yaml.
type ctlConfig struct {
	Server     string `yaml:"server"`
	CA         string `yaml:"ca"`
	Cert       string `yaml:"cert"`
	Key        string `yaml:"key"`
	ServerName string `yaml:"server_name"`
}

func readCtlConfig(path string) (ctlConfig, error) {
	var c ctlConfig
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	dir := filepath.Dir(path)
	for _, p := range []*string{&c.CA, &c.Cert, &c.Key} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	return c, nil
}

// dial connects to the management API as gatewayctl.yaml says.
func dial(path string) (*grpc.ClientConn, ctlConfig, error) {
	c, err := readCtlConfig(path)
	if err != nil {
		return nil, c, err
	}
	ca, err := os.ReadFile(c.CA)
	if err != nil {
		return nil, c, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, c, fmt.Errorf("%s: no PEM certificate", c.CA)
	}
	cert, err := tls.LoadX509KeyPair(c.Cert, c.Key)
	if err != nil {
		return nil, c, fmt.Errorf("admin certificate: %w", err)
	}
	tc := &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, ServerName: c.ServerName, MinVersion: tls.VersionTLS12}
	conn, err := grpc.NewClient(c.Server, grpc.WithTransportCredentials(credentials.NewTLS(tc)))
	return conn, c, err
}

// ctlFlag binds -ctl.
func ctlFlag(fs *flag.FlagSet) *string {
	return fs.String("ctl", "", "gatewayctl.yaml of the daemon's data dir")
}

// runAddrs waits until the daemon has written its management address into
// gatewayctl.yaml and answers GetStatus, then prints its addresses. It works
// whatever the daemon's log level.
func runAddrs(args []string) error {
	fs := flag.NewFlagSet("addrs", flag.ExitOnError)
	ctl := ctlFlag(fs)
	timeout := fs.Duration("timeout", 60*time.Second, "give up after")
	pid := fs.Int("pid", 0, "fail early when this process has exited")
	_ = fs.Parse(args)
	deadline := time.Now().Add(*timeout)
	var last error
	for time.Now().Before(deadline) {
		if *pid > 0 && syscall.Kill(*pid, 0) != nil {
			return fmt.Errorf("process %d exited", *pid)
		}
		st, err := status(*ctl)
		if err == nil {
			return printJSON(map[string]any{"proxy": st.GetProxyAddress(), "management": st.GetManagementAddress(),
				"topologies": st.GetTopologyCount(), "version": st.GetVersion()})
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("daemon not ready within %v: %v", *timeout, last)
}

func status(ctl string) (*gatewayv1.GetStatusResponse, error) {
	c, err := readCtlConfig(ctl)
	if err != nil {
		return nil, err
	}
	if _, port, err := net.SplitHostPort(c.Server); err != nil || port == "0" {
		return nil, fmt.Errorf("%s names no listening address yet (%q)", ctl, c.Server)
	}
	conn, _, err := dial(ctl)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return gatewayv1.NewStatusServiceClient(conn).GetStatus(ctx, &gatewayv1.GetStatusRequest{})
}

// topologyDoc is a topology with the full chain (anonymous authentication,
// default identity assertion) and one service per URL: svc0, svc1, …
func topologyDoc(name string, urls ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\nproviders:\n  - role: authentication\n    name: anonymous\n  - role: identity-assertion\n    name: default\nservices:\n", name)
	for i, u := range urls {
		fmt.Fprintf(&b, "  - path: svc%d\n    urls: [%q]\n", i, u)
	}
	return []byte(b.String())
}

func deploy(ctx context.Context, tc gatewayv1.TopologyServiceClient, doc []byte) (*gatewayv1.DeployResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return tc.Deploy(ctx, &gatewayv1.DeployRequest{Document: doc, Format: gatewayv1.Format_FORMAT_YAML, SourceName: "deploybench.yaml"})
}

func httpClient(cacert string) (*http.Client, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}
	if cacert != "" {
		pem, err := os.ReadFile(cacert)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, nil
}

func fetch(hc *http.Client, url string) (int, string, error) {
	resp, err := hc.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b), err
}

func quantiles(d []time.Duration) map[string]float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	q := func(p float64) float64 {
		if len(s) == 0 {
			return 0
		}
		i := max(0, min(int(math.Ceil(p*float64(len(s))))-1, len(s)-1))
		return float64(s[i].Microseconds()) / 1e3
	}
	return map[string]float64{"p50_ms": q(0.5), "p90_ms": q(0.9), "p99_ms": q(0.99), "max_ms": q(1)}
}

// runLatency deploys one topology n times, each time pointing its service at
// a new backend path (…/tag/N), and times each Deploy call. When the call
// returns the change must be live: a GET through the proxy right after must
// be answered by the new path, else it is a miss. Then it deploys back to
// back for -sustain (one client, then -conc clients on their own topologies)
// for the sustained rate.
func runLatency(args []string) error {
	fs := flag.NewFlagSet("latency", flag.ExitOnError)
	ctl := ctlFlag(fs)
	proxy := fs.String("proxy", "", "proxy base URL, e.g. http://127.0.0.1:8443/gateway")
	cacert := fs.String("cacert", "", "CA of an https proxy")
	backend := fs.String("backend", "", "backend base URL")
	name := fs.String("topology", "hot", "topology to redeploy")
	n := fs.Int("n", 200, "timed deploys")
	sustain := fs.Duration("sustain", 0, "then deploy back to back this long (0: skip)")
	conc := fs.Int("conc", 4, "clients in the concurrent sustained run")
	_ = fs.Parse(args)
	if *n < 1 || *n > 100000 || *sustain > 10*time.Minute {
		return errors.New("-n in [1, 100000], -sustain at most 10m")
	}
	conn, _, err := dial(*ctl)
	if err != nil {
		return err
	}
	defer conn.Close()
	tc := gatewayv1.NewTopologyServiceClient(conn)
	hc, err := httpClient(*cacert)
	if err != nil {
		return err
	}
	ctx := context.Background()
	run := time.Now().UnixNano() % 1000000 // tags differ from any earlier run's
	var (
		rpc, live []time.Duration
		misses    int
		missLog   []string
		errs      int
		errLog    []string
	)
	for i := 0; i < *n; i++ {
		tag := fmt.Sprintf("r%d-%d", run, i)
		doc := topologyDoc(*name, *backend+"/tag/"+tag)
		t0 := time.Now()
		_, err := deploy(ctx, tc, doc)
		t1 := time.Now()
		if err != nil {
			errs++
			if len(errLog) < 3 {
				errLog = append(errLog, err.Error())
			}
			continue
		}
		code, body, err := fetch(hc, *proxy+"/"+*name+"/svc0/x")
		t2 := time.Now()
		rpc = append(rpc, t1.Sub(t0))
		live = append(live, t2.Sub(t0))
		if err != nil || code != 200 || strings.TrimSpace(body) != "tag "+tag {
			misses++
			if len(missLog) < 3 {
				missLog = append(missLog, fmt.Sprintf("want %q, got %d %q %v", "tag "+tag, code, strings.TrimSpace(body), err))
			}
		}
	}
	out := map[string]any{"n": *n, "deploy_errors": errs, "misses": misses, "rpc": quantiles(rpc), "deploy_then_get": quantiles(live)}
	if len(missLog) > 0 {
		out["first_misses"] = missLog
	}
	if len(errLog) > 0 {
		out["first_errors"] = errLog
	}
	if *sustain > 0 {
		out["sustained_1"] = sustained(ctx, tc, *backend, []string{*name}, *sustain)
		names := make([]string, *conc)
		for i := range names {
			names[i] = fmt.Sprintf("%s-c%d", *name, i)
		}
		out[fmt.Sprintf("sustained_%d", *conc)] = sustained(ctx, tc, *backend, names, *sustain)
		for _, nm := range names {
			dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			_, _ = tc.Delete(dctx, &gatewayv1.DeleteRequest{Name: nm})
			cancel()
		}
	}
	return printJSON(out)
}

// sustained deploys back to back, one client per name, for d.
func sustained(ctx context.Context, tc gatewayv1.TopologyServiceClient, backend string, names []string, d time.Duration) map[string]any {
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var lat []time.Duration
	start := time.Now()
	stop := start.Add(d)
	for w, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []time.Duration
			for i := 0; time.Now().Before(stop); i++ {
				t0 := time.Now()
				_, err := deploy(ctx, tc, topologyDoc(name, fmt.Sprintf("%s/tag/s%d-%d", backend, w, i)))
				if err != nil {
					failed.Add(1)
					continue
				}
				local = append(local, time.Since(t0))
				ok.Add(1)
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	return map[string]any{"clients": len(names), "deploys": ok.Load(), "errors": failed.Load(), "seconds": secs,
		"per_s": float64(ok.Load()) / secs, "rpc": quantiles(lat)}
}

// runChurn redeploys one topology n times, alternating its service between
// the given URLs, as fast as the API takes it.
func runChurn(args []string) error {
	fs := flag.NewFlagSet("churn", flag.ExitOnError)
	ctl := ctlFlag(fs)
	name := fs.String("topology", "hot", "topology to redeploy")
	urls := fs.String("urls", "", "comma-separated backend URLs to alternate")
	n := fs.Int("n", 100, "deploys")
	pause := fs.Duration("pause", 0, "between deploys")
	_ = fs.Parse(args)
	list := strings.Split(*urls, ",")
	if *urls == "" || len(list) < 2 || *n < 1 || *n > 100000 {
		return errors.New("-urls needs two URLs or more; -n in [1, 100000]")
	}
	conn, _, err := dial(*ctl)
	if err != nil {
		return err
	}
	defer conn.Close()
	tc := gatewayv1.NewTopologyServiceClient(conn)
	ctx := context.Background()
	var lat []time.Duration
	var errs, unchanged int
	var errLog []string
	start := time.Now()
	for i := 0; i < *n; i++ {
		t0 := time.Now()
		resp, err := deploy(ctx, tc, topologyDoc(*name, list[i%len(list)]))
		if err != nil {
			errs++
			if len(errLog) < 3 {
				errLog = append(errLog, err.Error())
			}
			continue
		}
		if !resp.GetChanged() {
			unchanged++
		}
		lat = append(lat, time.Since(t0))
		if *pause > 0 {
			time.Sleep(*pause)
		}
	}
	secs := time.Since(start).Seconds()
	out := map[string]any{"deploys": len(lat), "errors": errs, "unchanged": unchanged, "seconds": secs, "per_s": float64(len(lat)) / secs, "rpc": quantiles(lat)}
	if len(errLog) > 0 {
		out["first_errors"] = errLog
	}
	return printJSON(out)
}

// runPopulate stores topologies PREFIX-FROM … PREFIX-(TO-1) of -services
// services each, -conc deploys in flight, within -timeout.
func runPopulate(args []string) error {
	fs := flag.NewFlagSet("populate", flag.ExitOnError)
	ctl := ctlFlag(fs)
	backend := fs.String("backend", "", "backend base URL")
	prefix := fs.String("prefix", "pop", "topology name prefix")
	from := fs.Int("from", 0, "first index")
	to := fs.Int("to", 1000, "last index + 1")
	services := fs.Int("services", 5, "services per topology")
	conc := fs.Int("conc", 8, "deploys in flight")
	timeout := fs.Duration("timeout", 15*time.Minute, "give up after")
	_ = fs.Parse(args)
	if *to-*from > 100000 || *conc < 1 || *conc > 64 {
		return errors.New("at most 100000 topologies, -conc in [1, 64]")
	}
	conn, _, err := dial(*ctl)
	if err != nil {
		return err
	}
	defer conn.Close()
	tc := gatewayv1.NewTopologyServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var next atomic.Int64
	next.Store(int64(*from))
	var ok, failed atomic.Int64
	var mu sync.Mutex
	var errLog []string
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < *conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= *to {
					return
				}
				name := fmt.Sprintf("%s-%05d", *prefix, i)
				urls := make([]string, *services)
				for s := range urls {
					urls[s] = fmt.Sprintf("%s/tag/%s-%d", *backend, name, s)
				}
				if _, err := deploy(ctx, tc, topologyDoc(name, urls...)); err != nil {
					failed.Add(1)
					mu.Lock()
					if len(errLog) < 3 {
						errLog = append(errLog, err.Error())
					}
					mu.Unlock()
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	out := map[string]any{"deployed": ok.Load(), "errors": failed.Load(), "seconds": secs, "per_s": float64(ok.Load()) / secs,
		"timed_out": ctx.Err() != nil && int(next.Load()) < *to}
	if len(errLog) > 0 {
		out["first_errors"] = errLog
	}
	return printJSON(out)
}

// runWaitLog follows a JSON log file until its "gatewayd serving" line and
// prints the time from -start-ns (when the daemon was started) to that
// line's own timestamp, and to when it was seen.
func runWaitLog(args []string) error {
	fs := flag.NewFlagSet("waitlog", flag.ExitOnError)
	file := fs.String("file", "", "the daemon's stderr")
	msg := fs.String("msg", "gatewayd serving", "log message to wait for")
	startNS := fs.Int64("start-ns", 0, "start time, Unix nanoseconds")
	pid := fs.Int("pid", 0, "fail early when this process has exited")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after")
	_ = fs.Parse(args)
	start := time.Unix(0, *startNS)
	deadline := time.Now().Add(*timeout)
	for time.Now().Before(deadline) {
		f, err := os.Open(*file)
		if err == nil {
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 64<<10), 4<<20)
			for sc.Scan() {
				var line struct {
					Time  time.Time `json:"time"`
					Msg   string    `json:"msg"`
					Proxy string    `json:"proxy"`
				}
				if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == *msg {
					seen := time.Now()
					f.Close()
					return printJSON(map[string]any{"ms": float64(line.Time.Sub(start).Microseconds()) / 1e3,
						"seen_ms": float64(seen.Sub(start).Microseconds()) / 1e3, "proxy": line.Proxy})
				}
			}
			f.Close()
		}
		if *pid > 0 && syscall.Kill(*pid, 0) != nil {
			return fmt.Errorf("process %d exited before %q", *pid, *msg)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return fmt.Errorf("no %q line in %s within %v", *msg, *file, *timeout)
}
