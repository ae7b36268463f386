package main

// End-to-end tests: the real gatewayd and gatewayctl binaries, built once,
// run as subprocesses on loopback with OS-chosen ports.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gatewayd-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	for name, pkg := range map[string]string{"gatewayd": ".", "gatewayctl": "../gatewayctl", "demo-backend": "./examples/demo-backend"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n", name, err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testConfigYAML: loopback, OS-chosen ports, a fast (explicitly weak) KDF.
const testConfigYAML = `data_dir: .
proxy:
  listen: 127.0.0.1:0
management:
  listen: 127.0.0.1:0
  shutdown_timeout: 10s
metrics:
  listen: ""
crypto:
  kdf:
    algorithm: argon2id
    memory_kib: 8192
    time: 1
    threads: 1
  allow_weak: true
log:
  level: info
  format: json
`

// env is one initialized data dir.
type env struct {
	t       *testing.T
	dir     string
	secret  string
	config  string
	ctlConf string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: dir, secret: filepath.Join(t.TempDir(), "master"), config: filepath.Join(dir, "gateway.yaml")}
	e.ctlConf = filepath.Join(dir, "gatewayctl.yaml")
	if err := os.WriteFile(e.config, []byte(testConfigYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(binDir, "gatewayd"), "init", "--data-dir", dir, "--generate", "--master-secret-file", e.secret).CombinedOutput()
	if err != nil {
		t.Fatalf("gatewayd init: %v\n%s", err, out)
	}
	return e
}

// gwProcess is a running gatewayd subprocess.
type gwProcess struct {
	cmd        *exec.Cmd
	proxy      string
	management string
	mu         sync.Mutex
	log        bytes.Buffer
	exited     chan struct{}
	exitErr    error
}

func (d *gwProcess) logs() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

// start runs gatewayd serve and waits until it reports its addresses.
func (e *env) start(extra ...string) *gwProcess {
	e.t.Helper()
	d, err := e.startNoWait(extra...)
	if err != nil {
		e.t.Fatal(err)
	}
	deadline := time.After(30 * time.Second)
	for d.proxy == "" {
		select {
		case <-d.exited:
			e.t.Fatalf("gatewayd exited: %v\n%s", d.exitErr, d.logs())
		case <-deadline:
			e.t.Fatalf("gatewayd not ready in time:\n%s", d.logs())
		case <-time.After(20 * time.Millisecond):
			d.mu.Lock()
			d.parseAddrs()
			d.mu.Unlock()
		}
	}
	return d
}

func (e *env) startNoWait(extra ...string) (*gwProcess, error) {
	args := append([]string{"serve", "--config", e.config, "--master-secret-file", e.secret}, extra...)
	cmd := exec.Command(filepath.Join(binDir, "gatewayd"), args...)
	d := &gwProcess{cmd: cmd, exited: make(chan struct{})}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			d.mu.Lock()
			d.log.Write(sc.Bytes())
			d.log.WriteByte('\n')
			d.mu.Unlock()
		}
		d.exitErr = cmd.Wait()
		close(d.exited)
	}()
	e.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-d.exited
	})
	return d, nil
}

func (d *gwProcess) parseAddrs() {
	for _, line := range strings.Split(d.log.String(), "\n") {
		var m struct {
			Msg        string `json:"msg"`
			Proxy      string `json:"proxy"`
			Management string `json:"management"`
		}
		if json.Unmarshal([]byte(line), &m) == nil && m.Msg == "gatewayd serving" {
			d.proxy, d.management = m.Proxy, m.Management
		}
	}
}

func (d *gwProcess) wait(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case <-d.exited:
		return d.exitErr
	case <-time.After(within):
		t.Fatalf("gatewayd did not exit within %v:\n%s", within, d.logs())
		return nil
	}
}

// ctl runs gatewayctl and returns stdout, stderr and the exit code.
func (e *env) ctl(stdin string, args ...string) (string, string, int) {
	e.t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "gatewayctl"), args...)
	cmd.Env = append(os.Environ(), "GATEWAYCTL_CONFIG="+e.ctlConf)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("gatewayctl %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func (e *env) mustCtl(args ...string) string {
	e.t.Helper()
	out, errOut, code := e.ctl("", args...)
	if code != 0 {
		e.t.Fatalf("gatewayctl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func (e *env) httpClient() *http.Client {
	e.t.Helper()
	ca, err := os.ReadFile(filepath.Join(e.dir, "ca.pem"))
	if err != nil {
		e.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}}
	e.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 15 * time.Second}
}

// echoBackend answers with "name path".
func echoBackend(t *testing.T, name string) string {
	t.Helper()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", name, r.URL.Path)
	})}
	ln := listen(t)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func topologyDoc(name, url string) string {
	return fmt.Sprintf(`name: %s
providers:
  - role: authentication
    name: anonymous
  - role: identity-assertion
    name: default
services:
  - path: echo
    urls: [%q]
`, name, url)
}

func httpGet(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestCLIEndToEnd(t *testing.T) {
	e := newEnv(t)
	d := e.start()
	hc := e.httpClient()
	a, b := echoBackend(t, "A"), echoBackend(t, "B")
	base := "https://" + d.proxy + "/gateway/demo/echo"

	out := e.mustCtl("status")
	if !strings.Contains(out, d.management) {
		t.Errorf("status does not show the management address:\n%s", out)
	}
	fileA := writeFile(t, "demo.yaml", topologyDoc("demo", a))
	out = e.mustCtl("topology", "deploy", fileA)
	if !strings.Contains(out, "echo") {
		t.Errorf("deploy output does not list the added service:\n%s", out)
	}
	if code, body := httpGet(t, hc, base+"/one"); code != 200 || body != "A /one" {
		t.Fatalf("through the proxy: %d %q", code, body)
	}

	// Dry run: shows the change, stores nothing.
	fileB := writeFile(t, "demo-b.yaml", topologyDoc("demo", b))
	out = e.mustCtl("topology", "deploy", fileB, "--dry-run")
	if !strings.Contains(strings.ToLower(out), "changed") {
		t.Errorf("dry run output:\n%s", out)
	}
	if _, body := httpGet(t, hc, base+"/two"); body != "A /two" {
		t.Fatalf("dry run changed the route: %q", body)
	}

	// list -o json is machine-readable.
	var list struct {
		Topologies []struct {
			Topology struct{ Name string } `json:"topology"`
			Revision json.Number           `json:"revision"` // a number, not protojson's string
		} `json:"topologies"`
	}
	if err := json.Unmarshal([]byte(e.mustCtl("topology", "list", "-o", "json")), &list); err != nil {
		t.Fatalf("list -o json: %v", err)
	}
	if len(list.Topologies) != 1 || list.Topologies[0].Topology.Name != "demo" {
		t.Fatalf("list: %+v", list)
	}
	rev1 := list.Topologies[0].Revision.String()
	if _, err := list.Topologies[0].Revision.Int64(); err != nil {
		t.Fatalf("revision %q is not a number", rev1)
	}

	// get -o yaml round-trips through deploy: unchanged.
	got := writeFile(t, "got.yaml", e.mustCtl("topology", "get", "demo", "-o", "yaml"))
	if out := e.mustCtl("topology", "deploy", got); !strings.Contains(strings.ToLower(out), "unchanged") {
		t.Errorf("redeploying get -o yaml:\n%s", out)
	}

	// A stale --expect-revision is refused with a one-line error, nothing changes.
	_, errOut, code := e.ctl("", "topology", "deploy", fileB, "--expect-revision", "1")
	if code == 0 || !strings.Contains(errOut, "revision") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Fatalf("stale expect-revision: exit %d, stderr %q", code, errOut)
	}
	e.mustCtl("topology", "deploy", fileB, "--expect-revision", rev1)
	if _, body := httpGet(t, hc, base+"/three"); body != "B /three" {
		t.Fatalf("after deploy B: %q", body)
	}

	hist := e.mustCtl("topology", "history", "demo")
	if !strings.Contains(hist, rev1) {
		t.Fatalf("history does not list revision %s:\n%s", rev1, hist)
	}
	e.mustCtl("topology", "rollback", "demo", "--revision", rev1)
	if _, body := httpGet(t, hc, base+"/four"); body != "A /four" {
		t.Fatalf("after rollback: %q", body)
	}

	// Knox topology XML, converted.
	xml := writeFile(t, "knoxy.xml", fmt.Sprintf(`<topology>
  <gateway>
    <provider><role>authentication</role><name>Anonymous</name><enabled>true</enabled></provider>
    <provider><role>identity-assertion</role><name>Default</name><enabled>true</enabled></provider>
  </gateway>
  <service><role>ECHO</role><url>%s</url></service>
</topology>`, b))
	e.mustCtl("topology", "deploy", xml)
	if code, body := httpGet(t, hc, "https://"+d.proxy+"/gateway/knoxy/echo/x"); code != 200 || body != "B /x" {
		t.Fatalf("Knox XML topology: %d %q", code, body)
	}

	// Offline validation: errors with their line, non-zero exit, no server needed.
	bad := writeFile(t, "bad.yaml", "name: bad\nservices:\n  - path: x\n    urls: [\"nohost\"]\n")
	_, errOut, code = e.ctl("", "--server", "127.0.0.1:1", "topology", "validate", bad)
	if code == 0 || !strings.Contains(errOut, "line 3") {
		t.Fatalf("validate bad file: exit %d, stderr %q", code, errOut)
	}

	e.mustCtl("topology", "delete", "demo")
	if code, _ := httpGet(t, hc, base+"/five"); code != http.StatusNotFound {
		t.Fatalf("after delete: %d", code)
	}
	_, errOut, code = e.ctl("", "topology", "get", "demo")
	if code == 0 || !strings.Contains(errOut, "not found") {
		t.Fatalf("get deleted: exit %d, %q", code, errOut)
	}
	if audit := e.mustCtl("audit", "list"); !strings.Contains(audit, "topology/demo") {
		t.Fatalf("audit list:\n%s", audit)
	}
}

func TestSecondDaemonOnTheSameDataDirFails(t *testing.T) {
	e := newEnv(t)
	e.start()
	second, err := e.startNoWait()
	if err != nil {
		t.Fatal(err)
	}
	err = second.wait(t, 30*time.Second)
	if err == nil {
		t.Fatal("second gatewayd exited 0")
	}
	if !strings.Contains(second.logs(), "locked") {
		t.Fatalf("second gatewayd's message does not say the store is locked:\n%s", second.logs())
	}
	if _, errOut, code := e.ctl("", "status"); code != 0 {
		t.Fatalf("first gatewayd stopped serving: %s", errOut)
	}
}

func TestWrongMasterSecretExits(t *testing.T) {
	e := newEnv(t)
	e.secret = writeFile(t, "wrong", "definitely not it\n")
	d, err := e.startNoWait()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.wait(t, 30*time.Second); err == nil || !strings.Contains(d.logs(), "wrong master secret") {
		t.Fatalf("exit %v, log:\n%s", err, d.logs())
	}
}

func TestSIGKILLDuringDeploysLosesNoAcknowledgedDeploy(t *testing.T) {
	e := newEnv(t)
	d := e.start()
	backend := echoBackend(t, "A")

	// Deploy in a loop through gatewayctl; every exit 0 is an acknowledgement.
	type ack struct{ name, url string }
	var (
		mu    sync.Mutex
		acked []ack
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				name := fmt.Sprintf("t%d-%d", w, i%7)
				url := fmt.Sprintf("%s/v%d", backend, i)
				f := writeFile(t, name+".yaml", topologyDoc(name, url))
				if _, _, code := e.ctl("", "topology", "deploy", f); code == 0 {
					mu.Lock()
					acked = append(acked, ack{name, url})
					mu.Unlock()
				}
			}
		}(w)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 30 || (n >= 10 && time.Now().After(deadline)) || time.Now().After(deadline.Add(60*time.Second)) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	d.wait(t, 10*time.Second)
	cancel()
	wg.Wait()
	if len(acked) < 10 {
		t.Fatalf("only %d deploys acknowledged before the deadline", len(acked))
	}

	e.start()
	// The last acknowledged URL of every topology must be what is stored.
	last := map[string]string{}
	for _, a := range acked {
		last[a.name] = a.url
	}
	for name, url := range last {
		out := e.mustCtl("topology", "get", name, "-o", "json")
		if !strings.Contains(out, url) {
			// A deploy sent but not acknowledged may have landed after the
			// last acknowledged one; only an older URL would be a loss.
			if !laterURLStored(out, url) {
				t.Errorf("topology %s: acknowledged %s, stored:\n%s", name, url, out)
			}
		}
	}
}

// laterURLStored reports whether the stored document holds a version
// number above the acknowledged one (…/vN).
func laterURLStored(stored, acked string) bool {
	var ackN int
	fmt.Sscanf(acked[strings.LastIndex(acked, "/v")+2:], "%d", &ackN)
	i := strings.LastIndex(stored, "/v")
	if i < 0 {
		return false
	}
	var n int
	fmt.Sscanf(stored[i+2:], "%d", &n)
	return n > ackN
}

func TestSIGTERMDrainsInFlightRequests(t *testing.T) {
	e := newEnv(t)
	d := e.start()
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
		fmt.Fprint(w, "finished")
	})}
	ln := listen(t)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	e.mustCtl("topology", "deploy", writeFile(t, "slow.yaml", topologyDoc("slow", "http://"+ln.Addr().String())))

	hc := e.httpClient()
	type result struct {
		code int
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := hc.Get("https://" + d.proxy + "/gateway/slow/echo/")
		if err != nil {
			res <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		res <- result{code: resp.StatusCode, body: string(b)}
	}()
	<-started
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Wait until the daemon has begun its shutdown, then let the backend answer.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(d.logs(), "shutting down") {
		if time.Now().After(deadline) {
			t.Fatalf("no shutdown in the log:\n%s", d.logs())
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	r := <-res
	if r.err != nil || r.code != 200 || r.body != "finished" {
		t.Fatalf("in-flight request: %+v", r)
	}
	if err := d.wait(t, 20*time.Second); err != nil {
		t.Fatalf("gatewayd exit: %v\n%s", err, d.logs())
	}
	logs := d.logs()
	if !strings.Contains(logs, `"msg":"stopped"`) {
		t.Fatalf("shutdown did not complete:\n%s", logs)
	}
}
