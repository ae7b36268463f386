package main

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// setProxyKey adds key: value to gateway.yaml's proxy section.
func (e *env) setProxyKey(key, value string) {
	e.t.Helper()
	b, err := os.ReadFile(e.config)
	if err != nil {
		e.t.Fatal(err)
	}
	s := strings.Replace(string(b), "proxy:\n", "proxy:\n  "+key+": "+value+"\n", 1)
	if err := os.WriteFile(e.config, []byte(s), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// proxy.tcp_congestion: gatewayd serves with an algorithm the kernel has,
// and refuses to start, saying why and what the kernel offers, with one it
// lacks: at its configuration's validation, before it opens anything.
func TestTCPCongestionSetting(t *testing.T) {
	if _, err := os.Stat("/proc/sys/net/ipv4/tcp_available_congestion_control"); err != nil {
		t.Skip("not Linux")
	}
	t.Run("available", func(t *testing.T) {
		e := newEnv(t)
		e.setProxyKey("tcp_congestion", "reno") // built into every kernel, allowed to everyone
		d := e.start()
		e.mustCtl("topology", "deploy", writeFile(t, "cc.yaml", topologyDoc("cc", echoBackend(t, "A"))))
		resp, err := e.httpClient().Get("https://" + d.proxy + "/gateway/cc/echo/x")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "A /x" {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
	})
	t.Run("unknown", func(t *testing.T) {
		e := newEnv(t)
		e.setProxyKey("tcp_congestion", "nosuchcc")
		d, err := e.startNoWait()
		if err != nil {
			t.Fatal(err)
		}
		if err := d.wait(t, 30*time.Second); err == nil {
			t.Fatal("gatewayd served with an unknown congestion control")
		}
		logs := d.logs()
		for _, want := range []string{"invalid configuration", "proxy.tcp_congestion: ", `congestion control "nosuchcc"`, "it offers ", "tcp_available_congestion_control"} {
			if !strings.Contains(logs, want) {
				t.Errorf("exit output does not name %s:\n%s", want, logs)
			}
		}
	})
}
