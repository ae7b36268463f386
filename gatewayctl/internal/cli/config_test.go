package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestConfigErrors checks that each broken config gives one clear line.
func TestConfigErrors(t *testing.T) {
	t.Parallel()
	pki := getPKI(t)
	tests := []struct {
		name string
		// config writes a config file under dir and returns its path.
		config func(t *testing.T, dir string) string
		want   string // regular expression; <CONFIG> and <DIR> stand for the paths
	}{
		{
			name:   "missing file",
			config: func(t *testing.T, dir string) string { return filepath.Join(dir, "nope.yaml") },
			want:   `error: config file <CONFIG> does not exist \(set --config or GATEWAYCTL_CONFIG; 'gatewayd init' writes one\)`,
		},
		{
			name: "unknown key",
			config: func(t *testing.T, dir string) string {
				return writeFile(t, dir, "c.yaml", []byte("server: 127.0.0.1:1\nca: ca.pem\ncert: a.pem\nkey: k.pem\nsever: typo\n"))
			},
			want: `error: config <CONFIG>: line 5: unknown key "sever"`,
		},
		{
			name: "not YAML",
			config: func(t *testing.T, dir string) string {
				return writeFile(t, dir, "c.yaml", []byte("server: [unclosed\n"))
			},
			want: `error: config <CONFIG>: .*`,
		},
		{
			name:   "empty",
			config: func(t *testing.T, dir string) string { return writeFile(t, dir, "c.yaml", nil) },
			want:   `error: config <CONFIG>: file is empty`,
		},
		{
			name: "missing keys",
			config: func(t *testing.T, dir string) string {
				return writeFile(t, dir, "c.yaml", []byte("server: 127.0.0.1:1\ncert: a.pem\n"))
			},
			want: `error: config <CONFIG>: missing ca, key`,
		},
		{
			name: "server not host:port",
			config: func(t *testing.T, dir string) string {
				return writeFile(t, dir, "c.yaml", []byte("server: localhost\nca: ca.pem\ncert: a.pem\nkey: k.pem\n"))
			},
			want: `error: server "localhost" is not host:port`,
		},
		{
			name: "bad cert path",
			config: func(t *testing.T, dir string) string {
				writeFile(t, dir, "ca.pem", pki.ca.PEM)
				writeFile(t, dir, "k.pem", pki.client.KeyPEM)
				return writeFile(t, dir, "c.yaml", []byte("server: 127.0.0.1:1\nca: ca.pem\ncert: certs/missing.pem\nkey: k.pem\n"))
			},
			want: `error: config <CONFIG>: reading client certificate: open <DIR>/certs/missing.pem: no such file or directory`,
		},
		{
			name: "CA file without certificates",
			config: func(t *testing.T, dir string) string {
				writeFile(t, dir, "ca.pem", []byte("not a certificate\n"))
				return writeFile(t, dir, "c.yaml", []byte("server: 127.0.0.1:1\nca: ca.pem\ncert: a.pem\nkey: k.pem\n"))
			},
			want: `error: config <CONFIG>: CA file <DIR>/ca.pem holds no PEM certificate`,
		},
		{
			name: "key does not match certificate",
			config: func(t *testing.T, dir string) string {
				writeFile(t, dir, "ca.pem", pki.ca.PEM)
				writeFile(t, dir, "a.pem", pki.client.CertPEM)
				writeFile(t, dir, "k.pem", pki.otherClient.KeyPEM)
				return writeFile(t, dir, "c.yaml", []byte("server: 127.0.0.1:1\nca: ca.pem\ncert: a.pem\nkey: k.pem\n"))
			},
			want: `error: config <CONFIG>: client certificate <DIR>/a.pem and key <DIR>/k.pem: tls: private key does not match public key`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cfg := tt.config(t, dir)
			e := &testEnv{config: cfg, home: t.TempDir()}
			r := e.run(t, "topology", "list")
			if r.code != 1 {
				t.Errorf("exit code = %d, want 1", r.code)
			}
			want := strings.NewReplacer("<CONFIG>", regexp.QuoteMeta(cfg), "<DIR>", regexp.QuoteMeta(dir)).Replace(tt.want)
			if !regexp.MustCompile(`^` + want + `\n$`).MatchString(r.stderr) {
				t.Errorf("stderr = %q\nwant one line matching %q", r.stderr, want)
			}
			if strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("stderr has %d lines, want 1", strings.Count(r.stderr, "\n"))
			}
		})
	}
}

// TestConfigLocation checks the order: --config, then GATEWAYCTL_CONFIG,
// then ~/.config/gatewayctl/config.yaml; and that --server overrides.
func TestConfigLocation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, fakeOptions{})
	data, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	// The default location, with the certificates next to it.
	def := filepath.Join(e.home, ".config", "gatewayctl")
	if err := os.MkdirAll(def, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ca.pem", "admin.pem", "admin-key.pem"} {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(e.config), name))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, def, name, b)
	}
	writeFile(t, def, "config.yaml", data)
	// A config whose server is wrong, to be fixed with --server.
	wrongServer := e.writeConfig(t, "wrong-server.yaml", getPKI(t).ca.PEM, getPKI(t).client, closedAddr(t), "")

	tests := []struct {
		name string
		opts runOpts
		args []string
	}{
		{"flag", runOpts{noConf: true}, []string{"--config", e.config}},
		{"environment", runOpts{noConf: true, env: map[string]string{"GATEWAYCTL_CONFIG": e.config}}, nil},
		{"default", runOpts{noConf: true}, nil},
		{"flag wins over environment", runOpts{noConf: true, env: map[string]string{"GATEWAYCTL_CONFIG": "/nonexistent.yaml"}}, []string{"--config", e.config}},
		{"--server overrides", runOpts{noConf: true}, []string{"--config", wrongServer, "--server", e.g.addr}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.runWith(t, tt.opts, append(tt.args, "status")...)
			mustSucceed(t, r)
		})
	}
	// And the environment is really used: a bad one fails.
	r := e.runWith(t, runOpts{noConf: true, env: map[string]string{"GATEWAYCTL_CONFIG": "/nonexistent.yaml"}}, "status")
	if r.code != 1 || !strings.Contains(r.stderr, "/nonexistent.yaml does not exist") {
		t.Errorf("GATEWAYCTL_CONFIG ignored: code %d, stderr %q", r.code, r.stderr)
	}
}
