// Command tokenbench measures the token service through a running gatewayd,
// as the admin of its data dir (gatewayctl.yaml), for the "tokens" section
// of make bench:
//
//	tokenbench issue  -ctl CTL -alg ES256 -conns 32 -duration 5s       tokens issued per second (state persisted)
//	tokenbench load   -url URL [-token T] [-cacert CA] -conns 32 -duration 5s   closed-loop GETs per second
//	tokenbench revoke -ctl CTL -url URL -policy P -n 100              revocation-to-refusal latency
//
// Each prints one JSON object. Traffic goes to loopback only.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: tokenbench issue|load|revoke [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "issue":
		err = issue(os.Args[2:])
	case "load":
		err = load(os.Args[2:])
	case "revoke":
		err = revoke(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tokenbench:", err)
		os.Exit(1)
	}
}

type ctlConfig struct {
	Server     string `yaml:"server"`
	CA         string `yaml:"ca"`
	Cert       string `yaml:"cert"`
	Key        string `yaml:"key"`
	ServerName string `yaml:"server_name"`
}

func dial(path string) (*grpc.ClientConn, error) {
	var c ctlConfig
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	for _, p := range []*string{&c.CA, &c.Cert, &c.Key} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	ca, err := os.ReadFile(c.CA)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	cert, err := tls.LoadX509KeyPair(c.Cert, c.Key)
	if err != nil {
		return nil, err
	}
	tc := &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, ServerName: c.ServerName, MinVersion: tls.VersionTLS12}
	return grpc.NewClient(c.Server, grpc.WithTransportCredentials(credentials.NewTLS(tc)))
}

func emit(v any) error { return json.NewEncoder(os.Stdout).Encode(v) }

// issue runs conns concurrent IssueToken calls for duration.
func issue(args []string) error {
	fs := flag.NewFlagSet("issue", flag.ExitOnError)
	ctl := fs.String("ctl", "", "gatewayctl.yaml")
	alg := fs.String("alg", "ES256", "algorithm")
	policy := fs.String("policy", "", "token policy (must allow the algorithm)")
	conns := fs.Int("conns", 32, "concurrent calls")
	duration := fs.Duration("duration", 5*time.Second, "measured duration")
	_ = fs.Parse(args)
	conn, err := dial(*ctl)
	if err != nil {
		return err
	}
	defer conn.Close()
	c := gatewayv1.NewTokenServiceClient(conn)
	ctx := context.Background()
	// Warm: the first call of an algorithm creates its key.
	if _, err := c.IssueToken(ctx, &gatewayv1.IssueTokenRequest{Policy: *policy, Algorithm: *alg}); err != nil {
		return err
	}
	var n, fails atomic.Int64
	stop := time.Now().Add(*duration)
	var wg sync.WaitGroup
	start := time.Now()
	for range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				if _, err := c.IssueToken(ctx, &gatewayv1.IssueTokenRequest{Policy: *policy, Algorithm: *alg}); err != nil {
					fails.Add(1)
					continue
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	return emit(map[string]any{"alg": *alg, "issued": n.Load(), "errors": fails.Load(), "per_second": float64(n.Load()) / el})
}

func client(cacert string, conns int) (*http.Client, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
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

func get(hc *http.Client, url, token string) (int, error) {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// load runs closed-loop GETs (with a bearer token when given).
func load(args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	url := fs.String("url", "", "target URL")
	token := fs.String("token", "", "bearer token")
	cacert := fs.String("cacert", "", "CA of an https target")
	conns := fs.Int("conns", 32, "connections")
	duration := fs.Duration("duration", 5*time.Second, "measured duration")
	_ = fs.Parse(args)
	hc, err := client(*cacert, *conns)
	if err != nil {
		return err
	}
	if code, err := get(hc, *url, *token); err != nil || code != 200 {
		return fmt.Errorf("probe %s: %d %v", *url, code, err)
	}
	var n, bad atomic.Int64
	stop := time.Now().Add(*duration)
	var wg sync.WaitGroup
	start := time.Now()
	for range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				if code, err := get(hc, *url, *token); err != nil || code != 200 {
					bad.Add(1)
					continue
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return emit(map[string]any{"rps": float64(n.Load()) / time.Since(start).Seconds(), "errors": bad.Load()})
}

// revoke measures, n times, the time from sending RevokeToken to the first
// request refused with that token, while a poller sends requests with it
// back to back.
func revoke(args []string) error {
	fs := flag.NewFlagSet("revoke", flag.ExitOnError)
	ctl := fs.String("ctl", "", "gatewayctl.yaml")
	url := fs.String("url", "", "a JWT-protected URL")
	cacert := fs.String("cacert", "", "CA of an https target")
	n := fs.Int("n", 100, "revocations")
	_ = fs.Parse(args)
	conn, err := dial(*ctl)
	if err != nil {
		return err
	}
	defer conn.Close()
	c := gatewayv1.NewTokenServiceClient(conn)
	hc, err := client(*cacert, 4)
	if err != nil {
		return err
	}
	ctx := context.Background()
	var lat []time.Duration
	for range *n {
		tok, err := c.IssueToken(ctx, &gatewayv1.IssueTokenRequest{})
		if err != nil {
			return err
		}
		if code, err := get(hc, *url, tok.GetToken()); err != nil || code != 200 {
			return fmt.Errorf("fresh token: %d %v", code, err)
		}
		var sent atomic.Int64
		refused := make(chan time.Time, 1)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				code, err := get(hc, *url, tok.GetToken())
				if err == nil && code == http.StatusUnauthorized && sent.Load() != 0 {
					refused <- time.Now()
					return
				}
				if time.Since(time.Unix(0, max(sent.Load(), 1))) > 10*time.Second && sent.Load() != 0 {
					return
				}
			}
		}()
		t0 := time.Now()
		sent.Store(t0.UnixNano())
		if _, err := c.RevokeToken(ctx, &gatewayv1.RevokeTokenRequest{Id: tok.GetInfo().GetId()}); err != nil {
			return err
		}
		<-done
		select {
		case t1 := <-refused:
			lat = append(lat, t1.Sub(t0))
		default:
			return fmt.Errorf("revoked token still accepted after 10s")
		}
	}
	slices.Sort(lat)
	// Nearest rank: the smallest value with at least p of them at or below
	// it (with 100 samples the p99 is the 99th, not the maximum).
	pct := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(lat)))) - 1
		return float64(lat[max(0, min(len(lat)-1, i))].Microseconds()) / 1000
	}
	return emit(map[string]any{"n": len(lat), "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": float64(lat[len(lat)-1].Microseconds()) / 1000})
}
