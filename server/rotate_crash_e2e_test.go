package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/securegw/gateway/server/internal/daemon"
)

// A real gatewayd killed (SIGKILL) in the middle of a master rotation with
// a new data key (the one that re-encrypts),
// after some aliases were resealed: on restart the old secret opens
// everything, whole; no alias is lost; the new secret opens nothing.
func TestMasterRotateCrashLeavesTheOldStateWhole(t *testing.T) {
	for _, after := range []int{1, 10, 20} {
		t.Run(fmt.Sprintf("killed after %d of 20 aliases", after), func(t *testing.T) {
			e := newEnv(t)
			t.Setenv(daemon.EnvRotateFailpoint, fmt.Sprint(after))
			d := e.start()
			values := map[string]string{}
			for i := 0; i < 20; i++ {
				name, value := fmt.Sprintf("alias-%02d", i), fmt.Sprintf("value-%02d-%d", i, after)
				e.mustCtlIn(value+"\n", "alias", "create", name)
				values[name] = value
			}
			backend := headerBackend(t)
			e.mustCtl("topology", "deploy", writeFile(t, "rot.yaml", aliasTopologyDoc("rot", "alias-07", backend)))

			newSecret := writeFile(t, "new-master", "a new master secret, long enough\n")
			if _, errOut, code := e.ctl("", "master", "rotate", "--current-secret-file", e.secret, "--new-secret-file", newSecret, "--new-data-key"); code == 0 {
				t.Fatalf("rotate succeeded although gatewayd was to die in it: %s", errOut)
			}
			if err := d.wait(t, 30*time.Second); err == nil || !strings.Contains(err.Error(), "killed") {
				t.Fatalf("gatewayd exit: %v", err)
			}

			t.Setenv(daemon.EnvRotateFailpoint, "")
			// The new secret does not open the store: nothing of it was committed.
			oldSecret := e.secret
			e.secret = newSecret
			wrong, err := e.startNoWait()
			if err != nil {
				t.Fatal(err)
			}
			if err := wrong.wait(t, 30*time.Second); err == nil || !strings.Contains(wrong.logs(), "wrong master secret") {
				t.Fatalf("the new secret opened the store: %v\n%s", err, wrong.logs())
			}
			// The old one opens everything.
			e.secret = oldSecret
			d = e.start()
			for name, want := range values {
				if got := e.mustCtl("alias", "get", name, "--reveal"); got != want {
					t.Fatalf("alias %s after the crash: %q, want %q", name, got, want)
				}
			}
			if _, body := httpGet(t, e.httpClient(), "https://"+d.proxy+"/gateway/rot/echo/"); body != values["alias-07"] {
				t.Fatalf("the topology's alias after the crash: %q", body)
			}
			// And a rotation without the failpoint completes.
			e.mustCtl("master", "rotate", "--current-secret-file", oldSecret, "--new-secret-file", newSecret, "--new-data-key")
		})
	}
}
