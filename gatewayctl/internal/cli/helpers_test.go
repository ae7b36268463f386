package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/securegw/gateway/internal/testpki"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// testEnv is a fake gatewayd and a config file pointing at it.
type testEnv struct {
	g      *fakeGateway
	dir    string
	config string
	home   string
}

func newEnv(t *testing.T, opts fakeOptions) *testEnv {
	t.Helper()
	g := startFake(t, opts)
	e := &testEnv{g: g, dir: t.TempDir(), home: t.TempDir()}
	e.config = e.writeConfig(t, "config.yaml", getPKI(t).ca.PEM, getPKI(t).client, g.addr, "")
	return e
}

// writeConfig writes a config file, with certificates by relative path,
// and returns its path.
func (e *testEnv) writeConfig(t *testing.T, name string, caPEM []byte, client *testpki.Leaf, server, extra string) string {
	t.Helper()
	dir := filepath.Join(e.dir, strings.TrimSuffix(name, ".yaml"))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "ca.pem", caPEM)
	writeFile(t, dir, "admin.pem", client.CertPEM)
	writeFile(t, dir, "admin-key.pem", client.KeyPEM)
	cfg := fmt.Sprintf("server: %s\nca: ca.pem\ncert: admin.pem\nkey: admin-key.pem\n%s", server, extra)
	return writeFile(t, dir, name, []byte(cfg))
}

// result is what a gatewayctl run printed and returned.
type result struct {
	stdout, stderr string
	code           int
}

// fakeTerminal plays a terminal: answers are returned by ReadPassword in
// order; stdinTTY and stdoutTTY choose which streams are terminals.
type fakeTerminal struct {
	stdin, stdout any
	stdinTTY      bool
	stdoutTTY     bool
	answers       []string
	prompts       int
}

func (ft *fakeTerminal) IsTerminal(s any) bool {
	return (s == ft.stdin && ft.stdinTTY) || (s == ft.stdout && ft.stdoutTTY)
}

func (ft *fakeTerminal) ReadPassword(any) ([]byte, error) {
	if ft.prompts >= len(ft.answers) {
		return nil, errors.New("no more input")
	}
	ft.prompts++
	return []byte(ft.answers[ft.prompts-1]), nil
}

// runOpts tunes a run.
type runOpts struct {
	stdin  string
	term   *fakeTerminal
	noConf bool // do not add --config
	env    map[string]string
}

// run runs gatewayctl with args against the env's config.
func (e *testEnv) run(t *testing.T, args ...string) result {
	t.Helper()
	return e.runWith(t, runOpts{}, args...)
}

func (e *testEnv) runWith(t *testing.T, o runOpts, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	stdin := strings.NewReader(o.stdin)
	getenv := func(k string) string {
		if v, ok := o.env[k]; ok {
			return v
		}
		if k == "HOME" {
			return e.home
		}
		return ""
	}
	f := newFactory(IOStreams{In: stdin, Out: &stdout, ErrOut: &stderr}, getenv)
	term := o.term
	if term == nil {
		term = &fakeTerminal{}
	}
	term.stdin, term.stdout = stdin, &stdout
	f.term = term
	if !o.noConf {
		args = append([]string{"--config", e.config}, args...)
	}
	code := run(context.Background(), args, f)
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// golden compares got with testdata/name.golden, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// mustSucceed fails the test unless r exited 0.
func mustSucceed(t *testing.T, r result) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit code %d, stderr:\n%s", r.code, r.stderr)
	}
}

// sandboxYAML is a topology document used across tests.
const sandboxYAML = `name: sandbox
description: Demo cluster
providers:
  - role: authentication
    name: anonymous
  - role: identity-assertion
    name: default
services:
  - role: WEBHDFS
    path: webhdfs/v1
    urls: [https://nn1.example:9871]
  - role: HIVE
    path: hive
    urls: [http://hive.example:10001/cliservice]
`

// sandboxV2YAML changes hive's URL, removes webhdfs and adds yarn.
const sandboxV2YAML = `name: sandbox
description: Demo cluster
providers:
  - role: authentication
    name: anonymous
  - role: identity-assertion
    name: default
services:
  - role: HIVE
    path: hive
    urls: [http://hive2.example:10001/cliservice]
  - role: YARN
    path: yarn
    urls: [http://rm.example:8088/ws]
`

// deploy deploys a document through the CLI and fails the test on error.
func (e *testEnv) deploy(t *testing.T, name, doc string) {
	t.Helper()
	p := writeFile(t, e.dir, name, []byte(doc))
	mustSucceed(t, e.run(t, "topology", "deploy", p))
}
