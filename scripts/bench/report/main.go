// Command report turns the benchmark's raw results into its one table.
//
//	report rec   -fig a -target direct -round 1 -data '{…}'   print one record (a JSON line)
//	report rec   -fig a -target caddy -skip "reason"          a target that did not run
//	report rec   -fig meta -target date -note "…"             run facts for the header
//	report wrk   < wrk-output                                 wrk's text as a JSON object
//	report table -records FILE                                the markdown table
//
// Figures: throughput and transfer rates are the best of the rounds;
// latencies are the median of the rounds. Every ratio compares figures of
// the same run.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "rec":
		err = runRec(os.Args[2:])
	case "wrk":
		err = runWrk(os.Stdin, os.Stdout)
	case "table":
		err = runTable(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "report: "+err.Error())
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: report rec|wrk|table [flags]")
	os.Exit(2)
}

// record is one line of the records file.
type record struct {
	Fig    string         `json:"fig"`
	Target string         `json:"target"`
	Round  int            `json:"round,omitempty"`
	Data   map[string]any `json:"data,omitempty"`
	Skip   string         `json:"skip,omitempty"`
	Note   string         `json:"note,omitempty"`
}

func runRec(args []string) error {
	fs := flag.NewFlagSet("rec", flag.ContinueOnError)
	var r record
	var data string
	fs.StringVar(&r.Fig, "fig", "", "figure: a…f or meta or note")
	fs.StringVar(&r.Target, "target", "", "what was measured")
	fs.IntVar(&r.Round, "round", 0, "round number")
	fs.StringVar(&data, "data", "", "JSON object of results")
	fs.StringVar(&r.Skip, "skip", "", "why it did not run")
	fs.StringVar(&r.Note, "note", "", "free text")
	if err := fs.Parse(args); err != nil {
		return err
	}
	r.Skip = oneLine(r.Skip, 300)
	if data != "" {
		if err := json.Unmarshal([]byte(data), &r.Data); err != nil {
			// Keep what came, so that the table can say what went wrong.
			r.Skip = "unreadable result: " + oneLine(data, 200)
			r.Data = nil
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	fmt.Println(string(b))
	return nil
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

var (
	reRPS     = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	reReqs    = regexp.MustCompile(`(\d+) requests in ([0-9.]+)(\w+)`)
	reSock    = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	reNon2xx  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	reLatency = regexp.MustCompile(`(?m)^\s+(50|75|90|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
)

// runWrk parses wrk's output (with --latency).
func runWrk(in io.Reader, out io.Writer) error {
	b, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	s := string(b)
	m := reRPS.FindStringSubmatch(s)
	if m == nil {
		return fmt.Errorf("no Requests/sec in wrk output: %s", oneLine(s, 300))
	}
	res := map[string]any{}
	res["rps"], _ = strconv.ParseFloat(m[1], 64)
	if m := reReqs.FindStringSubmatch(s); m != nil {
		res["requests"], _ = strconv.ParseInt(m[1], 10, 64)
	}
	var errs int64
	if m := reSock.FindStringSubmatch(s); m != nil {
		for _, v := range m[1:] {
			n, _ := strconv.ParseInt(v, 10, 64)
			errs += n
		}
		res["socket_errors"] = m[0]
	}
	res["errors"] = errs
	var non2xx int64
	if m := reNon2xx.FindStringSubmatch(s); m != nil {
		non2xx, _ = strconv.ParseInt(m[1], 10, 64)
	}
	res["non2xx"] = non2xx
	for _, m := range reLatency.FindAllStringSubmatch(s, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		switch m[3] {
		case "us":
			v /= 1000
		case "s":
			v *= 1000
		}
		res["p"+m[1]+"_ms"] = v
	}
	enc := json.NewEncoder(out)
	return enc.Encode(res)
}

// results are the records, indexed.
type results struct {
	recs []record
}

func (r *results) meta(key string) string {
	for _, x := range r.recs {
		if x.Fig == "meta" && x.Target == key {
			return x.Note
		}
	}
	return ""
}

func (r *results) all(fig, target string) []record {
	var out []record
	for _, x := range r.recs {
		if x.Fig == fig && x.Target == target {
			out = append(out, x)
		}
	}
	return out
}

// skipped returns why fig/target did not run, if it did not.
func (r *results) skipped(fig, target string) string {
	var reasons []string
	ran := false
	for _, x := range r.all(fig, target) {
		if x.Skip != "" {
			reasons = append(reasons, x.Skip)
		} else if x.Data != nil {
			ran = true
		}
	}
	if ran || len(reasons) == 0 {
		return ""
	}
	return reasons[0]
}

// num reads a (possibly nested: "rpc.p99_ms") number of a record.
func num(d map[string]any, key string) (float64, bool) {
	var cur any = d
	for _, k := range strings.Split(key, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return 0, false
		}
		cur = m[k]
	}
	f, ok := cur.(float64)
	return f, ok
}

// best is the largest value of key over the rounds that ran cleanly.
func (r *results) best(fig, target, key string) (float64, bool) {
	v, found := math.Inf(-1), false
	for _, x := range r.all(fig, target) {
		if x.Data == nil || str(x.Data, "error") != "" {
			continue
		}
		if f, ok := num(x.Data, key); ok && f > v {
			v, found = f, true
		}
	}
	return v, found
}

// median is the median of key over the rounds.
func (r *results) median(fig, target, key string) (float64, bool) {
	var vs []float64
	for _, x := range r.all(fig, target) {
		if x.Data == nil {
			continue
		}
		if f, ok := num(x.Data, key); ok {
			vs = append(vs, f)
		}
	}
	if len(vs) == 0 {
		return 0, false
	}
	slices.Sort(vs)
	n := len(vs)
	if n%2 == 1 {
		return vs[n/2], true
	}
	return (vs[n/2-1] + vs[n/2]) / 2, true
}

// sum adds key over the rounds.
func (r *results) sum(fig, target, key string) (float64, bool) {
	var s float64
	found := false
	for _, x := range r.all(fig, target) {
		if x.Data == nil {
			continue
		}
		if f, ok := num(x.Data, key); ok {
			s, found = s+f, true
		}
	}
	return s, found
}

func (r *results) first(fig, target string) map[string]any {
	for _, x := range r.all(fig, target) {
		if x.Data != nil {
			return x.Data
		}
	}
	return nil
}

func str(d map[string]any, key string) string {
	if d == nil {
		return ""
	}
	switch v := d[key].(type) {
	case string:
		return v
	case []any:
		var parts []string
		for _, p := range v {
			parts = append(parts, fmt.Sprint(p))
		}
		return strings.Join(parts, "; ")
	}
	return ""
}

// group formats n with thousands separators.
func group(n float64) string {
	s := strconv.FormatInt(int64(math.Round(n)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func mustFloat(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

func ratio(a, b float64) string {
	if b == 0 || math.IsInf(a, 0) || math.IsInf(b, 0) {
		return "—"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func ms(v float64) string {
	switch {
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func signedMS(v float64) string {
	if v >= 0 {
		return "+" + ms(v)
	}
	return ms(v)
}

// table accumulates markdown rows.
type table struct {
	rows [][]string
	last string
}

func (t *table) row(fig string, cells ...string) {
	f := fig
	if fig == t.last {
		f = ""
	}
	t.last = fig
	t.rows = append(t.rows, append([]string{f}, cells...))
}

func (t *table) write(w io.Writer) {
	fmt.Fprintln(w, "| fig | measure | target | result | ÷ direct | gateway ÷ target |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, r := range t.rows {
		for len(r) < 6 {
			r = append(r, "")
		}
		fmt.Fprintln(w, "| "+strings.Join(r, " | ")+" |")
	}
}

func runTable(args []string) error {
	fs := flag.NewFlagSet("table", flag.ContinueOnError)
	file := fs.String("records", "", "records file (JSON lines)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, err := os.Open(*file)
	if err != nil {
		return err
	}
	defer f.Close()
	var res results
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var r record
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return fmt.Errorf("records: %w", err)
		}
		res.recs = append(res.recs, r)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(res.recs) == 0 {
		return errors.New("no records")
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	render(w, &res)
	return nil
}

// targets of the throughput figure, in table order.
var targets = []struct{ key, label string }{
	{"direct", "direct backend"},
	{"gateway", "gateway (HTTP)"},
	{"gateway-tls", "gateway (TLS front)"},
	{"gateway-nethttp", "gateway (HTTP), net/http front"},
	{"goproxy", "Go httputil.ReverseProxy"},
	{"fastproxy", "Go on fasthttp (server + HostClient)"},
	{"hybrid-fc", "Go net/http server + fasthttp HostClient"},
	{"hybrid-ft", "Go fasthttp server + net/http Transport"},
	{"haproxy", "haproxy (2 threads)"},
	{"haproxy-tls", "haproxy (2 threads) terminating TLS"},
	{"nginx", "nginx (1 worker)"},
	{"caddy", "caddy"},
}

// bodyLabels name the targets of the large-body figure only.
var bodyLabels = map[string]string{
	"haproxy-splice": "haproxy (2 threads), option splice-request and splice-response",
	"tcpfwd":         "bare TCP forwarder (Go io.Copy, spliced; no HTTP)",
	"direct-cc":      "direct backend, every socket cubic",
	"tcpfwd-cc":      "bare TCP forwarder, every socket cubic",
	"gateway-cc":     "gateway (HTTP), every socket cubic (proxy.tcp_congestion: cubic)",
}

func label(key string) string {
	for _, t := range targets {
		if t.key == key {
			return t.label
		}
	}
	if l, ok := bodyLabels[key]; ok {
		return l
	}
	return key
}

func render(w io.Writer, r *results) {
	fmt.Fprintf(w, "## gatewayd benchmark — %s\n\n", r.meta("date"))
	fmt.Fprintf(w, "Machine: %s. Run: %s.  \n", r.meta("machine"), r.meta("knobs"))
	if v := r.meta("versions"); v != "" {
		fmt.Fprintf(w, "Versions: %s.\n", v)
	}
	fmt.Fprintln(w)

	var t table
	figA(&t, r)
	figB(&t, r)
	figC(&t, r)
	figD(&t, r)
	figE(&t, r)
	figF(&t, r)
	t.write(w)

	fmt.Fprintln(w)
	fmt.Fprintln(w, "Method (every ratio from figures of this one run; targets interleaved round by round, A B C … A B C …):")
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		if m := r.meta("method-" + k); m != "" {
			fmt.Fprintf(w, "- **%s.** %s\n", k, m)
		}
	}
	var notes []string
	for _, x := range r.recs {
		if x.Fig == "note" {
			notes = append(notes, x.Note)
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Notes:")
		for _, n := range notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
	}
}

// failures describes non-2xx answers and errors summed over the rounds.
func failures(r *results, fig, target string) string {
	non, _ := r.sum(fig, target, "non2xx")
	errs, _ := r.sum(fig, target, "errors")
	if non == 0 && errs == 0 {
		return ""
	}
	return fmt.Sprintf(" (**%s non-2xx, %s errors**)", group(non), group(errs))
}

func figA(t *table, r *results) {
	measure := "HTTP throughput, " + r.meta("a-measure")
	direct, okD := r.best("a", "direct", "rps")
	gw, okG := r.best("a", "gateway", "rps")
	gwTLS, okT := r.best("a", "gateway-tls", "rps")
	for _, tg := range targets {
		if why := r.skipped("a", tg.key); why != "" {
			t.row("a", measure, tg.label, "not run: "+why)
			continue
		}
		v, ok := r.best("a", tg.key, "rps")
		if !ok {
			t.row("a", measure, tg.label, "no result")
			continue
		}
		res := group(v) + " req/s" + failures(r, "a", tg.key)
		vsDirect := "—"
		if okD {
			vsDirect = ratio(v, direct)
		}
		gwOver := ""
		switch tg.key {
		case "direct", "gateway", "gateway-tls":
			gwOver = "—"
		default:
			if okG {
				gwOver = ratio(gw, v)
				if okT {
					gwOver += " (TLS " + ratio(gwTLS, v) + ")"
				}
			}
		}
		t.row("a", measure, tg.label, res, vsDirect, gwOver)
	}
}

// figB: latency at half the gateway's saturation, every proxy at that same
// rate minus the direct backend's; then each peer at half of its own
// saturation minus the direct backend at that rate (fig b-own).
func figB(t *table, r *results) {
	measure := "latency p50 / p99 at half the gateway's saturation (open loop)"
	if rate := r.meta("b-rate"); rate != "" && rate != "?" {
		measure = "latency p50 / p99 at " + group(mustFloat(rate)) + " req/s (open loop)"
	}
	if why := r.skipped("b", "gateway"); why != "" {
		t.row("b", measure, "gateway (HTTP)", "not run: "+why)
		return
	}
	d, okD := r.latency("b", "direct")
	g, okG := r.latency("b", "gateway")
	proxies := []string{"gateway", "gateway-tls", "haproxy", "nginx", "fastproxy"}
	for _, tg := range append([]string{"direct"}, proxies...) {
		if why := r.skipped("b", tg); why != "" {
			t.row("b", measure, label(tg), "not run: "+why)
			continue
		}
		l, ok := r.latency("b", tg)
		if !ok {
			continue
		}
		vs := "—"
		if okD {
			vs = ratio(l.p50, d.p50) + " / " + ratio(l.p99, d.p99)
		}
		t.row("b", measure, label(tg), l.result(r, "b", tg), vs)
	}
	for _, tg := range proxies {
		l, ok := r.latency("b", tg)
		if !ok || !okD {
			continue
		}
		// The last column: the gateway's added latency ÷ this peer's.
		over := "—"
		if tg != "gateway" && tg != "gateway-tls" && okG {
			over = addedRatio(g.p50-d.p50, l.p50-d.p50) + " / " + addedRatio(g.p99-d.p99, l.p99-d.p99)
		}
		t.row("b", "**added latency** p50 / p99", label(tg)+" − direct", "**"+signedMS(l.p50-d.p50)+" / "+signedMS(l.p99-d.p99)+" ms**", "", over)
	}
	for _, tg := range []string{"haproxy", "nginx", "fastproxy"} {
		rate := r.meta("b-own-rate-" + tg)
		if rate == "" {
			continue
		}
		measure := "added latency p50 / p99 at half of its own saturation (" + group(mustFloat(rate)) + " req/s)"
		l, ok1 := r.latency("b-own", tg)
		dd, ok2 := r.latency("b-own", "direct@"+tg)
		if !ok1 || !ok2 {
			t.row("b", measure, label(tg)+" − direct", "not run")
			continue
		}
		t.row("b", measure, label(tg)+" − direct", signedMS(l.p50-dd.p50)+" / "+signedMS(l.p99-dd.p99)+
			" ms ("+ms(l.p50)+" / "+ms(l.p99)+" − "+ms(dd.p50)+" / "+ms(dd.p99)+" ms)"+failures(r, "b-own", tg))
	}
}

// addedRatio is ratio for added latencies, which noise can make zero or
// negative: then there is no ratio.
func addedRatio(a, b float64) string {
	if a <= 0 || b <= 0 {
		return "—"
	}
	return ratio(a, b)
}

// lat is a latency figure in milliseconds: the median of the rounds.
type lat struct{ p50, p99 float64 }

func (r *results) latency(fig, target string) (lat, bool) {
	a, ok1 := r.median(fig, target, "p50_us")
	b, ok2 := r.median(fig, target, "p99_us")
	return lat{a / 1000, b / 1000}, ok1 && ok2
}

// result is the cell of a latency row: p50 / p99, the rate achieved and the
// loadgen's own lateness.
func (l lat) result(r *results, fig, target string) string {
	ach, _ := r.median(fig, target, "achieved_rps")
	res := fmt.Sprintf("%s / %s ms (achieved %s req/s", ms(l.p50), ms(l.p99), group(ach))
	if late, ok := r.median(fig, target, "late_p99_us"); ok {
		res += fmt.Sprintf("; loadgen late p99 %s ms", ms(late/1000))
	}
	return res + ")" + failures(r, fig, target)
}

// figC shows the median of the rounds, and in brackets the best round
// with its ratios (the figure before medians: best of 2).
func figC(t *table, r *results) {
	size := r.meta("c-size")
	for _, dir := range []string{"download", "upload"} {
		fig := "c-" + dir
		measure := size + " streamed " + dir
		direct, okD := r.median(fig, "direct", "mbps")
		gw, okG := r.median(fig, "gateway", "mbps")
		gwTLS, okGT := r.median(fig, "gateway-tls", "mbps")
		gwCC, okGC := r.median(fig, "gateway-cc", "mbps")
		bGwCC, _ := r.best(fig, "gateway-cc", "mbps")
		bDirect, _ := r.best(fig, "direct", "mbps")
		bGw, _ := r.best(fig, "gateway", "mbps")
		bGwTLS, _ := r.best(fig, "gateway-tls", "mbps")
		directCC, okDC := r.median(fig, "direct-cc", "mbps")
		bDirectCC, _ := r.best(fig, "direct-cc", "mbps")
		for _, tg := range []string{"direct", "gateway", "gateway-tls", "goproxy", "tcpfwd", "haproxy", "haproxy-splice", "haproxy-tls", "direct-cc", "gateway-cc", "tcpfwd-cc"} {
			if why := r.skipped(fig, tg); why != "" {
				t.row("c", measure, label(tg), "not run: "+why)
				continue
			}
			v, ok := r.median(fig, tg, "mbps")
			if !ok {
				errs := ""
				for _, x := range r.all(fig, tg) {
					if e := str(x.Data, "error"); e != "" {
						errs = e
					}
				}
				if errs != "" || len(r.all(fig, tg)) > 0 {
					t.row("c", measure, label(tg), "**failed**: "+oneLine(errs, 160))
				}
				continue
			}
			b, _ := r.best(fig, tg, "mbps")
			vs, over := "—", ""
			switch {
			case strings.HasSuffix(tg, "-cc"): // the cubic world's own direct
				if okDC {
					vs = ratio(v, directCC) + " (" + ratio(b, bDirectCC) + ")"
				}
			case okD:
				vs = ratio(v, direct) + " (" + ratio(b, bDirect) + ")"
			}
			switch {
			case tg == "tcpfwd-cc" && okGC:
				over = ratio(gwCC, v) + " (" + ratio(bGwCC, b) + ")" // cubic on both
			case (tg == "goproxy" || tg == "tcpfwd" || tg == "haproxy" || tg == "haproxy-splice") && okG:
				over = ratio(gw, v) + " (" + ratio(bGw, b) + ")"
			case tg == "haproxy-tls" && okGT:
				over = ratio(gwTLS, v) + " (" + ratio(bGwTLS, b) + ")" // the TLS fronts compared
			}
			t.row("c", measure, label(tg), group(v)+" MB/s ("+group(b)+")", vs, over)
		}
	}
}

func figD(t *table, r *results) {
	for _, tg := range []string{"1", "1k", "10k"} {
		d := r.first("d", tg)
		if why := r.skipped("d", tg); why != "" {
			t.row("d", "deploy-to-live", "gateway (HTTP)", "not run: "+why)
			continue
		}
		if d == nil {
			continue
		}
		n, _ := num(d, "n")
		miss, _ := num(d, "misses")
		derr, _ := num(d, "deploy_errors")
		stored := r.meta("d-stored-" + tg)
		if stored == "" {
			stored = tg
		}
		p50, _ := num(d, "rpc.p50_ms")
		p99, _ := num(d, "rpc.p99_ms")
		g50, _ := num(d, "deploy_then_get.p50_ms")
		g99, _ := num(d, "deploy_then_get.p99_ms")
		missTxt := fmt.Sprintf("%s of %s", group(miss), group(n))
		if miss > 0 || derr > 0 {
			missTxt = "**" + missTxt + "** (" + oneLine(str(d, "first_misses")+" "+str(d, "first_errors"), 200) + ")"
		}
		t.row("d", "deploy-to-live p50 / p99 (Deploy RPC)", stored+" topologies stored", fmt.Sprintf("%s / %s ms", ms(p50), ms(p99)))
		t.row("d", "deploy + first GET p50 / p99; misses", stored+" topologies stored", fmt.Sprintf("%s / %s ms; misses %s", ms(g50), ms(g99), missTxt))
		for _, k := range []string{"sustained_1", "sustained_4"} {
			if s, ok := d[k].(map[string]any); ok {
				c, _ := num(s, "clients")
				ps, _ := num(s, "per_s")
				e, _ := num(s, "errors")
				p99, _ := num(s, "rpc.p99_ms")
				extra := ""
				if e > 0 {
					extra = fmt.Sprintf(" (**%s errors**)", group(e))
				}
				clients := "1 client"
				if c != 1 {
					clients = group(c) + " clients"
				}
				t.row("d", "sustained deploys/s, "+clients, stored+" topologies stored",
					fmt.Sprintf("%s deploys/s (p99 %s ms)%s", fmt.Sprintf("%.0f", ps), ms(p99), extra))
			}
		}
	}
}

func figE(t *table, r *results) {
	if why := r.skipped("e", "load"); why != "" {
		t.row("e", "failed requests during deploys under load", "gateway (HTTP)", "not run: "+why)
		return
	}
	load := r.first("e", "load")
	churn := r.first("e", "churn")
	if load == nil || churn == nil {
		return
	}
	reqs, _ := num(load, "requests")
	non, _ := num(load, "non2xx")
	errs, _ := num(load, "errors")
	deps, _ := num(churn, "deploys")
	derrs, _ := num(churn, "errors")
	secs, _ := num(churn, "seconds")
	conns, _ := num(load, "conns")
	res := fmt.Sprintf("%s non-2xx, %s errors of %s requests (%s conns) during %s deploys in %.1f s", group(non), group(errs), group(reqs), group(conns), group(deps), secs)
	if non > 0 || errs > 0 || derrs > 0 {
		res = "**" + res + "**"
		if s := str(load, "first_errors"); s != "" {
			res += " — " + oneLine(s, 200)
		}
		if derrs > 0 {
			res += fmt.Sprintf(" — %s deploys failed: %s", group(derrs), oneLine(str(churn, "first_errors"), 160))
		}
	}
	t.row("e", "failed requests during deploys under load (must be 0)", "gateway (HTTP)", res)
}

func figF(t *table, r *results) {
	for _, tg := range []string{"0", "1k", "10k"} {
		if why := r.skipped("f", "startup-"+tg); why != "" {
			t.row("f", "startup to \"gatewayd serving\"", "gateway", "not run: "+why)
			continue
		}
		d := r.first("f", "startup-"+tg)
		if d == nil {
			continue
		}
		v, _ := num(d, "ms")
		stored := r.meta("f-stored-" + tg)
		if stored == "" {
			stored = tg
		}
		t.row("f", "startup to \"gatewayd serving\"", stored+" topologies stored", ms(v)+" ms")
	}
	for _, tg := range []string{"1k", "10k"} {
		d := r.first("f", "populate-"+tg)
		if d == nil {
			continue
		}
		n, _ := num(d, "deployed")
		ps, _ := num(d, "per_s")
		s, _ := num(d, "seconds")
		e, _ := num(d, "errors")
		res := fmt.Sprintf("%s deployed in %.1f s (%.0f/s)", group(n), s, ps)
		if e > 0 {
			res += fmt.Sprintf(" (**%s errors**: %s)", group(e), oneLine(str(d, "first_errors"), 160))
		}
		if to, _ := d["timed_out"].(bool); to {
			res += " **timed out**"
		}
		t.row("f", "populate via gRPC ("+r.meta("f-conc")+" in flight)", "up to "+r.meta("f-stored-"+tg)+" topologies", res)
	}
	rss := func(tg string) (float64, float64, bool) {
		d := r.first("f", "rss-"+tg)
		if d == nil {
			return 0, 0, false
		}
		a, _ := num(d, "vmrss_kb")
		b, _ := num(d, "rssanon_kb")
		return a, b, true
	}
	mb := func(kb float64) string { return fmt.Sprintf("%.1f MiB", kb/1024) }
	for _, x := range []struct{ key, what string }{
		{"empty", "fresh daemon, 0 topologies"},
		{"live-10k", "same daemon after deploying " + r.meta("f-stored-10k")},
		{"fresh-10k", "fresh daemon, " + r.meta("f-stored-10k") + " stored"},
	} {
		if a, b, ok := rss(x.key); ok {
			t.row("f", "RSS (VmRSS; anonymous)", x.what, mb(a)+"; "+mb(b))
		}
	}
	_, e, ok1 := rss("empty")
	_, f, ok2 := rss("fresh-10k")
	if ok1 && ok2 {
		n, _ := strconv.ParseFloat(r.meta("f-n-10k"), 64)
		per := ""
		if n > 0 {
			per = fmt.Sprintf(" (%.1f KiB per topology of 5 services)", (f-e)/n)
		}
		t.row("f", "**routing table memory** (RssAnon fresh − empty)", r.meta("f-stored-10k")+" topologies", "**"+mb(f-e)+"**"+per)
	}
}
