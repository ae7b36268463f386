package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// devYAML puts every listener of a --dev daemon on a loopback port the OS
// chooses, with a fast (explicitly weak) KDF.
const devYAML = `proxy:
  listen: 127.0.0.1:0
management:
  listen: 127.0.0.1:0
  principals: {admin: [admin]}
metrics:
  listen: 127.0.0.1:0
crypto:
  kdf: {algorithm: argon2id, memory_kib: 8192, time: 1, threads: 1}
  allow_weak: true
`

// runDev is scripts/run-dev.sh (make run) running on a fresh data dir.
type runDev struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    strings.Builder
	lines  chan string
	exited chan struct{}
}

func startRunDev(t *testing.T, gatewayYAML, backendAddr string) *runDev {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "gateway.yaml"), []byte(gatewayYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &runDev{cmd: exec.Command("../scripts/run-dev.sh"), lines: make(chan string, 100), exited: make(chan struct{})}
	r.cmd.Env = append(os.Environ(), "BIN="+binDir, "GATEWAY_DATA_DIR="+data, "DEMO_BACKEND_ADDR="+backendAddr)
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pipe, err := r.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r.cmd.Stderr = r.cmd.Stdout // one stream, in order
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			r.mu.Lock()
			r.out.WriteString(sc.Text() + "\n")
			r.mu.Unlock()
			select {
			case r.lines <- sc.Text():
			default:
			}
		}
		_ = r.cmd.Wait()
		close(r.exited)
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGTERM)
		<-r.exited
	})
	return r
}

func (r *runDev) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out.String()
}

// waitFor waits until a line contains s; false when the script exited first.
func (r *runDev) waitFor(t *testing.T, s string) bool {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case l := <-r.lines:
			if strings.Contains(l, s) {
				return true
			}
		case <-r.exited:
			return strings.Contains(r.output(), s)
		case <-deadline:
			t.Fatalf("run-dev.sh: no %q within 60 s:\n%s", s, r.output())
		}
	}
}

// make run prints the addresses the daemon really listens on and serves
// both demo topologies, the Basic one to the printed demo user.
func TestRunDevPrintsTheRealAddresses(t *testing.T) {
	r := startRunDev(t, devYAML, "127.0.0.1:0")
	if !r.waitFor(t, "Ctrl-C stops the gateway") {
		t.Fatalf("run-dev.sh exited:\n%s", r.output())
	}
	m := regexp.MustCompile(`proxy https://(127\.0\.0\.1:\d+),`).FindStringSubmatch(r.output())
	if m == nil || strings.HasSuffix(m[1], ":8443") || strings.Contains(r.output(), ":8443") {
		t.Fatalf("banner does not show the real proxy address:\n%s", r.output())
	}
	hc := (&env{t: t, dir: dataDirOf(t, r)}).httpClient()
	base := "https://" + m[1] + "/gateway/"
	if got := getAs(t, hc, base+"secure/echo/hello", "demo", "demo-password"); got != 200 {
		t.Errorf("secure as the demo user: %d", got)
	}
	if got := getAs(t, hc, base+"secure/echo/hello", "demo", "nope"); got != 401 {
		t.Errorf("secure with a wrong password: %d", got)
	}
	if code, _ := httpGet(t, hc, base+"sandbox/echo/x"); code != 200 {
		t.Errorf("sandbox: %d", code)
	}
}

func dataDirOf(t *testing.T, r *runDev) string {
	t.Helper()
	for _, kv := range r.cmd.Env {
		if v, ok := strings.CutPrefix(kv, "GATEWAY_DATA_DIR="); ok {
			return v
		}
	}
	t.Fatal("no data dir")
	return ""
}

// make run fails at once, saying why, when the demo backend cannot listen
// or gatewayctl is refused; it does not report success or retry for long.
func TestRunDevFailsFast(t *testing.T) {
	taken := listen(t)
	defer taken.Close()
	cases := []struct {
		name, yaml, backend, want string
	}{
		{"backend address in use", devYAML, taken.Addr().String(), "set DEMO_BACKEND_ADDR"},
		{"admin certificate without a role", strings.Replace(devYAML, "{admin: [admin]}", "{root: [admin]}", 1), "127.0.0.1:0", "the admin certificate has no role"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			r := startRunDev(t, tc.yaml, tc.backend)
			select {
			case <-r.exited:
			case <-time.After(60 * time.Second):
				t.Fatalf("still running after 60 s:\n%s", r.output())
			}
			if r.cmd.ProcessState.ExitCode() == 0 || !strings.Contains(r.output(), tc.want) || strings.Contains(r.output(), "gatewayd is running") {
				t.Fatalf("exit %d, want a failure saying %q:\n%s", r.cmd.ProcessState.ExitCode(), tc.want, r.output())
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("took %v to fail", d)
			}
		})
	}
}
