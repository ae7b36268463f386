package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// wsProc is a wsload process and the JSON events it printed.
type wsProc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	events []map[string]any
	done   chan struct{}
}

func startWsload(t *testing.T, bin string, args ...string) *wsProc {
	t.Helper()
	p := &wsProc{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = os.Stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var ev map[string]any
			if json.Unmarshal(sc.Bytes(), &ev) == nil {
				p.mu.Lock()
				p.events = append(p.events, ev)
				p.mu.Unlock()
			}
		}
		_ = p.cmd.Wait()
	}()
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); <-p.done })
	return p
}

// event waits for the event named name.
func (p *wsProc) event(t *testing.T, name string, within time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		p.mu.Lock()
		for _, ev := range p.events {
			if ev["event"] == name {
				p.mu.Unlock()
				return ev
			}
			if ev["event"] == "error" {
				p.mu.Unlock()
				t.Fatalf("wsload: %v", ev["error"])
			}
		}
		p.mu.Unlock()
		select {
		case <-p.done:
			t.Fatalf("wsload exited before %q", name)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("wsload: no %q within %s", name, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestEtcdWebSockets measures the WebSocket figure of the etcd section
// (scripts/bench/sections/etcd.sh): GATEWAY_ETCD_WS proxied WebSockets
// across three gateways on etcd, a third through each (one gateway holds
// about 9,900: two descriptors each under a 20,000 limit), one echo
// backend per gateway, clients spread over 127.0.0.2–9; while they are
// held, topologies are deployed through the gateways, and at the end every
// socket must still echo. It prints FIGURE lines.
func TestEtcdWebSockets(t *testing.T) {
	total, _ := strconv.Atoi(os.Getenv("GATEWAY_ETCD_WS"))
	if total == 0 {
		t.Skip("set GATEWAY_ETCD_WS (make bench / make scale)")
	}
	bin := filepath.Join(t.TempDir(), "wsload")
	if out, err := exec.Command("go", "build", "-o", bin, "../scripts/bench/wsload").CombinedOutput(); err != nil {
		t.Fatalf("building wsload: %v\n%s", err, out)
	}
	base := strings.Replace(testConfigYAML, "proxy:\n  listen: 127.0.0.1:0\n", "proxy:\n  listen: 127.0.0.1:0\n  tls: false\n", 1)
	m := newMeshWith(t, 3, base)
	per := (total + 2) / 3
	var backends []string
	for i := range 3 {
		p := startWsload(t, bin, "serve", "-listen", "127.0.0.1:0")
		backends = append(backends, p.event(t, "listening", 30*time.Second)["addr"].(string))
		doc := fmt.Sprintf("name: ws%d\nproviders:\n  - {role: authentication, name: anonymous}\n  - {role: identity-assertion, name: default}\n"+
			"services:\n  - {path: echo, urls: [\"ws://%s\"], websocket: true}\n", i, backends[i])
		m.mustCtl(i, "topology", "deploy", writeFile(t, fmt.Sprintf("ws%d.yaml", i), doc))
	}
	m.waitConverged(0, 3, 30*time.Second)

	const hold = 40 * time.Second
	src := "127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.6,127.0.0.7,127.0.0.8,127.0.0.9"
	start := time.Now()
	var holders []*wsProc
	for i := range 3 {
		url := fmt.Sprintf("ws://%s/gateway/ws%d/echo/", m.gws[i].proxy, i)
		holders = append(holders, startWsload(t, bin, "hold", "-url", url, "-n", strconv.Itoa(per), "-src", src, "-hold", hold.String()))
	}
	open := 0
	for _, h := range holders {
		ev := h.event(t, "ready", hold)
		open += int(ev["open"].(float64))
		if e, ok := ev["first_error"]; ok {
			t.Logf("a connection failed: %v", e)
		}
	}
	connected := time.Since(start)
	// Deploys through every gateway while the sockets are held.
	be := echoBackend(t, "churn")
	deploys := 0
	for k := 0; time.Since(start) < hold-15*time.Second && k < 30; k++ {
		m.mustCtl(k%3, "topology", "deploy", writeFile(t, fmt.Sprintf("churn%d.yaml", k), topologyDoc(fmt.Sprintf("churn%d", k%5), be)))
		deploys++
	}
	// A socket that no longer echoes at the end was dropped (wsload's own
	// "dropped" also counts the closes it makes after the check).
	alive := 0
	for _, h := range holders {
		alive += int(h.event(t, "done", hold+3*time.Minute)["alive_at_end"].(float64))
	}
	dropped := open - alive
	fmt.Printf("FIGURE ws_wanted %d\n", 3*per)
	fmt.Printf("FIGURE ws_open %d\n", open)
	fmt.Printf("FIGURE ws_connect_s %.1f\n", connected.Seconds())
	fmt.Printf("FIGURE ws_deploys %d\n", deploys)
	fmt.Printf("FIGURE ws_dropped %d\n", dropped)
	fmt.Printf("FIGURE ws_alive_at_end %d\n", alive)
}
