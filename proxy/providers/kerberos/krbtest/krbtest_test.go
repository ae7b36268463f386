package krbtest_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/securegw/gateway/proxy/providers/kerberos/krbtest"
)

// TestRealm makes a realm, logs a user in with gokrb5 and with kinit, and
// gets a service ticket for a principal whose keytab was exported.
func TestRealm(t *testing.T) {
	k := krbtest.Start(t, krbtest.Options{})
	pw := krbtest.Password()
	k.AddUser(t, "alice", pw)
	kt := krbtest.Keytab(t, k.AddService(t, "HTTP/localhost"))
	if len(kt.Entries) == 0 {
		t.Fatal("the service keytab has no keys")
	}
	cl := k.Login(t, "alice", pw)
	if _, _, err := cl.GetServiceTicket("HTTP/localhost"); err != nil {
		t.Fatalf("service ticket: %v", err)
	}
	k.Kinit(t, "alice", "alice", pw)
	cmd := exec.Command("klist")
	cmd.Env = k.Env("alice")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "alice@"+krbtest.Realm) {
		t.Fatalf("klist: %v: %s", err, out)
	}
}

func TestWrongPasswordRefused(t *testing.T) {
	k := krbtest.Start(t, krbtest.Options{})
	k.AddUser(t, "bob", krbtest.Password())
	cmd := exec.Command(krbtest.KinitPath, "bob@"+krbtest.Realm)
	cmd.Env = k.Env("bob")
	cmd.Stdin = strings.NewReader("wrong\n")
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("kinit with a wrong password succeeded: %s", out)
	}
}
