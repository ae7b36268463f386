package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// waitMaster polls status through gateway 0 until every gateway's master
// state is the one want gives for its index and all run with one data key
// (returned).
func (m *mesh) waitMaster(want func(i int) string, within time.Duration) string {
	m.t.Helper()
	deadline := time.Now().Add(within)
	for {
		d := m.status(0)
		byAddr := map[string]int{}
		for i, gw := range m.gws {
			byAddr[gw.management] = i
		}
		ok := len(d.Status.Gateways) == len(m.gws)
		key := ""
		for _, g := range d.Status.Gateways {
			i, known := byAddr[g.ManagementAddress]
			if !known || g.Master != want(i) || g.KeyID == "" || (key != "" && g.KeyID != key) {
				ok = false
			}
			key = g.KeyID
		}
		if ok {
			return key
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("gateways' master states did not settle: %+v", d.Status.Gateways)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A master rotation through one gateway of three on etcd: the others keep
// serving and resolving aliases without a restart, an alias created through
// one after it is usable through another, status says whose master secret
// file is stale, and a restart works with the new secret (and fails, clearly
// and writing nothing, with the old one). A rotation with a new data key
// is followed by the running gateways too. (No subtests: a gateway started
// in one would stop when it ends.)
func TestEtcdMasterRotation(t *testing.T) {
	m := newMesh(t, 3)
	c := m.envs[0].httpClient()
	backend := headerBackend(t)
	m.envs[0].mustCtlIn("first-VALUE\n", "--server", m.gws[0].management, "alias", "create", "api-key")
	m.mustCtl(0, "topology", "deploy", writeFile(t, "sec.yaml", aliasTopologyDoc("sec", "api-key", backend)))
	for i := range 3 {
		m.waitBody(c, i, "/gateway/sec/echo/", "first-VALUE", 5*time.Second)
	}
	keyBefore := m.waitMaster(func(int) string { return "current" }, 10*time.Second)

	newSecret := writeFile(t, "new-master", "the-new-master-secret-of-the-mesh\n")
	out := m.mustCtl(0, "master", "rotate", "--current-secret-file", m.envs[0].secret, "--new-secret-file", newSecret)
	if !strings.Contains(out, "master secret rotated") {
		t.Fatalf("rotate said %q", out)
	}

	// The others keep serving and resolving aliases.
	{
		for i := range 3 {
			if code, body, err := m.get(c, i, "/gateway/sec/echo/"); err != nil || code != 200 || body != "first-VALUE" {
				t.Fatalf("gateway %d after the rotation: %d %q %v", i, code, body, err)
			}
		}
		// An overwrite through gateway 1 makes every gateway resolve again.
		m.envs[0].mustCtlIn("second-VALUE\n", "--server", m.gws[1].management, "alias", "create", "api-key", "--overwrite")
		for i := range 3 {
			m.waitBody(c, i, "/gateway/sec/echo/", "second-VALUE", 5*time.Second)
		}
		// An alias created through gateway 2 is usable through gateway 0.
		m.envs[0].mustCtlIn("from-two-VALUE\n", "--server", m.gws[2].management, "alias", "create", "from-two")
		m.mustCtl(0, "topology", "deploy", writeFile(t, "two.yaml", aliasTopologyDoc("two", "from-two", backend)))
		for i := range 3 {
			m.waitBody(c, i, "/gateway/two/echo/", "from-two-VALUE", 5*time.Second)
		}
	}

	// Status shows whose master file is stale.
	{
		if key := m.waitMaster(func(int) string { return "stale" }, 15*time.Second); key != keyBefore {
			t.Fatalf("data key %s after a master rotation, was %s", key, keyBefore)
		}
		copyFile(t, newSecret, m.envs[1].secret)
		m.waitMaster(func(i int) string { return map[bool]string{true: "current", false: "stale"}[i == 1] }, 15*time.Second)
		table := m.mustCtl(0, "status")
		for _, want := range []string{"MASTER", "stale", "current", keyBefore} {
			if !strings.Contains(table, want) {
				t.Errorf("status table lacks %q:\n%s", want, table)
			}
		}
	}

	// A restart needs the new secret.
	{
		m.restart(1)
		for _, path := range []string{"/gateway/sec/echo/", "/gateway/two/echo/"} {
			want := map[string]string{"/gateway/sec/echo/": "second-VALUE", "/gateway/two/echo/": "from-two-VALUE"}[path]
			if code, body, err := m.get(c, 1, path); err != nil || code != 200 || body != want {
				t.Fatalf("restarted gateway 1 on %s: %d %q %v", path, code, body, err)
			}
		}
		_ = m.gws[2].cmd.Process.Kill()
		<-m.gws[2].exited
		old, err := m.envs[2].startNoWait()
		if err != nil {
			t.Fatal(err)
		}
		err = old.wait(t, 30*time.Second)
		if logs := old.logs(); err == nil || !strings.Contains(logs, "wrong master secret") || !strings.Contains(logs, "rotated through another gateway") {
			t.Fatalf("gateway 2 restarted with the old secret: exit %v\n%s", err, logs)
		}
		copyFile(t, newSecret, m.envs[2].secret)
		m.gws[2] = m.envs[2].start()
		m.waitBody(c, 2, "/gateway/two/echo/", "from-two-VALUE", 5*time.Second)
		m.waitConverged(0, 3, 10*time.Second)
	}

	// A new data key is followed by the running gateways.
	{
		third := writeFile(t, "third-master", "the-third-master-secret-of-the-mesh\n")
		out := m.mustCtl(1, "master", "rotate", "--current-secret-file", newSecret, "--new-secret-file", third, "--new-data-key")
		if !strings.Contains(out, "re-encrypted") {
			t.Fatalf("rotate said %q", out)
		}
		for i := range 3 {
			if code, body, err := m.get(c, i, "/gateway/sec/echo/"); err != nil || code != 200 || body != "second-VALUE" {
				t.Fatalf("gateway %d after the data key rotation: %d %q %v", i, code, body, err)
			}
		}
		m.envs[0].mustCtlIn("after-VALUE\n", "--server", m.gws[2].management, "alias", "create", "api-key", "--overwrite")
		for i := range 3 {
			m.waitBody(c, i, "/gateway/sec/echo/", "after-VALUE", 5*time.Second)
		}
		for i := range 3 {
			copyFile(t, third, m.envs[i].secret)
		}
		if key := m.waitMaster(func(int) string { return "current" }, 15*time.Second); key == keyBefore {
			t.Fatalf("the data key is still %s after --new-data-key", key)
		}
		m.restart(0)
		m.waitBody(c, 0, "/gateway/sec/echo/", "after-VALUE", 5*time.Second)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(fmt.Errorf("replacing %s: %w", to, err))
	}
}
