package cli

import (
	"net"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// closedAddr returns a 127.0.0.1 address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	if err := lis.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestErrorMapping checks, for each gRPC code, the one human error on
// stderr and the exit code. In want, ADDR stands for the server address;
// want is a regular expression matched against the whole of stderr.
func TestErrorMapping(t *testing.T) {
	t.Parallel()
	badRequest, err := status.New(codes.InvalidArgument, `topology "sandbox" is invalid`).WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: "services[0].urls[0]", Description: `scheme "ftp" not supported`},
			{Field: "providers[1].name", Description: "unknown provider"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		opts  fakeOptions
		setup func(e *testEnv, t *testing.T)
		args  []string
		want  string
	}{
		{
			name: "NotFound",
			args: []string{"topology", "get", "nope"},
			want: `error: topology "nope" not found\n`,
		},
		{
			name:  "FailedPrecondition",
			setup: func(e *testEnv, t *testing.T) { e.deploy(t, "s.yaml", sandboxYAML) },
			args:  []string{"topology", "delete", "sandbox", "--expect-revision", "7"},
			want:  `error: revision mismatch: topology "sandbox" is at revision 1, not 7\n`,
		},
		{
			name: "InvalidArgument with one problem per line",
			setup: func(e *testEnv, t *testing.T) {
				e.g.fail("TopologyService/Get", status.Error(codes.InvalidArgument,
					"topology \"sandbox\" is invalid:\nsandbox.yaml:7: services[0].urls[0]: scheme \"ftp\" not supported\nsandbox.yaml:9: services[1].path: duplicate \"hive\""))
			},
			args: []string{"topology", "get", "sandbox"},
			want: `error: topology "sandbox" is invalid:\n` +
				`  sandbox.yaml:7: services\[0\].urls\[0\]: scheme "ftp" not supported\n` +
				`  sandbox.yaml:9: services\[1\].path: duplicate "hive"\n`,
		},
		{
			name:  "InvalidArgument with BadRequest details",
			setup: func(e *testEnv, t *testing.T) { e.g.fail("TopologyService/Get", badRequest.Err()) },
			args:  []string{"topology", "get", "sandbox"},
			want: `error: topology "sandbox" is invalid\n` +
				`  services\[0\].urls\[0\]: scheme "ftp" not supported\n` +
				`  providers\[1\].name: unknown provider\n`,
		},
		{
			name: "PermissionDenied",
			setup: func(e *testEnv, t *testing.T) {
				e.g.fail("TopologyService/List", status.Error(codes.PermissionDenied, `principal "alice" needs role admin`))
			},
			args: []string{"topology", "list"},
			want: `error: permission denied: principal "alice" needs role admin\n`,
		},
		{
			name: "Unauthenticated",
			setup: func(e *testEnv, t *testing.T) {
				e.g.fail("StatusService/GetStatus", status.Error(codes.Unauthenticated, "client certificate revoked"))
			},
			args: []string{"status"},
			want: `error: unauthenticated: client certificate revoked \(check the client certificate in the config file\)\n`,
		},
		{
			name: "Unavailable from the server",
			setup: func(e *testEnv, t *testing.T) {
				e.g.fail("TopologyService/List", status.Error(codes.Unavailable, "shutting down"))
			},
			args: []string{"topology", "list"},
			want: `error: gatewayd at ADDR is unavailable: shutting down\n`,
		},
		{
			name: "Unimplemented service",
			opts: fakeOptions{withoutAliases: true},
			args: []string{"alias", "list"},
			want: `error: gatewayd at ADDR does not implement AliasService.ListAliases \(a newer gatewayd may\): unknown service gateway.v1.AliasService\n`,
		},
		{
			name: "Unimplemented method",
			args: []string{"token", "renew", "tok-1"},
			want: `error: gatewayd at ADDR does not implement TokenService.RenewToken \(a newer gatewayd may\)\n`,
		},
		{
			name:  "DeadlineExceeded",
			setup: func(e *testEnv, t *testing.T) { e.g.hang("TopologyService/List") },
			args:  []string{"topology", "list", "--timeout", "200ms"},
			want:  `error: gatewayd at ADDR did not answer TopologyService.List within 200ms \(raise --timeout to wait longer\)\n`,
		},
		{
			name: "Internal",
			setup: func(e *testEnv, t *testing.T) {
				e.g.fail("TopologyService/List", status.Error(codes.Internal, "bolt: database not open"))
			},
			args: []string{"topology", "list"},
			want: `error: gatewayd failed: bolt: database not open\n`,
		},
		{
			name: "AlreadyExists",
			setup: func(e *testEnv, t *testing.T) {
				mustSucceed(t, e.runWith(t, runOpts{stdin: "v"}, "alias", "create", "ldap"))
			},
			args: []string{"alias", "create", "ldap", "--generate"},
			want: `error: alias "ldap" already exists\n`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tt.opts)
			if tt.setup != nil {
				tt.setup(e, t)
			}
			r := e.run(t, tt.args...)
			t.Logf("stderr: %s", r.stderr)
			if r.code != 1 {
				t.Errorf("exit code = %d, want 1", r.code)
			}
			want := strings.ReplaceAll(tt.want, "ADDR", regexp.QuoteMeta(e.g.addr))
			if !regexp.MustCompile(`^` + want + `$`).MatchString(r.stderr) {
				t.Errorf("stderr = %q\nwant match of %q", r.stderr, want)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
		})
	}
}

// TestConnectionErrors checks the errors of a server that cannot be
// reached or cannot be trusted.
func TestConnectionErrors(t *testing.T) {
	t.Parallel()
	pki := getPKI(t)
	tests := []struct {
		name   string
		config func(e *testEnv, t *testing.T) (config, server string)
		want   string
	}{
		{
			name: "nothing listening",
			config: func(e *testEnv, t *testing.T) (string, string) {
				addr := closedAddr(t)
				return e.config, addr
			},
			want: `error: cannot reach gatewayd at SERVER: .*connection refused\n`,
		},
		{
			name: "unknown CA",
			config: func(e *testEnv, t *testing.T) (string, string) {
				return e.writeConfig(t, "wrong-ca.yaml", pki.otherCA.PEM, pki.client, e.g.addr, ""), e.g.addr
			},
			want: `error: TLS handshake with gatewayd at SERVER failed: tls: failed to verify certificate: x509: certificate signed by unknown authority \(is ca in the config file the CA that signed gatewayd's certificate\?\)\n`,
		},
		{
			name: "wrong server name",
			config: func(e *testEnv, t *testing.T) (string, string) {
				return e.writeConfig(t, "wrong-name.yaml", pki.ca.PEM, pki.client, e.g.addr, "server_name: other.test\n"), e.g.addr
			},
			want: `error: TLS handshake with gatewayd at SERVER failed: tls: failed to verify certificate: x509: certificate is valid for gatewayd.test, not other.test \(set server_name in the config file to a name in gatewayd's certificate\)\n`,
		},
		{
			name: "client certificate from another CA",
			config: func(e *testEnv, t *testing.T) (string, string) {
				return e.writeConfig(t, "wrong-client.yaml", pki.ca.PEM, pki.otherClient, e.g.addr, ""), e.g.addr
			},
			// Which of the two depends on when the server's alert arrives.
			want: `error: gatewayd at SERVER (rejected the TLS connection: remote error: tls: [a-z ]+ \(|closed the connection: .* \(did it reject the client certificate\? )check cert and key in the config file\)\n`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, fakeOptions{})
			cfg, server := tt.config(e, t)
			r := e.runWith(t, runOpts{noConf: true}, "--config", cfg, "--server", server, "topology", "list")
			t.Logf("stderr: %s", r.stderr)
			if r.code != 1 {
				t.Errorf("exit code = %d, want 1", r.code)
			}
			want := strings.ReplaceAll(tt.want, "SERVER", regexp.QuoteMeta(server))
			if !regexp.MustCompile(`^` + want + `$`).MatchString(r.stderr) {
				t.Errorf("stderr = %q\nwant match of %q", r.stderr, want)
			}
		})
	}
}

// TestServerNameFromConfig checks that server_name is what is verified.
func TestServerNameFromConfig(t *testing.T) {
	t.Parallel()
	e := newEnv(t, fakeOptions{})
	cfg := e.writeConfig(t, "named.yaml", getPKI(t).ca.PEM, getPKI(t).client, e.g.addr, "server_name: gatewayd.test\n")
	mustSucceed(t, e.runWith(t, runOpts{noConf: true}, "--config", cfg, "topology", "list"))
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, fakeOptions{})
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"bogus"}, `error: unknown command "bogus" for "gatewayctl"`},
		{[]string{"topology", "lst"}, `error: unknown command "lst" for "gatewayctl topology" (did you mean: get, list?)`},
		{[]string{"topology", "get"}, "error: missing NAME"},
		{[]string{"topology", "get", "a", "b"}, `error: too many arguments: want NAME, got ["a" "b"]`},
		{[]string{"status", "--bogus"}, "error: unknown flag: --bogus"},
		{[]string{"status", "-o", "xml"}, `error: invalid output format "xml": use table, json or yaml`},
		{[]string{"topology", "rollback", "sandbox"}, "error: --revision is required and must be positive"},
		{[]string{"topology", "deploy", "x.yaml", "--format", "toml"}, `error: invalid --format "toml": use yaml, json or xml`},
		{[]string{"topology", "deploy", "x.yaml", "--expect-revision", "-1"}, "error: --expect-revision must not be negative"},
		{[]string{"alias", "create", "x", "--generate", "--value", "v"}, "error: --generate and --value cannot be used together"},
		{[]string{"alias", "create", "x", "--length", "8"}, "error: --length needs --generate"},
		{[]string{"alias", "list", "--all", "--topology", "t"}, "error: --all and --topology cannot be used together"},
		{[]string{"groups", "alice"}, "error: --topology is required"},
		{[]string{"cert", "create"}, "error: at least one --hostname is required"},
		{[]string{"cert", "client", "ops"}, "error: --out-dir is required"},
		{[]string{"cert", "client", "a/b", "--out-dir", "x"}, `error: invalid principal name "a/b": 1-64 printable characters, no spaces or '/'`},
		{[]string{"cert", "client", "ops", "--out-dir", "x", "--validity", "soon"}, `error: invalid --validity: invalid duration "soon": use e.g. 90s, 12h or 825d`},
		{[]string{"token", "issue", "--ttl", "-1h"}, "error: --ttl must not be negative"},
		{[]string{"cert", "create", "--hostname", "h", "--key-type", "ed25519", "--curve", "P-256"}, "error: --curve applies to ecdsa keys only"},
		{[]string{"cert", "create", "--hostname", "h", "--validity", "soon"}, `error: --validity: invalid duration "soon": use e.g. 90s, 12h or 825d`},
		// Flag values are described without the parser's internals (strconv.ParseInt: …).
		{[]string{"topology", "deploy", "x.yaml", "--expect-revision", "seven"}, `error: --expect-revision: "seven" is not a whole number`},
		{[]string{"topology", "deploy", "x.yaml", "--expect-revision", "99999999999999999999"}, `error: --expect-revision: "99999999999999999999" is out of range`},
		{[]string{"topology", "rollback", "sandbox", "--revision", "2.5"}, `error: --revision: "2.5" is not a whole number`},
		{[]string{"status", "--timeout", "soon"}, `error: --timeout: "soon" is not a duration (like 30s, 5m or 2h)`},
		{[]string{"alias", "get", "x", "--reveal=maybe"}, `error: --reveal: "maybe" is not true or false`},
		{[]string{"hash-password", "--threads", "300"}, `error: --threads: "300" is out of range`},
		{[]string{"hash-password", "--time", "-1"}, `error: --time: "-1" is not a whole number of 0 or more`},
		{[]string{"status", "--timeout", "0s"}, "error: --timeout must be positive"},
		{[]string{"completion", "tcsh"}, `error: unsupported shell "tcsh": use bash, zsh, fish or powershell`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := e.run(t, tt.args...)
			if r.code != 2 {
				t.Errorf("exit code = %d, want 2", r.code)
			}
			first, rest, _ := strings.Cut(r.stderr, "\n")
			if first != tt.want {
				t.Errorf("first line of stderr = %q, want %q", first, tt.want)
			}
			if !strings.HasPrefix(rest, "Run 'gatewayctl") {
				t.Errorf("no usage hint after the error: %q", rest)
			}
		})
	}
	if n := len(e.g.received("TopologyService/Rollback")) + len(e.g.received("StatusService/GetStatus")); n != 0 {
		t.Errorf("usage errors reached the server %d times", n)
	}
}
