package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/securegw/gateway/internal/etcdtest"
	"github.com/securegw/gateway/internal/fedsig"
)

// mesh is several real gatewayd processes sharing one configuration
// through a three-member etcd: gateway 0's data dir was initialized
// (gatewayd init --store etcd://…); the others got its admin CA and
// client certificate, nothing else.
type mesh struct {
	t    *testing.T
	etcd *etcdtest.Cluster
	envs []*env
	gws  []*gwProcess
	// base is the gateways' configuration before the store section.
	base string
}

// etcdStoreYAML is the store section of a gateway on c; endpoints limits
// the gateway to some members (nil: all).
func etcdStoreYAML(c *etcdtest.Cluster, prefix string, endpoints []string) string {
	if endpoints == nil {
		endpoints = c.Endpoints()
	}
	return fmt.Sprintf(`store:
  backend: etcd
  etcd:
    endpoints: [%s]
    prefix: %s
    request_timeout: 8s
    lease_ttl: 2s
`, strings.Join(endpoints, ", "), prefix)
}

func newMesh(t *testing.T, n int) *mesh { t.Helper(); return newMeshWith(t, n, testConfigYAML) }

// newMeshWith is newMesh with base as the gateways' configuration (before
// the store section).
func newMeshWith(t *testing.T, n int, base string) *mesh {
	t.Helper()
	m := &mesh{t: t, etcd: etcdtest.Start(t, 3), base: base}
	secret := filepath.Join(t.TempDir(), "master")
	for i := range n {
		dir := filepath.Join(t.TempDir(), fmt.Sprintf("gw%d", i))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		e := &env{t: t, dir: dir, secret: secret, config: filepath.Join(dir, "gateway.yaml"), ctlConf: filepath.Join(dir, "gatewayctl.yaml")}
		m.writeConfig(i, e, nil)
		m.envs = append(m.envs, e)
	}
	out, err := exec.Command(filepath.Join(binDir, "gatewayd"), "init", "--data-dir", m.envs[0].dir, "--generate", "--master-secret-file", secret).CombinedOutput()
	if err != nil {
		t.Fatalf("gatewayd init: %v\n%s", err, out)
	}
	// Each gateway has its own copy of the master secret, as on machines.
	for _, e := range m.envs {
		b, err := os.ReadFile(secret)
		if err != nil {
			t.Fatal(err)
		}
		e.secret = filepath.Join(e.dir, "master")
		if err := os.WriteFile(e.secret, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range m.envs[1:] {
		for _, f := range []string{"ca.pem", "admin.pem", "admin-key.pem"} {
			b, err := os.ReadFile(filepath.Join(m.envs[0].dir, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(e.dir, f), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, e := range m.envs {
		m.gws = append(m.gws, e.start())
	}
	return m
}

// writeConfig writes gateway i's gateway.yaml (endpoints nil: every member).
func (m *mesh) writeConfig(i int, e *env, endpoints []string) {
	m.t.Helper()
	doc := m.base + etcdStoreYAML(m.etcd, "/mesh/", endpoints)
	if err := os.WriteFile(e.config, []byte(doc), 0o600); err != nil {
		m.t.Fatal(err)
	}
}

// ctl runs gatewayctl against gateway i with gateway 0's admin identity.
func (m *mesh) ctl(i int, stdin string, args ...string) (string, string, int) {
	m.t.Helper()
	return m.envs[0].ctl(stdin, append([]string{"--server", m.gws[i].management}, args...)...)
}

func (m *mesh) mustCtl(i int, args ...string) string {
	m.t.Helper()
	out, errOut, code := m.ctl(i, "", args...)
	if code != 0 {
		logs := m.gws[i].logs()
		m.t.Fatalf("gatewayctl (gateway %d) %s: exit %d\n%s%s\ngateway %d's log:\n%s", i, strings.Join(args, " "), code, out, errOut, i, logs[max(0, len(logs)-3000):])
	}
	return out
}

// get requests path through gateway i's proxy.
func (m *mesh) get(c *http.Client, i int, path string) (int, string, error) {
	resp, err := c.Get("https://" + m.gws[i].proxy + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, err = fmt.Fprint(&b, readAll(resp))
	return resp.StatusCode, b.String(), err
}

func readAll(resp *http.Response) string {
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			return sb.String()
		}
	}
}

// waitBody polls path on gateway i until the body is want.
func (m *mesh) waitBody(c *http.Client, i int, path, want string, within time.Duration) time.Duration {
	m.t.Helper()
	start := time.Now()
	var last string
	for time.Since(start) < within {
		code, body, err := m.get(c, i, path)
		if err == nil && code == http.StatusOK && body == want {
			return time.Since(start)
		}
		last = fmt.Sprintf("%d %q %v", code, body, err)
		time.Sleep(5 * time.Millisecond)
	}
	m.t.Fatalf("gateway %d: %s did not answer %q within %s (last: %s)", i, path, want, within, last)
	return 0
}

// status is the JSON of gatewayctl status through gateway i.
type statusDoc struct {
	Status struct {
		StoreRevision int64  `json:"store_revision"`
		StoreBackend  string `json:"store_backend"`
		Gateways      []struct {
			ID                string `json:"id"`
			ManagementAddress string `json:"management_address"`
			AppliedRevision   int64  `json:"applied_revision"`
			Ready             bool   `json:"ready"`
			KeyID             string `json:"key_id"`
			Master            string `json:"master"`
		} `json:"gateways"`
	} `json:"status"`
}

func (m *mesh) status(i int) statusDoc {
	m.t.Helper()
	var doc statusDoc
	if err := json.Unmarshal([]byte(m.mustCtl(i, "status", "--output", "json")), &doc); err != nil {
		m.t.Fatal(err)
	}
	return doc
}

// converged reports whether status lists want gateways, every one ready
// at the store revision.
func (d statusDoc) converged(want int) bool {
	if len(d.Status.Gateways) != want {
		return false
	}
	for _, g := range d.Status.Gateways {
		if !g.Ready || g.AppliedRevision != d.Status.StoreRevision {
			return false
		}
	}
	return true
}

func (m *mesh) waitConverged(i, want int, within time.Duration) statusDoc {
	m.t.Helper()
	deadline := time.Now().Add(within)
	for {
		d := m.status(i)
		if d.converged(want) {
			return d
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("status through gateway %d did not converge on %d gateways: %+v", i, want, d.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// on points the mesh's failures at t (a subtest) until t ends.
func (m *mesh) on(t *testing.T) {
	parent := m.t
	m.t = t
	for _, e := range m.envs {
		e.t = t
	}
	t.Cleanup(func() {
		m.t = parent
		for _, e := range m.envs {
			e.t = parent
		}
	})
}

func (m *mesh) etcdClient() *clientv3.Client { return m.etcd.Client(m.t) }

// Three gatewayd processes on one etcd: a deploy through one is live on
// it when the call returns and on the others right after; status shows
// every gateway's applied revision; two deploys racing on one revision
// through two gateways: one wins, the other gets FailedPrecondition;
// aliases reach etcd sealed; a gateway SIGKILLed and restarted serves the
// routes changed meanwhile from its first request.
func TestEtcdThreeGateways(t *testing.T) {
	m := newMesh(t, 3)
	c := m.envs[0].httpClient()
	v1, v2 := echoBackend(t, "v1"), echoBackend(t, "v2")

	t.Run("deploy through one is live on all", func(t *testing.T) {
		m.on(t)
		m.mustCtl(0, "topology", "deploy", writeFile(t, "web.yaml", topologyDoc("web", v1)))
		// Deploy returned: gateway 0 serves it already.
		if code, body, err := m.get(c, 0, "/gateway/web/echo/x"); err != nil || code != 200 || body != "v1 /x" {
			t.Fatalf("gateway 0 right after deploy: %d %q %v", code, body, err)
		}
		for i := 1; i < 3; i++ {
			took := m.waitBody(c, i, "/gateway/web/echo/x", "v1 /x", 5*time.Second)
			t.Logf("gateway %d serving %s after the deploy returned", i, took)
		}
	})

	t.Run("status shows every gateway's applied revision", func(t *testing.T) {
		m.on(t)
		d := m.waitConverged(1, 3, 10*time.Second)
		if d.Status.StoreBackend != "etcd" {
			t.Errorf("store backend %q", d.Status.StoreBackend)
		}
		seen := map[string]bool{}
		for _, g := range d.Status.Gateways {
			seen[g.ManagementAddress] = true
		}
		for i, gw := range m.gws {
			if !seen[gw.management] {
				t.Errorf("gateway %d (%s) missing from status: %+v", i, gw.management, d.Status.Gateways)
			}
		}
		table := m.mustCtl(2, "status")
		for _, want := range []string{"GATEWAY", "APPLIED", m.gws[0].management} {
			if !strings.Contains(table, want) {
				t.Errorf("status table lacks %q:\n%s", want, table)
			}
		}
	})

	t.Run("concurrent deploys on one revision: one wins", func(t *testing.T) {
		m.on(t)
		var doc struct {
			Revision int64 `json:"revision"`
		}
		if err := json.Unmarshal([]byte(m.mustCtl(0, "topology", "get", "web", "--output", "json")), &doc); err != nil || doc.Revision == 0 {
			t.Fatalf("reading the revision of web: %v", err)
		}
		rev := fmt.Sprint(doc.Revision)
		var wg sync.WaitGroup
		codes := make([]int, 2)
		errs := make([]string, 2)
		for i := range 2 {
			f := writeFile(t, fmt.Sprintf("race%d.yaml", i), topologyDoc("web", v2))
			wg.Go(func() { _, errs[i], codes[i] = m.ctl(i, "", "topology", "deploy", f, "--expect-revision", rev) })
		}
		wg.Wait()
		ok, refused := 0, 0
		for i := range 2 {
			switch {
			case codes[i] == 0:
				ok++
			case strings.Contains(errs[i], "FailedPrecondition") || strings.Contains(errs[i], "revision"):
				refused++
			default:
				t.Errorf("deploy through gateway %d: exit %d: %s", i, codes[i], errs[i])
			}
		}
		if ok != 1 || refused != 1 {
			t.Fatalf("racing deploys: %d won, %d refused (%q)", ok, refused, errs)
		}
		for i := range 3 {
			m.waitBody(c, i, "/gateway/web/echo/x", "v2 /x", 5*time.Second)
		}
	})

	t.Run("aliases are sealed in etcd", func(t *testing.T) {
		m.on(t)
		const plaintext = "pl41nt3xt-api-key-d0-not-leak"
		m.envs[0].mustCtlIn(plaintext+"\n", "--server", m.gws[2].management, "alias", "create", "api-key")
		backend := headerBackend(t)
		m.mustCtl(1, "topology", "deploy", writeFile(t, "sec.yaml", aliasTopologyDoc("sec", "api-key", backend)))
		for i := range 3 {
			m.waitBody(c, i, "/gateway/sec/echo/", plaintext, 5*time.Second)
		}
		resp, err := m.etcdClient().Get(t.Context(), "", clientv3.WithFromKey())
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Kvs) < 10 {
			t.Fatalf("scanned only %d keys", len(resp.Kvs))
		}
		for _, kv := range resp.Kvs {
			for _, secret := range []string{plaintext, "BEGIN PRIVATE KEY", "BEGIN EC PRIVATE KEY", "BEGIN RSA PRIVATE KEY"} {
				if strings.Contains(string(kv.Key), secret) || strings.Contains(string(kv.Value), secret) {
					t.Errorf("etcd key %q holds %q in the clear", kv.Key, secret)
				}
			}
		}
	})

	t.Run("an alias deletion and a deploy using it race through two gateways: one wins", func(t *testing.T) {
		m.on(t)
		backend := headerBackend(t)
		for i := range 5 {
			alias, name := fmt.Sprintf("race-key-%d", i), fmt.Sprintf("race-%d", i)
			m.envs[0].mustCtlIn("race-VALUE\n", "--server", m.gws[0].management, "alias", "create", alias)
			doc := writeFile(t, name+".yaml", aliasTopologyDoc(name, alias, backend))
			var wg sync.WaitGroup
			var deployErr, deleteErr string
			var deployCode, deleteCode int
			wg.Go(func() { _, deployErr, deployCode = m.ctl(1, "", "topology", "deploy", doc) })
			wg.Go(func() { _, deleteErr, deleteCode = m.ctl(2, "", "alias", "delete", alias) })
			wg.Wait()
			switch {
			case deployCode == 0 && deleteCode != 0 && strings.Contains(deleteErr, "in use by topologies ["+name+"]"):
				m.waitBody(c, 0, "/gateway/"+name+"/echo/", "race-VALUE", 5*time.Second)
			case deleteCode == 0 && deployCode != 0 && (strings.Contains(deployErr, "missing aliases") || strings.Contains(deployErr, "not found")):
				if _, errOut, code := m.ctl(0, "", "topology", "get", name); code == 0 {
					t.Fatalf("round %d: the refused deploy is stored: %s", i, errOut)
				}
			default:
				t.Fatalf("round %d: deploy exit %d (%s), delete exit %d (%s); want exactly one to succeed", i, deployCode, deployErr, deleteCode, deleteErr)
			}
		}
	})

	t.Run("a gateway SIGKILLed catches up before serving", func(t *testing.T) {
		m.on(t)
		if err := m.gws[2].cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-m.gws[2].exited
		v3 := echoBackend(t, "v3")
		m.mustCtl(0, "topology", "deploy", writeFile(t, "web3.yaml", topologyDoc("web", v3)))
		m.gws[2] = m.envs[2].start()
		// The first request after it reports serving gets the new route.
		if code, body, err := m.get(c, 2, "/gateway/web/echo/x"); err != nil || code != 200 || body != "v3 /x" {
			t.Fatalf("restarted gateway's first answer: %d %q %v", code, body, err)
		}
		m.waitConverged(0, 3, 10*time.Second)
	})
}

// restart kills gateway i and starts it again (after a config change).
func (m *mesh) restart(i int) {
	m.t.Helper()
	_ = m.gws[i].cmd.Process.Kill()
	<-m.gws[i].exited
	m.gws[i] = m.envs[i].start()
}

// readyz returns the status of /readyz on gateway i's proxy port.
func (m *mesh) readyz(c *http.Client, i int) int {
	code, _, err := m.get(c, i, "/readyz")
	if err != nil {
		return 0
	}
	return code
}

func (m *mesh) waitReadyz(c *http.Client, i, want int, within time.Duration) {
	m.t.Helper()
	deadline := time.Now().Add(within)
	for m.readyz(c, i) != want {
		if time.Now().After(deadline) {
			logs := m.gws[i].logs()
			m.t.Fatalf("gateway %d: /readyz did not answer %d within %s; log:\n%s", i, want, within, logs[max(0, len(logs)-3000):])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// load requests path through every gateway until stop is closed and
// returns the number of requests and of failures (anything but want).
func (m *mesh) load(c *http.Client, path, want string, stop <-chan struct{}) func() (int, []string) {
	var (
		mu       sync.Mutex
		n        int
		failures []string
		wg       sync.WaitGroup
	)
	for i := range m.gws {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, body, err := m.get(c, i, path)
				mu.Lock()
				n++
				if err != nil || code != http.StatusOK || body != want {
					failures = append(failures, fmt.Sprintf("gateway %d: %d %q %v", i, code, body, err))
				}
				mu.Unlock()
			}
		})
	}
	return func() (int, []string) {
		wg.Wait()
		return n, failures
	}
}

// Faults of etcd and of the network between a gateway and etcd: a member
// killed under load (quorum kept) fails no request and no deploy; with
// quorum lost the gateways serve their last table, report not ready and
// refuse changes with Unavailable, then resync when quorum returns; a
// gateway cut from etcd (its member paused) longer than its lease drops
// out of status, keeps serving, and catches up when the member resumes.
func TestEtcdFaults(t *testing.T) {
	m := newMesh(t, 3)
	c := m.envs[0].httpClient()
	v1 := echoBackend(t, "v1")
	m.mustCtl(0, "topology", "deploy", writeFile(t, "web.yaml", topologyDoc("web", v1)))
	for i := range 3 {
		m.waitBody(c, i, "/gateway/web/echo/x", "v1 /x", 5*time.Second)
	}

	t.Run("a member killed under load", func(t *testing.T) {
		m.on(t)
		stop := make(chan struct{})
		wait := m.load(c, "/gateway/web/echo/x", "v1 /x", stop)
		leader := m.etcd.Leader(t)
		var deployFailures []string
		for k := range 12 {
			if k == 4 {
				m.etcd.Kill(leader)
				t.Logf("killed etcd member %d (the leader)", leader)
			}
			be := echoBackend(t, fmt.Sprintf("d%d", k))
			out, errOut, code := m.ctl(k%3, "", "topology", "deploy", writeFile(t, fmt.Sprintf("d%d.yaml", k), topologyDoc("churn", be)))
			if code != 0 {
				deployFailures = append(deployFailures, fmt.Sprintf("deploy %d through gateway %d: %s%s", k, k%3, out, errOut))
			}
		}
		close(stop)
		n, failures := wait()
		t.Logf("%d requests while a member was killed", n)
		if len(failures) > 0 {
			t.Errorf("%d of %d requests failed, first: %s", len(failures), n, failures[0])
		}
		if len(deployFailures) > 0 {
			t.Errorf("%d deploys failed: %q", len(deployFailures), deployFailures)
		}
		for i := range 3 {
			m.waitBody(c, i, "/gateway/churn/echo/", "d11 /", 5*time.Second)
		}
		if err := m.etcd.Restart(leader); err != nil {
			t.Fatal(err)
		}
		if err := m.etcd.WaitHealthy(30 * time.Second); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("quorum lost, then back", func(t *testing.T) {
		m.on(t)
		m.etcd.Kill(1)
		m.etcd.Kill(2)
		for i := range 3 {
			m.waitReadyz(c, i, http.StatusServiceUnavailable, 15*time.Second)
			if code, body, err := m.get(c, i, "/gateway/web/echo/x"); err != nil || code != 200 || body != "v1 /x" {
				t.Errorf("gateway %d without quorum: %d %q %v, want its last table served", i, code, body, err)
			}
		}
		_, errOut, code := m.ctl(1, "", "topology", "deploy", writeFile(t, "nq.yaml", topologyDoc("noquorum", v1)))
		if code == 0 || !strings.Contains(errOut, "configuration store (etcd) is unavailable") {
			t.Errorf("deploy without quorum: exit %d, %s", code, errOut)
		}
		for _, ep := range m.etcd.Endpoints() {
			if strings.Contains(errOut, strings.TrimPrefix(ep, "http://")) {
				t.Errorf("the refusal names an etcd address: %s", errOut)
			}
		}
		for _, i := range []int{1, 2} {
			if err := m.etcd.Restart(i); err != nil {
				t.Fatal(err)
			}
		}
		if err := m.etcd.WaitHealthy(30 * time.Second); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			m.waitReadyz(c, i, http.StatusOK, 20*time.Second)
		}
		m.mustCtl(2, "topology", "deploy", writeFile(t, "back.yaml", topologyDoc("back", v1)))
		for i := range 3 {
			m.waitBody(c, i, "/gateway/back/echo/x", "v1 /x", 5*time.Second)
		}
		m.waitConverged(0, 3, 15*time.Second)
	})

	t.Run("a gateway cut from etcd longer than its lease", func(t *testing.T) {
		m.on(t)
		m.writeConfig(2, m.envs[2], m.etcd.Endpoints()[2:])
		m.restart(2)
		m.waitConverged(0, 3, 15*time.Second)
		m.etcd.Pause(2)
		paused := true
		t.Cleanup(func() {
			if paused {
				m.etcd.Resume(2)
			}
		})
		// A deploy through gateway 0, which lists every member, is accepted
		// at once: within an election (when member 2 led), a try on the
		// paused member and the round of reads that finds it out (0.8 s
		// each at the 8 s request timeout), with room for a loaded machine
		// and well before the request timeout.
		start := time.Now()
		m.mustCtl(0, "topology", "deploy", writeFile(t, "during.yaml", topologyDoc("during", v1)))
		d := time.Since(start)
		t.Logf("a deploy through gateway 0 while member 2 is paused took %s", d.Round(time.Millisecond))
		if d > 5*time.Second {
			t.Errorf("a deploy through gateway 0 while member 2 is paused took %s, want at most 5 s", d.Round(time.Millisecond))
		}
		// Its lease (2s) expires: status on the others lists two gateways.
		deadline := time.Now().Add(20 * time.Second)
		for len(m.status(0).Status.Gateways) != 2 {
			if time.Now().After(deadline) {
				t.Fatalf("the cut-off gateway is still listed: %+v", m.status(0).Status.Gateways)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if code, body, err := m.get(c, 2, "/gateway/web/echo/x"); err != nil || code != 200 || body != "v1 /x" {
			t.Errorf("the cut-off gateway: %d %q %v, want its last table served", code, body, err)
		}
		m.waitReadyz(c, 2, http.StatusServiceUnavailable, 20*time.Second)
		if _, errOut, code := m.ctl(2, "", "topology", "deploy", writeFile(t, "cut.yaml", topologyDoc("cut", v1))); code == 0 || !strings.Contains(errOut, "configuration store (etcd) is unavailable") {
			t.Errorf("deploy through the cut-off gateway: exit %d, %s", code, errOut)
		}
		m.etcd.Resume(2)
		paused = false
		m.waitBody(c, 2, "/gateway/during/echo/x", "v1 /x", 30*time.Second)
		m.waitConverged(0, 3, 30*time.Second)
	})
}

// gatewayd store migrate moves a gateway's bbolt store to etcd and back:
// the gateway started on the copy serves the same topologies with the same
// secret, and the copy back to bbolt verifies.
func TestStoreMigrate(t *testing.T) {
	c := etcdtest.Start(t, 1)
	e := newEnv(t)
	d := e.start()
	backend := headerBackend(t)
	e.mustCtlIn("s3cret-value\n", "alias", "create", "api-key")
	e.mustCtl("topology", "deploy", writeFile(t, "sec.yaml", aliasTopologyDoc("sec", "api-key", backend)))
	_ = d.cmd.Process.Signal(os.Interrupt)
	if err := d.wait(t, 30*time.Second); err != nil {
		t.Fatalf("gatewayd stop: %v", err)
	}
	gatewayd := filepath.Join(binDir, "gatewayd")
	url := c.URL("/migrated")
	out, err := exec.Command(gatewayd, "store", "migrate", "--from", "bolt://"+e.dir, "--to", url).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Copied and verified") {
		t.Fatalf("migrate to etcd: %v\n%s", err, out)
	}
	// A second migrate into the now used prefix is refused.
	if out, err := exec.Command(gatewayd, "store", "migrate", "--from", "bolt://"+e.dir, "--to", url).CombinedOutput(); err == nil || !strings.Contains(string(out), "not empty") {
		t.Fatalf("migrate into a used store: %v\n%s", err, out)
	}
	d = e.start("--store", url)
	if _, body := httpGet(t, e.httpClient(), "https://"+d.proxy+"/gateway/sec/echo/"); body != "s3cret-value" {
		t.Fatalf("the gateway on the etcd copy answers %q", body)
	}
	back := filepath.Join(t.TempDir(), "back")
	out, err = exec.Command(gatewayd, "store", "migrate", "--from", url, "--to", "bolt://"+back).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Copied and verified") {
		t.Fatalf("migrate back to bbolt: %v\n%s", err, out)
	}
}

// A token revoked through one gateway is refused by every gateway: the
// revocation reaches each data plane's in-memory set through etcd.
func TestEtcdRevocationReachesEveryGateway(t *testing.T) {
	m := newMesh(t, 3)
	c := m.envs[0].httpClient()
	m.tokenSetup(t)
	token, id := m.issue(t)
	for i := range 3 {
		deadline := time.Now().Add(10 * time.Second)
		for m.bearer(c, i, token) != http.StatusOK {
			if time.Now().After(deadline) {
				t.Fatalf("gateway %d never accepted the token", i)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	start := time.Now()
	m.mustCtl(0, "token", "revoke", id)
	if code := m.bearer(c, 0, token); code != http.StatusUnauthorized {
		t.Errorf("gateway 0 right after the revocation returned: %d, want 401", code)
	}
	for i := 1; i < 3; i++ {
		deadline := time.Now().Add(5 * time.Second)
		for m.bearer(c, i, token) != http.StatusUnauthorized {
			if time.Now().After(deadline) {
				t.Fatalf("gateway %d still accepts the revoked token", i)
			}
			time.Sleep(time.Millisecond)
		}
		t.Logf("gateway %d refuses the revoked token %s after the revoke call started", i, time.Since(start))
	}
}

// tokenSetup puts a token policy and deploys a JWT-protected topology "jwt".
func (m *mesh) tokenSetup(t *testing.T) {
	t.Helper()
	be := echoBackend(t, "be")
	m.mustCtl(0, "token-policy", "put", writeFile(t, "etl.yaml", `name: etl
allowed_certificate_subjects: [admin]
allowed_subjects: ["*"]
default_ttl: 1h
max_ttl: 2h
max_lifetime: 4h
audiences: [jwt]
`))
	m.mustCtl(1, "topology", "deploy", writeFile(t, "jwt.yaml", fmt.Sprintf(`name: jwt
providers:
  - role: federation
    name: jwt
  - role: identity-assertion
    name: default
services:
  - path: echo
    urls: [%q]
`, be)))
}

var issued atomic.Int64

// issue issues a token for a new subject through gateway 2 and returns it
// with its ID.
func (m *mesh) issue(t *testing.T) (token, id string) {
	t.Helper()
	sub := fmt.Sprintf("user%d", issued.Add(1))
	token = strings.TrimSpace(m.mustCtl(2, "token", "issue", "--policy", "etl", "--on-behalf-of", sub))
	var info struct {
		Tokens []struct {
			ID string `json:"id"`
		} `json:"tokens"`
	}
	if err := json.Unmarshal([]byte(m.mustCtl(0, "token", "list", "--subject", sub, "--output", "json")), &info); err != nil || len(info.Tokens) != 1 {
		t.Fatalf("token list: %v %+v", err, info)
	}
	return token, info.Tokens[0].ID
}

// bearer requests the jwt topology through gateway i with token.
func (m *mesh) bearer(c *http.Client, i int, token string) int {
	req, _ := http.NewRequest(http.MethodGet, "https://"+m.gws[i].proxy+"/gateway/jwt/echo/", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestEtcdReplayIsRefusedByEveryGateway: gateways on one etcd share the
// replay cache (proxy.replay_cache_scope: cluster, the default there), so
// a signed pre-auth request accepted by one gateway is refused when it is
// replayed to another, as to the same one; a fresh signature passes
// everywhere.
func TestEtcdReplayIsRefusedByEveryGateway(t *testing.T) {
	m := newMesh(t, 2)
	backend := echoHeaderBackend(t, "X-Forwarded-User")
	secret := newFedSecret()
	if out, errOut, code := m.ctl(0, secret+"\n", "alias", "create", "fed-secret"); code != 0 {
		t.Fatalf("alias create: exit %d\n%s%s", code, out, errOut)
	}
	m.mustCtl(1, "topology", "deploy", writeFile(t, "signed.yaml", signedTopology(backend)))
	signer := mustSigner(t, secret)
	c := m.envs[0].httpClient()
	const path = "/gateway/signed/echo/x"
	signed := func() string {
		return signer.Sign(&fedsig.Request{Method: "GET", Path: path, User: "alice"}, time.Now())
	}
	req := func(i int, sig string) *http.Request {
		r, _ := http.NewRequest(http.MethodGet, "https://"+m.gws[i].proxy+path, nil)
		r.Header.Set("SM_USER", "alice")
		r.Header.Set(fedsig.Header, sig)
		return r
	}
	// Both gateways serve the topology (each try a fresh signature).
	for i := range 2 {
		deadline := time.Now().Add(10 * time.Second)
		for {
			status, body := send(t, c, req(i, signed()))
			if status == http.StatusOK && body == "alice" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("gateway %d never served the signed topology: %d %q", i, status, body)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	sig := signed()
	steps := []struct {
		name string
		gw   int
		sig  string
		want int
	}{
		{"first use at gateway 0", 0, sig, http.StatusOK},
		{"replayed to gateway 1", 1, sig, http.StatusForbidden},
		{"replayed to gateway 0", 0, sig, http.StatusForbidden},
		{"a fresh signature at gateway 1", 1, signed(), http.StatusOK},
	}
	for _, st := range steps {
		status, body := send(t, c, req(st.gw, st.sig))
		if status != st.want {
			t.Fatalf("%s: %d %q, want %d", st.name, status, body, st.want)
		}
		if status == http.StatusForbidden && strings.Contains(body, "nonce") {
			t.Errorf("%s: the answer says which check refused: %q", st.name, body)
		}
	}
	// Gateway 1's log says why (a replay), as a single gateway's does.
	if logs := m.gws[1].logs(); !strings.Contains(logs, "nonce already used") {
		t.Errorf("gateway 1's log does not name the replay:\n%s", logs[max(0, len(logs)-2000):])
	}
}
