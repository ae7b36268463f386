package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/securegw/gateway/internal/tcpcc"
	"github.com/securegw/gateway/internal/webhdfstest"
)

// The WebHDFS figures in three processes (the bench section's method):
// "catalogue webhdfs" runs the namenode and datanode, gatewayd (started
// by the section) proxies them, and "catalogue transfers" is the client.
// Direct is then the client's process and the datanode's, as through the
// gateway it is the client's, gatewayd's and the datanode's: no Go
// runtime of the client or the datanode shares the gateway's.

// serveWebHDFS runs a discarding namenode and datanode until SIGTERM or
// SIGINT, printing the namenode's WebHDFS URL first; -cc sets their
// sockets' congestion control.
func serveWebHDFS(args []string) error {
	fs := flag.NewFlagSet("webhdfs", flag.ExitOnError)
	cc := fs.String("cc", "", "TCP congestion control of the namenode's and datanode's sockets (default: the system's)")
	_ = fs.Parse(args)
	dir, err := os.MkdirTemp("", "catalogue-webhdfs")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cl, err := webhdfstest.NewOn(dir, true, net.ListenConfig{Control: tcpcc.Control(*cc)})
	if err != nil {
		return err
	}
	defer cl.Close()
	fmt.Println(cl.NamenodeURL())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	return nil
}

// procFigures are the per-round MB/s of each transfer, keyed
// "direct-up", "direct-down", "gateway-up", "gateway-down".
type procFigures struct {
	Bytes  int64                `json:"bytes"`
	Rounds map[string][]float64 `json:"rounds"`
	Error  string               `json:"error,omitempty"`
}

// transfers is the client of the three-process figures: ROUNDS interleaved
// rounds of (direct upload, download; gateway upload, download), per-round
// MB/s as JSON on stdout. The Basic password is read from a file.
func transfers(args []string) error {
	fs := flag.NewFlagSet("transfers", flag.ExitOnError)
	namenode := fs.String("namenode", "", "the namenode's WebHDFS URL (…/webhdfs)")
	gateway := fs.String("gateway", "", "the gateway's WebHDFS URL (…/gateway/T/webhdfs)")
	namenodeCC := fs.String("namenode-cc", "", "a namenode whose sockets run -cc (optional: the -cc rounds)")
	gatewayCC := fs.String("gateway-cc", "", "a gateway with proxy.tcp_congestion -cc in front of -namenode-cc")
	cc := fs.String("cc", "cubic", "congestion control of the client's sockets in the -cc rounds")
	user := fs.String("user", "alice", "user (user.name direct, Basic through the gateway)")
	passFile := fs.String("pass-file", "", "file holding the Basic password")
	big := fs.Int64("bytes", 1<<30, "size of each transfer")
	rounds := fs.Int("rounds", 5, "interleaved rounds")
	_ = fs.Parse(args)
	pass, err := os.ReadFile(*passFile)
	if err != nil {
		return fmt.Errorf("password: %w", err)
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}}
	type target struct {
		name string
		c    *webhdfstest.Client
	}
	targets := []target{
		{"direct", &webhdfstest.Client{Base: *namenode + "/v1", HTTP: hc, UserName: *user}},
		{"gateway", &webhdfstest.Client{Base: *gateway + "/v1", HTTP: hc, User: *user, Pass: strings.TrimSpace(string(pass))}},
	}
	if *namenodeCC != "" && *gatewayCC != "" {
		d := &net.Dialer{Control: tcpcc.Control(*cc)}
		hcc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true, DialContext: d.DialContext}}
		targets = append(targets, []target{
			{"direct-cc", &webhdfstest.Client{Base: *namenodeCC + "/v1", HTTP: hcc, UserName: *user}},
			{"gateway-cc", &webhdfstest.Client{Base: *gatewayCC + "/v1", HTTP: hcc, User: *user, Pass: strings.TrimSpace(string(pass))}},
		}...)
	}
	for _, t := range targets {
		// Through the gateway, this also warms the password cache: no
		// round times the first password check.
		if _, err := t.c.Mkdirs("/bench"); err != nil {
			return fmt.Errorf("%s MKDIRS: %w", t.name, err)
		}
	}
	out := procFigures{Bytes: *big, Rounds: map[string][]float64{}}
	for r := 0; r < *rounds && out.Error == ""; r++ {
		for _, t := range targets {
			up, down, err := upDown(t.c, *big)
			if err != nil {
				out.Error = fmt.Sprintf("%s: %v", t.name, err)
				break
			}
			out.Rounds[t.name+"-up"] = append(out.Rounds[t.name+"-up"], up)
			out.Rounds[t.name+"-down"] = append(out.Rounds[t.name+"-down"], down)
		}
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

// upDown uploads big bytes (two-step CREATE) and downloads them (OPEN,
// redirect followed), returning MB/s of each.
func upDown(c *webhdfstest.Client, big int64) (up, down float64, err error) {
	up, err = timed(big, func() error {
		_, err := c.Create("/bench/big", io.LimitReader(zeroReader{}, big), big, true)
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("upload: %w", err)
	}
	down, err = timed(big, func() error {
		rc, err := c.Open("/bench/big")
		if err != nil {
			return err
		}
		defer rc.Close()
		n, err := io.CopyBuffer(sink{}, rc, make([]byte, 256<<10))
		if err == nil && n != big {
			err = fmt.Errorf("read %d bytes, want %d", n, big)
		}
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("download: %w", err)
	}
	return up, down, nil
}

// procRows prints the three-process rows from the file of transfers'
// output (a note when it is missing or failed).
func procRows(file string, big int64) {
	var f procFigures
	b, err := os.ReadFile(file)
	if err == nil {
		err = json.Unmarshal(b, &f)
	}
	switch {
	case err != nil:
		fmt.Printf("| WebHDFS, three processes | not measured: %v | | | |\n", err)
		return
	case f.Error != "":
		fmt.Printf("| WebHDFS, three processes | not measured: %s | | | |\n", f.Error)
		return
	}
	for _, world := range []struct{ suffix, what string }{{"", "every socket the system's congestion control (" + systemCC() + ")"}, {"-cc", "every socket cubic"}} {
		for _, dir := range []struct{ key, what string }{{"up", "upload %d MiB (CREATE, two steps)"}, {"down", "download %d MiB (OPEN, redirect followed)"}} {
			gw, direct := f.Rounds["gateway"+world.suffix+"-"+dir.key], f.Rounds["direct"+world.suffix+"-"+dir.key]
			if len(gw) == 0 {
				continue
			}
			var ratios []string
			for i := range min(len(gw), len(direct)) {
				ratios = append(ratios, fmt.Sprintf("%.2f", gw[i]/direct[i]))
			}
			fmt.Printf("| WebHDFS "+dir.what+", MB/s, gatewayd, datanode and client in three processes, %s, median of %d | %.0f | %.0f | **%.2f** | %s |\n",
				f.Bytes>>20, world.what, len(gw), median(gw), median(direct), median(gw)/median(direct), strings.Join(ratios, " "))
		}
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
