package cli

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/securegw/gateway/proxy/chain"
	_ "github.com/securegw/gateway/proxy/providers/basic" // the provider the hash is for
)

// The hash hash-password prints logs the user in through the basic
// provider, and the password is read from stdin or a prompt, never argv.
func TestHashPassword(t *testing.T) {
	e := &testEnv{dir: t.TempDir(), home: t.TempDir()}
	const pw = "correct horse, demo only"
	cases := []struct {
		name       string
		opts       runOpts
		args       []string
		wantCode   int
		wantStderr string
	}{
		{name: "stdin", opts: runOpts{stdin: pw + "\n"}},
		{name: "prompt", opts: runOpts{term: &fakeTerminal{stdinTTY: true, answers: []string{pw, pw}}},
			wantStderr: "Enter password: \nConfirm password: \n"},
		{name: "prompt entries differ", opts: runOpts{term: &fakeTerminal{stdinTTY: true, answers: []string{pw, pw + "x"}}},
			wantCode: 1, wantStderr: "Enter password: \nConfirm password: \nerror: password: the two entries differ\n"},
		{name: "empty stdin", opts: runOpts{stdin: "\n"}, wantCode: 1, wantStderr: "error: password: refusing an empty value\n"},
		{name: "password as an argument", args: []string{pw}, wantCode: 2},
		{name: "memory too large", args: []string{"--memory", "2000000"}, wantCode: 2,
			wantStderr: "error: --memory must be from 8×threads to 1048576 KiB\nRun 'gatewayctl hash-password --help' for usage.\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.noConf = true
			// Cheap parameters first; a case's own flags come later and win.
			r := e.runWith(t, tc.opts, append([]string{"hash-password", "--memory", "1024", "--time", "1"}, tc.args...)...)
			if r.code != tc.wantCode {
				t.Fatalf("exit %d, want %d; stderr %q", r.code, tc.wantCode, r.stderr)
			}
			if tc.wantStderr != "" && r.stderr != tc.wantStderr {
				t.Errorf("stderr %q, want %q", r.stderr, tc.wantStderr)
			}
			if tc.wantCode != 0 {
				if r.stdout != "" {
					t.Errorf("printed %q on failure", r.stdout)
				}
				return
			}
			hash := strings.TrimSuffix(r.stdout, "\n")
			if !strings.HasPrefix(hash, "$argon2id$v=19$m=1024,t=1,p=1$") || strings.Contains(hash, "\n") {
				t.Fatalf("printed %q", r.stdout)
			}
			if !basicLogin(t, hash, "alice", pw) || basicLogin(t, hash, "alice", pw+"!") {
				t.Fatal("the basic provider does not accept the hash as the password's, and only its")
			}
		})
	}
}

// basicLogin reports whether the basic provider, given hash as alice's,
// lets user in with password.
func basicLogin(t *testing.T, hash, user, password string) bool {
	t.Helper()
	f, ok := chain.Lookup(chain.RoleAuthentication, "basic")
	if !ok {
		t.Fatal("no basic provider")
	}
	h, err := f.New(context.Background(), chain.Config{Topology: "t", Provider: f.Name, Role: f.Role,
		Params: chain.Params{"user.alice": hash}})
	if err != nil {
		t.Fatalf("basic provider refuses the hash: %v", err)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(user, password)
	return h.(chain.Authenticator).Authenticate(r).Verdict == chain.Authenticated
}

func TestVersionFlag(t *testing.T) {
	e := &testEnv{dir: t.TempDir(), home: t.TempDir()}
	r := e.runWith(t, runOpts{noConf: true}, "--version")
	if r.code != 0 || r.stdout != "gatewayctl "+clientVersion()+"\n" {
		t.Fatalf("got %d %q %q", r.code, r.stdout, r.stderr)
	}
}
