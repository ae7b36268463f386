package cli

import (
	"path/filepath"
	"strings"
	"testing"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

// invalidYAML has three problems on known lines.
const invalidYAML = `name: sandbox
services:
  - path: webhdfs/v1
    urls: [ftp://nn1.example:9871]
  - path: hive
    urls: []
  - path: hive
    urls: [http://hive.example:10001]
providers: [{role: authentication, name: anonymous}]
`

// TestValidateOffline runs validate with no config file and --server at a
// closed port: it can only succeed if it never contacts a server.
func TestValidateOffline(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	valid := writeFile(t, dir, "sandbox.yaml", []byte(sandboxYAML))
	invalid := writeFile(t, dir, "broken.yaml", []byte(invalidYAML))
	unknown := writeFile(t, dir, "typo.yaml", []byte("name: sandbox\nservices:\n  - path: hive\n    url: [http://x]\n"))
	warn := writeFile(t, dir, "insecure.yaml", []byte("name: sandbox\nproviders: [{role: authentication, name: anonymous}]\nservices:\n  - path: hive\n    urls: [https://hive.example]\n    dispatch:\n      insecure_skip_verify: true\n"))
	e := &testEnv{config: filepath.Join(dir, "no-such-config.yaml"), home: t.TempDir()}
	offline := []string{"--server", closedAddr(t)}

	tests := []struct {
		name       string
		stdin      string
		args       []string
		wantCode   int
		goldenOut  string
		goldenErr  string
		errContain string
	}{
		{name: "valid", args: []string{"topology", "validate", valid}, goldenOut: "validate_valid.table"},
		{name: "valid json", args: []string{"topology", "validate", valid, "-o", "json"}, goldenOut: "validate_valid.json"},
		{name: "valid from stdin", stdin: sandboxYAML, args: []string{"topology", "validate", "-"}, goldenOut: "validate_stdin.table"},
		{name: "invalid", args: []string{"topology", "validate", invalid}, wantCode: 1, goldenErr: "validate_invalid.stderr"},
		{name: "unknown field", args: []string{"topology", "validate", unknown}, wantCode: 1, errContain: `unknown field "url"`},
		{name: "warnings", args: []string{"topology", "validate", warn}, goldenErr: "validate_warnings.stderr"},
		{name: "missing file", args: []string{"topology", "validate", filepath.Join(dir, "nope.yaml")}, wantCode: 1, errContain: "no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := e.runWith(t, runOpts{stdin: tt.stdin}, append(offline, tt.args...)...)
			if r.code != tt.wantCode {
				t.Fatalf("exit code = %d, want %d; stderr:\n%s", r.code, tt.wantCode, r.stderr)
			}
			if tt.goldenOut != "" {
				golden(t, tt.goldenOut, r.stdout)
			}
			if tt.goldenErr != "" {
				golden(t, tt.goldenErr, r.stderr)
			}
			if tt.errContain != "" && !strings.Contains(r.stderr, tt.errContain) {
				t.Errorf("stderr %q does not contain %q", r.stderr, tt.errContain)
			}
			if tt.wantCode != 0 && r.stdout != "" {
				t.Errorf("stdout = %q, want nothing on failure", r.stdout)
			}
		})
	}
}

// TestValidateInvalidLinesNumbered pins the essentials of the golden file:
// every problem on its own line, with its field and line number.
func TestValidateInvalidLinesNumbered(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	invalid := writeFile(t, dir, "broken.yaml", []byte(invalidYAML))
	e := &testEnv{config: filepath.Join(dir, "none.yaml"), home: t.TempDir()}
	r := e.run(t, "topology", "validate", invalid)
	for _, want := range []string{"services[0].urls[0] (line 3)", "services[1].urls (line 5)", "services[2].path (line 7)"} {
		if !strings.Contains(r.stderr, "\n  "+want) {
			t.Errorf("stderr does not list %q on its own line:\n%s", want, r.stderr)
		}
	}
}

func TestValidateServerSide(t *testing.T) {
	t.Parallel()
	e := newEnv(t, fakeOptions{})
	p := writeFile(t, e.dir, "sandbox.xml.yaml", []byte(sandboxYAML))
	r := e.run(t, "topology", "validate", p, "--server-side", "--name", "renamed")
	mustSucceed(t, r)
	if want := "sandbox.xml.yaml: topology \"renamed\" is valid on the server (2 providers, 2 services)\n"; r.stdout != want {
		t.Errorf("stdout = %q, want %q", r.stdout, want)
	}
	reqs := e.g.received("TopologyService/Validate")
	if len(reqs) != 1 {
		t.Fatalf("server got %d Validate calls, want 1", len(reqs))
	}
	if req := reqs[0].(*gatewayv1.ValidateRequest); req.GetName() != "renamed" || req.GetSourceName() != "sandbox.xml.yaml" || string(req.GetDocument()) != sandboxYAML {
		t.Errorf("request = %v", req)
	}

	bad := writeFile(t, e.dir, "broken.yaml", []byte(invalidYAML))
	r = e.run(t, "topology", "validate", bad, "--server-side")
	if r.code != 1 || !strings.Contains(r.stderr, "\n  services[2].path (line 7)") {
		t.Errorf("server-side invalid: code %d, stderr:\n%s", r.code, r.stderr)
	}
}

// Offline validation says what only the server can check, naming it, and
// refuses a provider the server cannot build (issue 9 item 6).
func TestValidateOfflineSaysWhatItCouldNotCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	doc := writeFile(t, dir, "ldap.yaml", []byte(`name: corp
providers:
  - role: authentication
    name: ldap
    params: {url: "ldaps://ldap.example", bind_password: "${alias:ldap-bind}"}
services:
  - path: hive
    urls: [https://hive.example]
    dispatch: {truststore: corp-ca}
`))
	knox := writeFile(t, dir, "hadoop.xml", []byte(`<topology><gateway>
<provider><role>federation</role><name>Pac4j</name><enabled>true</enabled></provider>
<provider><role>hostmap</role><name>static</name><enabled>true</enabled><param><name>gw</name><value>node1</value></param></provider>
</gateway><service><role>WEBHDFS</role><url>http://node1:9870/webhdfs</url></service></topology>`))
	e := &testEnv{config: filepath.Join(dir, "none.yaml"), home: t.TempDir()}
	r := e.run(t, "--server", closedAddr(t), "topology", "validate", doc)
	for _, want := range []string{
		"Not checked offline (gatewayd checks them at deploy; --server-side asks it now):",
		"  - aliases exist: ldap-bind\n",
		"  - truststores exist: corp-ca\n",
		"  - provider parameters are accepted by their provider: authentication/ldap\n",
	} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("exit %d, stdout %q, want %q (stderr %q)", r.code, r.stdout, want, r.stderr)
		}
	}
	r = e.run(t, "--server", closedAddr(t), "topology", "validate", knox)
	if r.code != 1 || !strings.Contains(r.stderr, `provider "pac4j" (role "federation") is not supported`) {
		t.Errorf("Pac4j: exit %d, stderr %q", r.code, r.stderr)
	}
}
