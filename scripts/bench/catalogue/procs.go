package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
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
// sockets' congestion control, -keep keeps the files' contents (the
// README's WebHDFS example: OPEN returns what CREATE stored).
func serveWebHDFS(args []string) error {
	fs := flag.NewFlagSet("webhdfs", flag.ExitOnError)
	cc := fs.String("cc", "", "TCP congestion control of the namenode's and datanode's sockets (default: the system's)")
	keep := fs.Bool("keep", false, "keep the contents of the files written (in a temporary directory removed at exit); by default only their lengths, and OPEN sends zeros")
	redirect := fs.String("redirect-to", "", "origin (http://host:port) the namenode redirects to instead of its datanode: a forwarder in front of the datanode")
	_ = fs.Parse(args)
	dir, err := os.MkdirTemp("", "catalogue-webhdfs")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cl, err := webhdfstest.NewOn(dir, !*keep, net.ListenConfig{Control: tcpcc.Control(*cc)})
	if err != nil {
		return err
	}
	defer cl.Close()
	if *redirect != "" {
		cl.RedirectTo(*redirect)
	}
	// The namenode's URL, then the datanode's origin (for a forwarder).
	fmt.Println(cl.NamenodeURL())
	fmt.Println(cl.DatanodeURL())
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
	// TCP sums the kernel's TCP counters over each transfer's rounds,
	// keyed as Rounds (Linux; zero where /proc/net cannot be read).
	TCP   map[string]*tcpCounters `json:"tcp,omitempty"`
	Error string                  `json:"error,omitempty"`
}

// tcpCounters are the kernel's TCP counters that tell a clean transfer
// from one whose segments arrive out of order (system-wide, as nstat
// shows them: the section runs alone on the machine).
type tcpCounters struct {
	Retrans float64 `json:"retrans"` // Tcp RetransSegs: segments sent again
	DSACK   float64 `json:"dsack"`   // TcpExt TCPDSACKRecv: of them, reported received twice (spurious)
	OFO     float64 `json:"ofo"`     // TcpExt TCPOFOQueue: segments queued out of order
}

// readTCPCounters reads the counters from /proc/net/snmp and
// /proc/net/netstat (false elsewhere than on Linux, or when a file does not
// read as expected: no figure rather than a wrong one).
func readTCPCounters() (tcpCounters, bool) {
	var files [2]io.Reader
	for i, name := range []string{"/proc/net/snmp", "/proc/net/netstat"} {
		b, err := os.ReadFile(name)
		if err != nil {
			return tcpCounters{}, false
		}
		files[i] = bytes.NewReader(b)
	}
	c, err := parseTCPCounters(files[0], files[1])
	return c, err == nil
}

// parseTCPCounters reads the counters from the text of /proc/net/snmp and
// /proc/net/netstat. A file that does not parse (parseProcNet) or lacks
// one of the counters is an error.
func parseTCPCounters(snmp, netstat io.Reader) (tcpCounters, error) {
	v := map[string]float64{}
	if err := parseProcNet(snmp, v); err != nil {
		return tcpCounters{}, fmt.Errorf("/proc/net/snmp: %w", err)
	}
	if err := parseProcNet(netstat, v); err != nil {
		return tcpCounters{}, fmt.Errorf("/proc/net/netstat: %w", err)
	}
	var c tcpCounters
	for _, f := range []struct {
		key string
		to  *float64
	}{
		{"Tcp:RetransSegs", &c.Retrans},
		{"TcpExt:TCPDSACKRecv", &c.DSACK},
		{"TcpExt:TCPOFOQueue", &c.OFO},
	} {
		x, ok := v[f.key]
		if !ok {
			return tcpCounters{}, fmt.Errorf("no counter %s", f.key)
		}
		*f.to = x
	}
	return c, nil
}

// parseProcNet adds the counters of r to v, keyed "Prefix:Name". r is
// made of pairs of lines, "Prefix: names…" then "Prefix: values…" (the
// format of /proc/net/snmp and /proc/net/netstat); a pair whose prefixes
// or counts differ, a value that is not a number, a name given twice or a
// names line without its values is an error.
func parseProcNet(r io.Reader, v map[string]float64) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	line, added := 0, 0
	for sc.Scan() {
		line++
		names := strings.Fields(sc.Text())
		if len(names) == 0 {
			continue // a blank line (the end)
		}
		var values []string
		if sc.Scan() {
			line++
			values = strings.Fields(sc.Text())
		}
		prefix := names[0]
		switch {
		case !strings.HasSuffix(prefix, ":") || len(names) < 2:
			return fmt.Errorf("line %d: %q is not a names line", line-1, prefix)
		case len(values) == 0 || values[0] != prefix:
			return fmt.Errorf("line %d: the values of %s are missing", line, prefix)
		case len(values) != len(names):
			return fmt.Errorf("line %d: %d values for %d names of %s", line, len(values)-1, len(names)-1, prefix)
		}
		for j := 1; j < len(names); j++ {
			x, err := parseCounter(values[j])
			if err != nil {
				return fmt.Errorf("line %d: %s%s: %w", line, prefix, names[j], err)
			}
			k := prefix + names[j]
			if _, dup := v[k]; dup {
				return fmt.Errorf("line %d: %s given twice", line, k)
			}
			v[k] = x
			added++
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if added == 0 {
		return errors.New("no counters")
	}
	return nil
}

// parseCounter parses a counter: a decimal integer (unsigned 64 bits, or
// signed as Tcp MaxConn's -1).
func parseCounter(s string) (float64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return float64(n), nil
	}
	u, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a counter", s)
	}
	return float64(u), nil
}

// add adds the counters' growth from before to after to c.
func (c *tcpCounters) add(before, after tcpCounters) {
	c.Retrans += after.Retrans - before.Retrans
	c.DSACK += after.DSACK - before.DSACK
	c.OFO += after.OFO - before.OFO
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
	hop := fs.String("hop", "", "a namenode's WebHDFS URL through a bare TCP forwarder, whose redirects name a forwarder in front of its datanode (optional: the floor of any hop)")
	hopCC := fs.String("hop-cc", "", "the same in the -cc world")
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
	if *hop != "" {
		targets = append(targets, target{"hop", &webhdfstest.Client{Base: *hop + "/v1", HTTP: hc, UserName: *user}})
	}
	if *namenodeCC != "" && *gatewayCC != "" {
		d := &net.Dialer{Control: tcpcc.Control(*cc)}
		hcc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true, DialContext: d.DialContext}}
		targets = append(targets, []target{
			{"direct-cc", &webhdfstest.Client{Base: *namenodeCC + "/v1", HTTP: hcc, UserName: *user}},
			{"gateway-cc", &webhdfstest.Client{Base: *gatewayCC + "/v1", HTTP: hcc, User: *user, Pass: strings.TrimSpace(string(pass))}},
		}...)
		if *hopCC != "" {
			targets = append(targets, target{"hop-cc", &webhdfstest.Client{Base: *hopCC + "/v1", HTTP: hcc, UserName: *user}})
		}
	}
	for _, t := range targets {
		// Through the gateway, this also warms the password cache: no
		// round times the first password check.
		if _, err := t.c.Mkdirs("/bench"); err != nil {
			return fmt.Errorf("%s MKDIRS: %w", t.name, err)
		}
	}
	out := procFigures{Bytes: *big, Rounds: map[string][]float64{}, TCP: map[string]*tcpCounters{}}
	for r := 0; r < *rounds && out.Error == ""; r++ {
		for _, t := range targets {
			tcp := func(dir string) *tcpCounters {
				k := t.name + "-" + dir
				if out.TCP[k] == nil {
					out.TCP[k] = &tcpCounters{}
				}
				return out.TCP[k]
			}
			up, down, err := upDown(t.c, *big, tcp("up"), tcp("down"))
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
// redirect followed), returning MB/s of each and adding the TCP counters'
// growth during each to upTCP and downTCP.
func upDown(c *webhdfstest.Client, big int64, upTCP, downTCP *tcpCounters) (up, down float64, err error) {
	measure := func(to *tcpCounters, f func() error) (float64, error) {
		before, ok := readTCPCounters()
		mbps, err := timed(big, f)
		if after, ok2 := readTCPCounters(); ok && ok2 {
			to.add(before, after)
		}
		return mbps, err
	}
	up, err = measure(upTCP, func() error {
		_, err := c.Create("/bench/big", io.LimitReader(zeroReader{}, big), big, true)
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("upload: %w", err)
	}
	down, err = measure(downTCP, func() error {
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
	hopRows(f)
}

// hopRows compares the gateway with the floor of any hop: the same
// transfers through a bare TCP forwarder (tcpfwd, splice, no HTTP) in
// front of the namenode and the datanode, in its own process as gatewayd
// is in its own.
func hopRows(f procFigures) {
	header := false
	for _, world := range []struct{ suffix, what string }{{"", systemCC() + " (the system's)"}, {"-cc", "cubic"}} {
		for _, dir := range []struct{ key, what string }{{"up", "upload"}, {"down", "download"}} {
			k := world.suffix + "-" + dir.key
			gw, direct, hop := f.Rounds["gateway"+k], f.Rounds["direct"+k], f.Rounds["hop"+k]
			if len(gw) == 0 || len(direct) == 0 || len(hop) == 0 {
				continue
			}
			if !header {
				header = true
				fmt.Printf("\n| WebHDFS, three processes, medians | gateway ÷ direct | bare TCP forwarder ÷ direct | gateway ÷ bare forwarder |\n|---|---|---|---|\n")
			}
			g, d, h := median(gw), median(direct), median(hop)
			fmt.Printf("| %s, every socket %s | %.2f | %.2f | **%.2f** |\n", dir.what, world.what, g/d, h/d, g/h)
		}
	}
}

// tcpRows prints, from the file of transfers' output, the TCP counters
// per GiB moved, direct beside through the gateway (nothing when the
// file holds none).
func tcpRows(file string) {
	var f procFigures
	b, err := os.ReadFile(file)
	if err != nil || json.Unmarshal(b, &f) != nil || f.Error != "" || len(f.TCP) == 0 {
		return
	}
	fmt.Printf("\n| TCP during the three-process transfers, per GiB moved, direct / gateway | segments sent again | of them spurious (a DSACK came back) | segments queued out of order |\n|---|---|---|---|\n")
	for _, world := range []struct{ suffix, what string }{{"", systemCC() + " (the system's)"}, {"-cc", "cubic"}} {
		for _, dir := range []struct{ key, what string }{{"up", "upload"}, {"down", "download"}} {
			d, g := f.TCP["direct"+world.suffix+"-"+dir.key], f.TCP["gateway"+world.suffix+"-"+dir.key]
			n := len(f.Rounds["gateway"+world.suffix+"-"+dir.key])
			if d == nil || g == nil || n == 0 {
				continue
			}
			gib := float64(n) * float64(f.Bytes) / (1 << 30)
			fmt.Printf("| %s, every socket %s | %.0f / %.0f | %.0f / %.0f | %.0f / %.0f |\n", dir.what, world.what,
				d.Retrans/gib, g.Retrans/gib, d.DSACK/gib, g.DSACK/gib, d.OFO/gib, g.OFO/gib)
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
