package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/store"
	"github.com/securegw/gateway/store/etcd"
)

// TestEtcdFigures measures the figures of the etcd section of make bench
// (scripts/bench/sections/etcd.sh); it runs only with GATEWAY_ETCD_FIGURES
// set (the number of deploys), and GATEWAY_ETCD_TOPOLOGIES (the number of
// topologies for the start-up figure, 0 skips it). It prints FIGURE lines.
func TestEtcdFigures(t *testing.T) {
	deploys, _ := strconv.Atoi(os.Getenv("GATEWAY_ETCD_FIGURES"))
	if deploys == 0 {
		t.Skip("set GATEWAY_ETCD_FIGURES (make bench / make scale)")
	}
	topologies, _ := strconv.Atoi(os.Getenv("GATEWAY_ETCD_TOPOLOGIES"))
	m := newMesh(t, 3)
	c := m.envs[0].httpClient()

	// Deploy-to-live: from the deploy call (gatewayctl, through gateway
	// k%3) until all three gateways serve the new backend.
	var total, others []time.Duration
	for k := range deploys {
		be := echoBackend(t, fmt.Sprintf("b%d", k))
		f := writeFile(t, fmt.Sprintf("f%d.yaml", k), topologyDoc("live", be))
		start := time.Now()
		m.mustCtl(k%3, "topology", "deploy", f)
		returned := time.Now()
		want := fmt.Sprintf("b%d /", k)
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Go(func() {
				for {
					code, body, err := m.get(c, i, "/gateway/live/echo/")
					if err == nil && code == http.StatusOK && body == want {
						return
					}
					time.Sleep(time.Millisecond)
				}
			})
		}
		wg.Wait()
		total = append(total, time.Since(start))
		others = append(others, time.Since(returned))
	}
	fmt.Printf("FIGURE deploy_to_live_p50_ms %.1f\n", ms(pct(total, 50)))
	fmt.Printf("FIGURE deploy_to_live_p99_ms %.1f\n", ms(pct(total, 99)))
	fmt.Printf("FIGURE after_return_to_all_p99_ms %.1f\n", ms(pct(others, 99)))
	fmt.Printf("FIGURE deploys %d\n", deploys)
	// What a gatewayctl call costs by itself (process start, mutual TLS,
	// one read), to read the figures above against.
	var cli []time.Duration
	for range 10 {
		start := time.Now()
		m.mustCtl(0, "status")
		cli = append(cli, time.Since(start))
	}
	fmt.Printf("FIGURE cli_status_p50_ms %.1f\n", ms(pct(cli, 50)))

	// Revocation-to-refusal: from the revoke call (through gateway 0)
	// until all three gateways refuse the token.
	m.tokenSetup(t)
	var revs []time.Duration
	for range max(deploys/5, 5) {
		token, id := m.issue(t)
		for i := range 3 {
			for m.bearer(c, i, token) != http.StatusOK {
				time.Sleep(time.Millisecond)
			}
		}
		start := time.Now()
		m.mustCtl(0, "token", "revoke", id)
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Go(func() {
				for m.bearer(c, i, token) != http.StatusUnauthorized {
					time.Sleep(time.Millisecond)
				}
			})
		}
		wg.Wait()
		revs = append(revs, time.Since(start))
	}
	fmt.Printf("FIGURE revocation_p99_ms %.1f\n", ms(pct(revs, 99)))
	fmt.Printf("FIGURE revocation_p50_ms %.1f\n", ms(pct(revs, 50)))
	fmt.Printf("FIGURE revocations %d\n", len(revs))

	// Requests failed while the leader is killed under load (and deploys go on).
	stop := make(chan struct{})
	wait := m.load(c, "/gateway/live/echo/", fmt.Sprintf("b%d /", deploys-1), stop)
	var deployFails atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for k := range 10 {
			be := echoBackend(t, fmt.Sprintf("k%d", k))
			if _, _, code := m.ctl(k%3, "", "topology", "deploy", writeFile(t, fmt.Sprintf("k%d.yaml", k), topologyDoc("churn", be))); code != 0 {
				deployFails.Add(1)
			}
		}
	}()
	time.Sleep(time.Second)
	leader := m.etcd.Leader(t)
	m.etcd.Kill(leader)
	<-done
	time.Sleep(time.Second)
	close(stop)
	n, failures := wait()
	fmt.Printf("FIGURE member_kill_requests %d\n", n)
	fmt.Printf("FIGURE member_kill_failed_requests %d\n", len(failures))
	fmt.Printf("FIGURE member_kill_failed_deploys %d\n", deployFails.Load())
	if err := m.etcd.Restart(leader); err != nil {
		t.Fatal(err)
	}
	if err := m.etcd.WaitHealthy(30 * time.Second); err != nil {
		t.Fatal(err)
	}

	if topologies == 0 {
		return
	}
	// Start to serving with many topologies: the mesh's store (verifier,
	// keys) plus that many topologies go into a fresh prefix through the
	// store's import (what gatewayd store migrate does: a few hundred
	// records per etcd transaction; a deploy each would take minutes here),
	// then a fourth gatewayd on that prefix is timed from exec to ready
	// and to its first proxied answer on the last topology.
	be := echoBackend(t, "many")
	popStart := time.Now()
	src, err := etcd.Open(t.Context(), etcd.Options{Endpoints: m.etcd.Endpoints(), Prefix: "/mesh/"})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dump, err := src.Export(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	dump.Topologies, dump.History, dump.Audit = nil, nil, nil
	for k := range topologies {
		tp, err := topology.Parse([]byte(topologyDoc(fmt.Sprintf("t%05d", k), be)), topology.FormatYAML, "", "")
		if err != nil {
			t.Fatal(err)
		}
		spec, err := tp.CanonicalJSON()
		if err != nil {
			t.Fatal(err)
		}
		dump.Revision++
		rec := store.Topology{Name: tp.Name, Spec: spec, Revision: dump.Revision, CreateRevision: dump.Revision,
			UpdatedAt: time.Now().UTC(), UpdatedBy: "bench", Action: "deploy"}
		dump.Topologies = append(dump.Topologies, rec)
		dump.History = append(dump.History, rec)
	}
	dst, err := etcd.Open(t.Context(), etcd.Options{Endpoints: m.etcd.Endpoints(), Prefix: "/many/"})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if err := dst.Import(t.Context(), dump); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("FIGURE populate_s %.1f\n", time.Since(popStart).Seconds())
	dir := filepath.Join(t.TempDir(), "gw4")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: dir, secret: m.envs[0].secret, config: filepath.Join(dir, "gateway.yaml")}
	if err := os.WriteFile(e.config, []byte(testConfigYAML+etcdStoreYAML(m.etcd, "/many/", nil)), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	d, err := e.startNoWait()
	if err != nil {
		t.Fatal(err)
	}
	// Ready: its "gatewayd serving" line, logged once every stored
	// topology is loaded and /readyz answers 200.
	var ready time.Duration
	last := fmt.Sprintf("/gateway/t%05d/echo/", topologies-1)
	for {
		if ready == 0 {
			d.mu.Lock()
			d.parseAddrs()
			d.mu.Unlock()
			if d.proxy != "" {
				ready = time.Since(start)
			}
		}
		if d.proxy != "" {
			if resp, err := c.Get("https://" + d.proxy + last); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
		}
		select {
		case <-d.exited:
			t.Fatalf("the fourth gateway exited:\n%s", d.logs())
		default:
		}
		if time.Since(start) > 2*time.Minute {
			t.Fatalf("the fourth gateway did not serve %s", last)
		}
		time.Sleep(time.Millisecond)
	}
	fmt.Printf("FIGURE start_to_serving_ms %.0f\n", ms(time.Since(start)))
	fmt.Printf("FIGURE start_to_ready_ms %.0f\n", ms(ready))
	fmt.Printf("FIGURE start_topologies %d\n", topologies)
}

func pct(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[min(max(i-1, 0), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
