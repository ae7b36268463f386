package cli

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

// TestAliasCreateValueSources checks where the value comes from, what the
// server receives, and that the value is never printed.
func TestAliasCreateValueSources(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-Value"
	tests := []struct {
		name       string
		opts       runOpts
		args       []string
		wantValue  string // what the server must receive; "" with wantCode 1: no call
		wantGen    int32
		wantCode   int
		wantStdout string
		wantStderr string // substring
	}{
		{
			name:       "stdin with trailing newline",
			opts:       runOpts{stdin: secret + "\n"},
			args:       []string{"alias", "create", "ldap"},
			wantValue:  secret,
			wantStdout: "alias \"ldap\" created (gateway scope)\n",
		},
		{
			name:       "stdin keeps inner newlines and spaces",
			opts:       runOpts{stdin: " a\nb \r\n"},
			args:       []string{"alias", "create", "pem", "--topology", "sandbox"},
			wantValue:  " a\nb ",
			wantStdout: "alias \"pem\" created (topology \"sandbox\")\n",
		},
		{
			name:       "json output",
			opts:       runOpts{stdin: secret},
			args:       []string{"alias", "create", "ldap", "-o", "json"},
			wantValue:  secret,
			wantStdout: "{\n  \"alias\": {\n    \"name\": \"ldap\",\n    \"created_at\": \"2026-01-02T03:04:05Z\",\n    \"updated_at\": \"2026-01-02T03:04:05Z\",\n    \"kdf\": \"argon2id(m=65536,t=3,p=2)\",\n    \"cipher\": \"aes-256-gcm\",\n    \"key_id\": \"k1\"\n  }\n}\n",
		},
		{
			name:       "prompt on a terminal, asked twice",
			opts:       runOpts{term: &fakeTerminal{stdinTTY: true, answers: []string{secret, secret}}},
			args:       []string{"alias", "create", "ldap"},
			wantValue:  secret,
			wantStdout: "alias \"ldap\" created (gateway scope)\n",
			wantStderr: "Enter value of alias \"ldap\": \nConfirm value of alias \"ldap\": \n",
		},
		{
			name:       "prompt entries differ",
			opts:       runOpts{term: &fakeTerminal{stdinTTY: true, answers: []string{secret, secret + "x"}}},
			args:       []string{"alias", "create", "ldap"},
			wantCode:   1,
			wantStderr: "error: alias \"ldap\": the two entries differ\n",
		},
		{
			name:       "empty stdin refused",
			opts:       runOpts{stdin: "\n"},
			args:       []string{"alias", "create", "ldap"},
			wantCode:   1,
			wantStderr: "error: alias \"ldap\": refusing an empty value\n",
		},
		{
			name:       "empty prompt refused",
			opts:       runOpts{term: &fakeTerminal{stdinTTY: true, answers: []string{""}}},
			args:       []string{"alias", "create", "ldap"},
			wantCode:   1,
			wantStderr: "error: alias \"ldap\": refusing an empty value\n",
		},
		{
			name:       "empty --value refused",
			args:       []string{"alias", "create", "ldap", "--value", ""},
			wantCode:   2,
			wantStderr: "error: refusing an empty value\n",
		},
		{
			name:       "--value warns",
			args:       []string{"alias", "create", "ldap", "--value", secret},
			wantValue:  secret,
			wantStdout: "alias \"ldap\" created (gateway scope)\n",
			wantStderr: "warning: a value given with --value is visible to other users of this machine",
		},
		{
			name:       "--generate",
			opts:       runOpts{stdin: "ignored"},
			args:       []string{"alias", "create", "hmac", "--generate", "--length", "48"},
			wantGen:    48,
			wantStdout: "alias \"hmac\" created (gateway scope)\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, fakeOptions{})
			r := e.runWith(t, tt.opts, tt.args...)
			if r.code != tt.wantCode {
				t.Fatalf("exit code = %d, want %d; stderr:\n%s", r.code, tt.wantCode, r.stderr)
			}
			if r.stdout != tt.wantStdout {
				t.Errorf("stdout = %q, want %q", r.stdout, tt.wantStdout)
			}
			if !strings.Contains(r.stderr, tt.wantStderr) {
				t.Errorf("stderr = %q, want it to contain %q", r.stderr, tt.wantStderr)
			}
			for _, leak := range []string{secret, base64.StdEncoding.EncodeToString([]byte(secret))} {
				if strings.Contains(r.stdout+r.stderr, leak) {
					t.Errorf("the secret leaked into the output: %q / %q", r.stdout, r.stderr)
				}
			}
			reqs := e.g.received("AliasService/CreateAlias")
			if tt.wantCode != 0 {
				if len(reqs) != 0 {
					t.Errorf("a failed create still called the server")
				}
				return
			}
			if len(reqs) != 1 {
				t.Fatalf("server got %d CreateAlias calls, want 1", len(reqs))
			}
			req := reqs[0].(*gatewayv1.CreateAliasRequest)
			if string(req.GetValue()) != tt.wantValue || req.GetGenerateLength() != tt.wantGen {
				t.Errorf("server got value %q generate %d, want %q %d", req.GetValue(), req.GetGenerateLength(), tt.wantValue, tt.wantGen)
			}
		})
	}
}

func TestAliasListGetReveal(t *testing.T) {
	t.Parallel()
	e := newEnv(t, fakeOptions{})
	for _, a := range [][]string{{"zeta"}, {"alpha"}, {"ldap", "--topology", "sandbox"}} {
		mustSucceed(t, e.runWith(t, runOpts{stdin: "value-of-" + a[0]}, append([]string{"alias", "create"}, a...)...))
	}
	tests := []struct {
		golden string
		args   []string
	}{
		{"alias_list.table", []string{"alias", "list"}},
		{"alias_list_all.table", []string{"alias", "list", "--all"}},
		{"alias_list_all.yaml", []string{"alias", "list", "--all", "-o", "yaml"}},
		{"alias_get.table", []string{"alias", "get", "ldap", "--topology", "sandbox"}},
	}
	for _, tt := range tests {
		r := e.run(t, tt.args...)
		mustSucceed(t, r)
		if strings.Contains(r.stdout, "value-of-") {
			t.Errorf("%v printed a value:\n%s", tt.args, r.stdout)
		}
		golden(t, tt.golden, r.stdout)
	}

	// --reveal prints exactly the value; a newline only on a terminal.
	r := e.run(t, "alias", "get", "ldap", "--topology", "sandbox", "--reveal")
	mustSucceed(t, r)
	if r.stdout != "value-of-ldap" {
		t.Errorf("reveal printed %q", r.stdout)
	}
	r = e.runWith(t, runOpts{term: &fakeTerminal{stdoutTTY: true}}, "alias", "get", "alpha", "--reveal")
	mustSucceed(t, r)
	if r.stdout != "value-of-alpha\n" {
		t.Errorf("reveal on a terminal printed %q", r.stdout)
	}

	r = e.run(t, "alias", "get", "ldap")
	if r.code != 1 || r.stderr != "error: alias \"ldap\" not found (gateway scope)\n" {
		t.Errorf("get in the wrong scope: code %d, stderr %q", r.code, r.stderr)
	}
}

func TestMasterRotate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, fakeOptions{})
	cur := writeFile(t, e.dir, "current.txt", []byte("old-master\n"))
	next := writeFile(t, e.dir, "new.txt", []byte("new-master\n"))
	empty := writeFile(t, e.dir, "empty.txt", []byte("\n"))
	tests := []struct {
		name       string
		opts       runOpts
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
		wantCur    string
		wantNew    string
		wantNewKey bool
	}{
		{name: "files", args: []string{"--current-secret-file", cur, "--new-secret-file", next},
			wantStdout: "master secret rotated (the data key is re-wrapped; gateways started from now on need the new secret)\n", wantCur: "old-master", wantNew: "new-master"},
		{name: "new data key", args: []string{"--current-secret-file", cur, "--new-secret-file", next, "--new-data-key"},
			wantStdout: "master secret and data key rotated: 0 secrets re-encrypted\n", wantCur: "old-master", wantNew: "new-master", wantNewKey: true},
		{name: "new from stdin", opts: runOpts{stdin: "piped-master\n"}, args: []string{"--current-secret-file", cur, "--new-secret-file", "-"},
			wantStdout: "master secret rotated (the data key is re-wrapped; gateways started from now on need the new secret)\n", wantCur: "old-master", wantNew: "piped-master"},
		{name: "prompts", opts: runOpts{term: &fakeTerminal{stdinTTY: true, answers: []string{"old-master", "typed-master", "typed-master"}}},
			wantStdout: "master secret rotated (the data key is re-wrapped; gateways started from now on need the new secret)\n", wantCur: "old-master", wantNew: "typed-master",
			wantStderr: "Enter current master secret: \nEnter new master secret: \nConfirm new master secret: \n"},
		{name: "no terminal, no files", opts: runOpts{stdin: "x"}, wantCode: 2,
			wantStderr: "error: --current-secret-file is required when standard input is not a terminal\n"},
		{name: "both from stdin", args: []string{"--current-secret-file", "-", "--new-secret-file", "-"}, wantCode: 2,
			wantStderr: "error: only one of --new-secret-file and --current-secret-file can be \"-\"\n"},
		{name: "same secret", args: []string{"--current-secret-file", cur, "--new-secret-file", cur}, wantCode: 1,
			wantStderr: "error: the new master secret equals the current one\n"},
		{name: "empty file", args: []string{"--current-secret-file", cur, "--new-secret-file", empty}, wantCode: 1,
			wantStderr: "error: new master secret: " + empty + ": refusing an empty value\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.g.received("AliasService/RotateMaster"))
			r := e.runWith(t, tt.opts, append([]string{"master", "rotate"}, tt.args...)...)
			if r.code != tt.wantCode {
				t.Fatalf("exit code = %d, want %d; stderr:\n%s", r.code, tt.wantCode, r.stderr)
			}
			if r.stdout != tt.wantStdout {
				t.Errorf("stdout = %q, want %q", r.stdout, tt.wantStdout)
			}
			if !strings.HasPrefix(r.stderr, tt.wantStderr) {
				t.Errorf("stderr = %q, want it to start with %q", r.stderr, tt.wantStderr)
			}
			for _, s := range []string{"old-master", "new-master", "typed-master", "piped-master"} {
				if strings.Contains(r.stdout+r.stderr, s) {
					t.Errorf("a secret leaked into the output")
				}
			}
			reqs := e.g.received("AliasService/RotateMaster")
			if tt.wantCode != 0 {
				if len(reqs) != before {
					t.Errorf("a failed rotate still called the server")
				}
				return
			}
			req := reqs[len(reqs)-1].(*gatewayv1.RotateMasterRequest)
			if req.GetNewDataKey() != tt.wantNewKey {
				t.Errorf("server got new_data_key %v, want %v", req.GetNewDataKey(), tt.wantNewKey)
			}
			if string(req.GetCurrentSecret()) != tt.wantCur || string(req.GetNewSecret()) != tt.wantNew {
				t.Errorf("server got current %q new %q", req.GetCurrentSecret(), req.GetNewSecret())
			}
		})
	}
}

// TestSecretNotAskedWithBrokenConfig checks that a config error comes
// before the prompt, not after the user typed the secret twice.
func TestSecretNotAskedWithBrokenConfig(t *testing.T) {
	t.Parallel()
	e := &testEnv{config: "/nonexistent/config.yaml", home: t.TempDir()}
	for _, args := range [][]string{{"alias", "create", "ldap"}, {"master", "rotate"}} {
		term := &fakeTerminal{stdinTTY: true, answers: []string{"a", "b", "b"}}
		r := e.runWith(t, runOpts{term: term}, args...)
		if r.code != 1 || !strings.HasPrefix(r.stderr, "error: config file /nonexistent/config.yaml does not exist") {
			t.Errorf("%v: code %d, stderr %q", args, r.code, r.stderr)
		}
		if term.prompts != 0 {
			t.Errorf("%v prompted %d times before failing on the config", args, term.prompts)
		}
	}
}

// TestAliasCreateFromFile checks that --from-file stores a file's bytes
// exactly (a keytab: binary, NULs, a trailing newline kept) and refuses
// what it cannot store, without calling the server.
func TestAliasCreateFromFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	binary := make([]byte, 0, 300)
	for i := range 256 {
		binary = append(binary, byte(i))
	}
	binary = append(binary, "\r\n"...)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keytab := write("http.keytab", binary)
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"binary, byte for byte", []string{"alias", "create", "http-keytab", "--from-file", keytab}, 0, ""},
		{"missing file", []string{"alias", "create", "k", "--from-file", filepath.Join(dir, "nope")}, 1, "no such file"},
		{"empty file", []string{"alias", "create", "k", "--from-file", write("empty", nil)}, 1, "refusing an empty value"},
		{"too large", []string{"alias", "create", "k", "--from-file", write("big", make([]byte, 64<<10+1))}, 1, "larger than 65536 bytes"},
		{"with --value", []string{"alias", "create", "k", "--from-file", keytab, "--value", "x"}, 2, "--from-file cannot be used with --generate or --value"},
		{"with --generate", []string{"alias", "create", "k", "--from-file", keytab, "--generate"}, 2, "--from-file cannot be used"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, fakeOptions{})
			r := e.runWith(t, runOpts{stdin: "not this"}, tt.args...)
			if r.code != tt.wantCode || !strings.Contains(r.stderr, tt.wantStderr) {
				t.Fatalf("exit %d, stderr %q; want %d, %q", r.code, r.stderr, tt.wantCode, tt.wantStderr)
			}
			reqs := e.g.received("AliasService/CreateAlias")
			if tt.wantCode != 0 {
				if len(reqs) != 0 {
					t.Fatal("a failed create still called the server")
				}
				return
			}
			if len(reqs) != 1 || !bytes.Equal(reqs[0].(*gatewayv1.CreateAliasRequest).GetValue(), binary) {
				t.Fatalf("the server did not get the file's bytes")
			}
			if strings.Contains(r.stdout+r.stderr, string(binary[32:64])) {
				t.Fatal("the value was printed")
			}
		})
	}
}
