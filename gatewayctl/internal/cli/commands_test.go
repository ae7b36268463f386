package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

// TestOtherCommandOutputs covers the commands beyond topologies against the
// fake, one golden file per output.
func TestOtherCommandOutputs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, fakeOptions{})
	policy := writeFile(t, e.dir, "etl.yaml", []byte(`name: etl
allowed_callers: [svc-etl]
allowed_subjects: ["*"]
allowed_subject_groups: [analysts]
group_source: corp
default_ttl: 1h
max_ttl: 12h
max_lifetime: 7d
audiences: [hive]
algorithm: ES256
`))
	ca := writeFile(t, e.dir, "ca.pem", append(getPKI(t).ca.PEM, getPKI(t).otherCA.PEM...))
	steps := []struct {
		golden string
		args   []string
	}{
		{"audit_list.table", []string{"audit", "list"}},
		{"audit_list_filtered.table", []string{"audit", "list", "--principal", "admin", "--target", "topology/", "--limit", "1"}},
		{"groups.table", []string{"groups", "alice", "--topology", "sandbox"}},
		{"groups.json", []string{"groups", "alice", "--topology", "sandbox", "-o", "json"}},
		{"token_policy_put.table", []string{"token-policy", "put", policy}},
		{"token_policy_get.table", []string{"token-policy", "get", "etl"}},
		{"token_policy_get.yaml", []string{"token-policy", "get", "etl", "-o", "yaml"}},
		{"cert_create.table", []string{"cert", "create", "--hostname", "gw.example.com", "--hostname", "10.0.0.5", "--validity", "825d", "--force"}},
		{"truststore_add.table", []string{"truststore", "add", "backends", ca}},
		{"truststore_list.table", []string{"truststore", "list"}},
		{"version_client.yaml", []string{"version", "--client", "-o", "yaml"}},
	}
	for _, s := range steps {
		r := e.run(t, s.args...)
		mustSucceed(t, r)
		golden(t, s.golden, strings.ReplaceAll(r.stdout, clientVersion(), "VERSION"))
	}

	// A new identity that does not name the host gatewayctl verifies
	// gatewayd as would lock this gatewayctl out: refused, nothing sent.
	before := len(e.g.received("PKIService/CreateCertificate"))
	r0 := e.run(t, "cert", "create", "--hostname", "gw.example.com")
	if r0.code != 1 || !strings.Contains(r0.stderr, `would not name "127.0.0.1"`) || !strings.Contains(r0.stderr, "--force") {
		t.Fatalf("cert create without the server's name: exit %d, %q", r0.code, r0.stderr)
	}
	if len(e.g.received("PKIService/CreateCertificate")) != before {
		t.Fatal("the refused cert create reached the server")
	}

	// The policy file round-trips: get -o yaml is what put reads.
	r := e.run(t, "token-policy", "get", "etl", "-o", "yaml")
	again := writeFile(t, e.dir, "etl-again.yaml", []byte(r.stdout))
	mustSucceed(t, e.run(t, "token-policy", "put", again))
	puts := e.g.received("TokenPolicyService/PutTokenPolicy")
	if len(puts) != 2 {
		t.Fatalf("got %d puts, want 2", len(puts))
	}
	first, second := puts[0].(*gatewayv1.PutTokenPolicyRequest).GetPolicy(), puts[1].(*gatewayv1.PutTokenPolicyRequest).GetPolicy()
	if first.String() != second.String() {
		t.Errorf("policy changed through get -o yaml:\n%v\n%v", first, second)
	}
	if d := first.GetMaxLifetime().AsDuration(); d != 7*24*time.Hour {
		t.Errorf("max_lifetime = %v, want 168h", d)
	}

	// cert create sends 825 days.
	creates := e.g.received("PKIService/CreateCertificate")
	if req := creates[0].(*gatewayv1.CreateCertificateRequest); req.GetValidity().AsDuration() != 825*24*time.Hour ||
		req.GetKey().GetType() != gatewayv1.KeyType_KEY_TYPE_ECDSA || len(req.GetHostnames()) != 2 {
		t.Errorf("CreateCertificate request = %v", req)
	}

	// cert export prints the PEM itself.
	r = e.run(t, "cert", "export")
	mustSucceed(t, r)
	if r.stdout != string(getPKI(t).server.CertPEM) {
		t.Errorf("cert export printed %q", r.stdout)
	}
}

// TestTokenIssue checks that only the token goes to stdout, so that
// TOKEN=$(gatewayctl token issue) works, and what is sent.
func TestTokenIssue(t *testing.T) {
	t.Parallel()
	e := newEnv(t, fakeOptions{})
	r := e.run(t, "token", "issue", "--policy", "etl", "--on-behalf-of", "alice", "--ttl", "1d2h", "--audience", "hive", "--audience", "webhdfs")
	mustSucceed(t, r)
	if r.stdout != "eyJhbGciOiJFUzI1NiJ9.e30.c2ln\n" {
		t.Errorf("stdout = %q, want the token alone", r.stdout)
	}
	if want := "issued token tok-1 for alice (policy etl), expires 2026-01-03T05:04:05Z\n"; r.stderr != want {
		t.Errorf("stderr = %q, want %q", r.stderr, want)
	}
	req := e.g.received("TokenService/IssueToken")[0].(*gatewayv1.IssueTokenRequest)
	if req.GetTtl().AsDuration() != 26*time.Hour || req.GetOnBehalfOf() != "alice" || strings.Join(req.GetAudiences(), ",") != "hive,webhdfs" {
		t.Errorf("IssueToken request = %v", req)
	}
	// Without --ttl no TTL is sent: the policy decides.
	mustSucceed(t, e.run(t, "token", "issue"))
	if req := e.g.received("TokenService/IssueToken")[1].(*gatewayv1.IssueTokenRequest); req.Ttl != nil {
		t.Errorf("ttl sent without --ttl: %v", req.Ttl)
	}
}

// TestCompletion checks the shell scripts and the dynamic completion of
// topology names from the live server.
func TestCompletion(t *testing.T) {
	t.Parallel()
	e := newDeployedEnv(t)
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		r := e.run(t, "completion", shell)
		mustSucceed(t, r)
		if !strings.Contains(r.stdout, "gatewayctl") || len(r.stdout) < 500 {
			t.Errorf("completion %s printed %d bytes", shell, len(r.stdout))
		}
	}
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"topology", "get", ""}, []string{"analytics", "sandbox"}},
		{[]string{"topology", "delete", "s"}, []string{"sandbox"}},
		{[]string{"topology", "history", ""}, []string{"analytics", "sandbox"}},
		{[]string{"topology", "rollback", "an"}, []string{"analytics"}},
		{[]string{"topology", "get", "sandbox", ""}, nil}, // one name only
		{[]string{"groups", "alice", "--topology", ""}, []string{"analytics", "sandbox"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := e.run(t, append([]string{cobra.ShellCompRequestCmd}, tt.args...)...)
			mustSucceed(t, r)
			lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
			got, directive := lines[:len(lines)-1], lines[len(lines)-1]
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("completions = %q, want %q", got, tt.want)
			}
			if directive != ":4" { // ShellCompDirectiveNoFileComp
				t.Errorf("directive = %q, want :4", directive)
			}
		})
	}
}

// TestEveryCommandHasHelpAndExample walks the command tree.
func TestEveryCommandHasHelpAndExample(t *testing.T) {
	t.Parallel()
	root := newRootCommand(newFactory(IOStreams{}, func(string) string { return "" }))
	var walk func(c *cobra.Command)
	count := 0
	walk = func(c *cobra.Command) {
		count++
		if c.Short == "" {
			t.Errorf("%s has no Short", c.CommandPath())
		}
		if c.Example == "" {
			t.Errorf("%s has no Example", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if count < 40 {
		t.Errorf("walked %d commands, expected the whole tree", count)
	}

	e := &testEnv{config: "/nonexistent.yaml", home: t.TempDir()}
	r := e.run(t, "topology", "deploy", "--help")
	mustSucceed(t, r)
	if !strings.Contains(r.stdout, "Examples:\n  # Preview, then deploy") {
		t.Errorf("--help shows no example:\n%s", r.stdout)
	}

	// An unset duration flag's help says what unset means, once.
	for _, args := range [][]string{{"token", "issue", "--help"}, {"token", "renew", "--help"}} {
		r := e.run(t, args...)
		mustSucceed(t, r)
		if !strings.Contains(r.stdout, "(default: the policy's)\n") || strings.Contains(r.stdout, "(default 0") {
			t.Errorf("%v: --ttl's default is not shown as the policy's alone:\n%s", args, r.stdout)
		}
	}
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"825d", 825 * 24 * time.Hour, false},
		{"1d12h", 36 * time.Hour, false},
		{"0d", 0, false},
		{"90s", 90 * time.Second, false},
		{"1h30m", 90 * time.Minute, false},
		{"1.5d", 0, true},
		{"d", 0, true},
		{"7dd", 0, true},
		{"1d-2h", 0, true},
		{"99999999999d", 0, true},
		{"soon", 0, true},
	}
	for _, tt := range tests {
		got, err := parseDuration(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
	for _, d := range []time.Duration{0, 90 * time.Second, time.Hour, 90 * time.Minute, 24 * time.Hour, 825 * 24 * time.Hour, 36 * time.Hour, 24*time.Hour + time.Second} {
		if s := formatDuration(d); strings.Contains(s, "m0s") || strings.Contains(s, "h0m") {
			t.Errorf("formatDuration(%v) = %q, not short", d, s)
		}
		back, err := parseDuration(formatDuration(d))
		if err != nil || back != d {
			t.Errorf("formatDuration(%v) = %q does not parse back: %v, %v", d, formatDuration(d), back, err)
		}
	}
}

func TestJSONToYAML(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{`{"b":"5","a":true,"c":[1,"x"]}`, "b: \"5\"\na: true\nc:\n  - 1\n  - x\n"},
		{`{"pem":"line1\nline2\n"}`, "pem: |\n  line1\n  line2\n"},
		{`{"empty":{},"none":[]}`, "empty: {}\nnone: []\n"},
		{`{"s":"yes","t":"2026-01-02T03:04:05Z"}`, "s: \"yes\"\nt: \"2026-01-02T03:04:05Z\"\n"},
	}
	for _, tt := range tests {
		got, err := jsonToYAML([]byte(tt.in))
		if err != nil || string(got) != tt.want {
			t.Errorf("jsonToYAML(%s) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	e := newEnv(t, fakeOptions{})
	r := e.run(t, "version")
	mustSucceed(t, r)
	if want := "Client:  " + clientVersion() + "\nServer:  v0.1.0-test\n"; r.stdout != want {
		t.Errorf("stdout = %q, want %q", r.stdout, want)
	}
	// --client never needs a server or a config.
	offline := &testEnv{config: "/nonexistent.yaml", home: t.TempDir()}
	r = offline.run(t, "version", "--client")
	mustSucceed(t, r)
	if want := "Client:  " + clientVersion() + "\n"; r.stdout != want {
		t.Errorf("stdout = %q, want %q", r.stdout, want)
	}
}

// TestStatusWithoutWhoAmI: an older server without WhoAmI still gives a
// status, without the caller lines.
func TestStatusWithoutWhoAmI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, fakeOptions{})
	e.g.fail("StatusService/WhoAmI", status.Error(codes.Unimplemented, "method WhoAmI not implemented"))
	r := e.run(t, "status")
	mustSucceed(t, r)
	if !strings.Contains(r.stdout, "Version:") || strings.Contains(r.stdout, "Principal:") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	e.g.fail("StatusService/WhoAmI", status.Error(codes.PermissionDenied, "no"))
	if r := e.run(t, "status"); r.code != 1 {
		t.Errorf("other WhoAmI errors must fail status; code %d", r.code)
	}
}
