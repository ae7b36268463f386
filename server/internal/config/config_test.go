package config

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
}

func TestLoad(t *testing.T) {
	cases := []struct {
		name    string
		doc     string
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{name: "empty file keeps defaults", doc: "", check: func(t *testing.T, c Config) {
			if c.Management.Listen != "127.0.0.1:8444" || c.Proxy.PathPrefix != "gateway" {
				t.Errorf("defaults lost: %+v", c)
			}
		}},
		{name: "overrides", doc: "proxy:\n  listen: 127.0.0.1:9443\n  trusted_proxies: [10.0.0.0/8, \"::1\"]\nmanagement:\n  shutdown_timeout: 3s\n", check: func(t *testing.T, c Config) {
			if c.Proxy.Listen != "127.0.0.1:9443" || c.Management.ShutdownTimeout.D().Seconds() != 3 {
				t.Errorf("got %+v", c)
			}
			p, err := c.Proxy.TrustedPrefixes()
			if err != nil || len(p) != 2 || p[1].Bits() != 128 {
				t.Errorf("trusted prefixes %v %v", p, err)
			}
		}},
		{name: "relative data dir is relative to the file", doc: "data_dir: data\n", check: func(t *testing.T, c Config) {
			if !filepath.IsAbs(c.DataDir) || filepath.Base(c.DataDir) != "data" {
				t.Errorf("data dir %q", c.DataDir)
			}
		}},
		{name: "a KDF algorithm alone takes its own defaults", doc: "crypto:\n  kdf:\n    algorithm: pbkdf2-sha256\n", check: func(t *testing.T, c Config) {
			if c.Crypto.KDF.Iterations < 600000 || c.Crypto.KDF.MemoryKiB != 0 {
				t.Errorf("kdf %+v", c.Crypto.KDF)
			}
			if err := c.Validate(); err != nil {
				t.Errorf("validate: %v", err)
			}
		}},
		{name: "no crypto section keeps the default", doc: "log:\n  level: warn\n", check: func(t *testing.T, c Config) {
			if c.Crypto != Default().Crypto {
				t.Errorf("crypto %+v", c.Crypto)
			}
		}},
		{name: "principals replace the default ones", doc: "management:\n  principals:\n    ops-team: [operator]\n", check: func(t *testing.T, c Config) {
			if len(c.Management.Principals) != 1 || c.Management.Principals["ops-team"][0] != "operator" {
				t.Errorf("principals %v: the default admin must not survive", c.Management.Principals)
			}
		}},
		{name: "no principals keeps the default", doc: "management:\n  listen: 127.0.0.1:9444\n", check: func(t *testing.T, c Config) {
			if len(c.Management.Principals) != 1 || c.Management.Principals["admin"][0] != "admin" {
				t.Errorf("principals %v", c.Management.Principals)
			}
		}},
		{name: "runtime sizes", doc: "runtime:\n  gc_percent: 200\n  min_heap: 128MiB\n  memory_limit: 2GiB\n", check: func(t *testing.T, c Config) {
			if c.Runtime != (Runtime{GCPercent: 200, MinHeap: 128 << 20, MemoryLimit: 2 << 30}) {
				t.Errorf("runtime %+v", c.Runtime)
			}
		}},
		{name: "runtime defaults", doc: "log:\n  level: warn\n", check: func(t *testing.T, c Config) {
			if c.Runtime != (Runtime{GCPercent: 100}) {
				t.Errorf("runtime %+v", c.Runtime)
			}
		}},
		{name: "bad size", doc: "runtime:\n  min_heap: 64MB\n", wantErr: `line 2: "64MB" is not a size`},
		{name: "negative size", doc: "runtime:\n  memory_limit: -1\n", wantErr: "is not a size"},
		{name: "unknown key", doc: "proxy:\n  listne: :1\n", wantErr: "listne"},
		{name: "bad duration", doc: "management:\n  shutdown_timeout: soon\n", wantErr: "not a duration"},
		{name: "negative duration", doc: "proxy:\n  idle_timeout: -1s\n", wantErr: "negative"},
		{name: "stall timeout", doc: "proxy:\n  stall_timeout: 15s\n", check: func(t *testing.T, c Config) {
			if c.Proxy.StallTimeout.D() != 15*time.Second {
				t.Errorf("stall_timeout %v", c.Proxy.StallTimeout.D())
			}
		}},
		{name: "stall timeout 0 disables it", doc: "proxy:\n  stall_timeout: 0s\n", check: func(t *testing.T, c Config) {
			if c.Proxy.StallTimeout != 0 {
				t.Errorf("stall_timeout %v, want 0 (off)", c.Proxy.StallTimeout.D())
			}
		}},
		{name: "stall timeout defaults to 60s", doc: "proxy:\n  read_timeout: 5m\n", check: func(t *testing.T, c Config) {
			if c.Proxy.StallTimeout.D() != 60*time.Second || c.Proxy.ReadTimeout.D() != 5*time.Minute {
				t.Errorf("stall_timeout %v, read_timeout %v", c.Proxy.StallTimeout.D(), c.Proxy.ReadTimeout.D())
			}
		}},
		{name: "negative stall timeout", doc: "proxy:\n  stall_timeout: -5s\n", wantErr: `line 2: duration "-5s" is negative`},
		{name: "stall timeout not a duration", doc: "proxy:\n  stall_timeout: 60\n", wantErr: `line 2: "60" is not a duration`},
		{name: "unknown crypto key", doc: "crypto:\n  kdf:\n    rounds: 3\n", wantErr: "rounds"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "gateway.yaml")
			if err := os.WriteFile(p, []byte(tc.doc), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := Load(p)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestParseByteSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want ByteSize
		err  bool
	}{
		{"0", 0, false}, {"1048576", 1 << 20, false}, {"512KiB", 512 << 10, false}, {"64MiB", 64 << 20, false},
		{"1 GiB", 1 << 30, false}, {"2TiB", 2 << 40, false}, {"10B", 10, false},
		{"", 0, true}, {"64MB", 0, true}, {"1.5GiB", 0, true}, {"-1MiB", 0, true}, {"9999999999TiB", 0, true},
	} {
		got, err := ParseByteSize(c.in)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d, error %v", c.in, got, err, c.want, c.err)
		}
		if err == nil {
			if back, _ := ParseByteSize(got.String()); back != got {
				t.Errorf("%q: String %q reads back as %d", c.in, got.String(), back)
			}
		}
	}
}

// proxy.tcp_congestion is tried on this host: a name the kernel has is
// valid, one it lacks is refused naming the setting, the name and what the
// kernel offers (Linux; elsewhere serve refuses it at its listener).
func TestValidateTCPCongestion(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("TCP_CONGESTION is Linux only")
	}
	for _, tc := range []struct {
		name, setting, want string // want: "" for valid
	}{
		{"system default", "", ""},
		{"built-in reno", "reno", ""},
		{"kernel lacks it", "nosuchcc", `proxy.tcp_congestion: congestion control "nosuchcc": this kernel has no such algorithm; it offers `},
		{"kernel lacks it, names the list", "nosuchcc", "reno"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.Proxy.TCPCongestion = tc.setting
			checkValid(t, c.Validate(), tc.want)
		})
	}
}

func TestValidateNamesTheKey(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"proxy listen", func(c *Config) { c.Proxy.Listen = "8443" }, "proxy.listen"},
		{"management listen", func(c *Config) { c.Management.Listen = "" }, "management.listen"},
		{"metrics listen", func(c *Config) { c.Metrics.Listen = "nope" }, "metrics.listen"},
		{"path prefix", func(c *Config) { c.Proxy.PathPrefix = "a/b" }, "proxy.path_prefix"},
		{"client auth", func(c *Config) { c.Proxy.ClientAuth = "maybe" }, "proxy.client_auth"},
		{"federation header", func(c *Config) { c.Federation.Header = "SM USER" }, "federation.header"},
		{"no federation header", func(c *Config) { c.Federation.Header = "" }, "federation.header"},
		{"federation groups header", func(c *Config) { c.Federation.GroupsHeader = "a:b" }, "federation.groups_header"},
		{"federation headers equal", func(c *Config) { c.Federation.GroupsHeader = "sm-user" }, "must differ"},
		{"client truststore", func(c *Config) { c.Proxy.ClientAuth = "required" }, "proxy.client_truststore"},
		{"trusted proxies", func(c *Config) { c.Proxy.TrustedProxies = []string{"10.0.0.0/33"} }, "trusted_proxies"},
		{"tcp congestion", func(c *Config) { c.Proxy.TCPCongestion = "Cubic;rm" }, `proxy.tcp_congestion: "Cubic;rm" is not a congestion control name`},
		{"tcp congestion too long", func(c *Config) { c.Proxy.TCPCongestion = "a_sixteen_bytes_" }, "proxy.tcp_congestion"},
		{"header bytes", func(c *Config) { c.Proxy.MaxHeaderBytes = 10 }, "max_header_bytes"},
		{"stall timeout", func(c *Config) { c.Proxy.StallTimeout = Duration(-time.Second) }, "proxy.stall_timeout: -1s is negative (0 disables it)"},
		{"replay cache too small", func(c *Config) { c.Proxy.ReplayCacheSize = 10 }, "proxy.replay_cache_size: 10 is outside 1024..16777216"},
		{"replay cache too large", func(c *Config) { c.Proxy.ReplayCacheSize = 1 << 30 }, "proxy.replay_cache_size"},
		{"replay cache scope", func(c *Config) { c.Proxy.ReplayCacheScope = "global" }, `proxy.replay_cache_scope: "global" is not cluster or process`},
		{"cluster replay cache on bbolt", func(c *Config) { c.Proxy.ReplayCacheScope = "cluster" }, "proxy.replay_cache_scope: \"cluster\" needs store.backend: etcd"},
		{"no principals", func(c *Config) { c.Management.Principals = nil }, "management.principals"},
		{"unknown role", func(c *Config) { c.Management.Principals = map[string][]string{"bob": {"root"}} }, `unknown role "root"`},
		{"history", func(c *Config) { c.Store.HistoryLimit = 0 }, "store.history_limit"},
		{"store backend", func(c *Config) { c.Store.Backend = "consul" }, `store.backend: "consul" is not supported (supported: bbolt, etcd)`},
		{"etcd without endpoints", func(c *Config) { c.Store.Backend = "etcd" }, "store.etcd.endpoints: required"},
		{"etcd cert without key", func(c *Config) {
			c.Store.Backend, c.Store.Etcd.Endpoints, c.Store.Etcd.CertFile = "etcd", []string{"h:2379"}, "c.pem"
		}, "store.etcd.cert_file and store.etcd.key_file"},
		{"etcd user without password", func(c *Config) {
			c.Store.Backend, c.Store.Etcd.Endpoints, c.Store.Etcd.Username = "etcd", []string{"h:2379"}, "gw"
		}, "store.etcd.username and store.etcd.password_file"},
		{"etcd lease", func(c *Config) {
			c.Store.Backend, c.Store.Etcd.Endpoints, c.Store.Etcd.LeaseTTL = "etcd", []string{"h:2379"}, Duration(time.Millisecond)
		}, "store.etcd.lease_ttl"},
		{"log level", func(c *Config) { c.Log.Level = "loud" }, "log.level"},
		{"log format", func(c *Config) { c.Log.Format = "xml" }, "log.format"},
		{"gc percent", func(c *Config) { c.Runtime.GCPercent = -2 }, "runtime.gc_percent: -2 is below -1"},
		{"gc off without a limit", func(c *Config) { c.Runtime.GCPercent = -1 }, "runtime.memory_limit: required"},
		{"floor above the limit", func(c *Config) { c.Runtime.MinHeap, c.Runtime.MemoryLimit = 64<<20, 32<<20 }, "runtime.min_heap: 64MiB is above runtime.memory_limit 32MiB"},
		{"weak kdf", func(c *Config) { c.Crypto.KDF.Iterations = 1000; c.Crypto.KDF.Algorithm = "pbkdf2-sha256" }, "crypto"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.mod(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

// proxy.public_url is an origin: an http or https URL with a host and
// nothing but a port and a trailing slash besides. Each refusal names the
// key and what is wrong, and never repeats user info (it may be a password).
func TestValidatePublicURL(t *testing.T) {
	cases := []struct {
		name, url string
		want      string // "" for valid
	}{
		{"unset", "", ""},
		{"https origin", "https://gw.example.com", ""},
		{"http origin with port", "http://gw.example.com:8080", ""},
		{"trailing slash", "https://gw.example.com/", ""},
		{"IPv6 with port", "https://[2001:db8::1]:8443", ""},
		{"upper case", "HTTPS://GW.Example.COM", ""},
		{"bad scheme", "ftp://gw.example.com", `proxy.public_url: "ftp://gw.example.com": scheme "ftp" is not http or https`},
		{"ws scheme", "wss://gw.example.com", `scheme "wss" is not http or https`},
		{"no scheme", "gw.example.com", `proxy.public_url: "gw.example.com" is not an absolute URL; want scheme://host[:port]`},
		{"opaque", "https:gw.example.com", "is not an absolute URL"},
		{"user info", "https://admin:hunter2@gw.example.com", "proxy.public_url: has user info"},
		{"user name only", "https://admin@gw.example.com", "proxy.public_url: has user info"},
		{"query", "https://gw.example.com/?a=1", `proxy.public_url: "https://gw.example.com/?a=1" has a query`},
		{"empty query", "https://gw.example.com?", "has a query"},
		{"fragment", "https://gw.example.com/#top", `proxy.public_url: "https://gw.example.com/#top" has a fragment`},
		{"empty fragment", "https://gw.example.com#", "has a fragment"},
		{"empty host", "https://", `proxy.public_url: "https://" has no host`},
		{"port without host", "https://:8443", "has no host"},
		{"path", "https://gw.example.com/knox", `proxy.public_url: "https://gw.example.com/knox" has a path ("/knox"): a path prefix is not supported`},
		{"path with gateway prefix", "https://gw.example.com/gateway/", `has a path ("/gateway/")`},
		{"empty port", "https://gw.example.com:", `host "gw.example.com:" is not a name`},
		{"port zero", "https://gw.example.com:0", `port "0" is not 1..65535`},
		{"port too large", "https://gw.example.com:65536", `port "65536" is not 1..65535`},
		{"IPv4 out of range", "https://1.2.3.256", `host "1.2.3.256" is not one a browser reads`},
		{"quote in host", "https://gw'x.example.com", "is not a name"},
		{"sub-delims in host", "https://gw&x=1.example.com", "is not a name"},
		{"non-ASCII host", "https://gätéway.example", "its xn-- form"},
		{"IPv6 with zone", "https://[fe80::1%25eth0]", "is not a name"},
		{"bracketed name", "https://[gw.example.com]", "is not a URL"},
		{"space", "https://gw example.com", "not a URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.Proxy.PublicURL = tc.url
			err := c.Validate()
			checkValid(t, err, tc.want)
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("the error repeats the password: %v", err)
			}
		})
	}
}

// public_url is read from gateway.yaml under proxy.
func TestLoadPublicURL(t *testing.T) {
	p := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(p, []byte("proxy:\n  public_url: https://gw.example.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Proxy.PublicURL != "https://gw.example.com" || c.Validate() != nil {
		t.Fatalf("public_url %q, validate %v", c.Proxy.PublicURL, c.Validate())
	}
	if Default().Proxy.PublicURL != "" {
		t.Fatal("public_url is set by default")
	}
}

// A configuration where nobody has the admin role would lock every
// administrator out: it is refused with the way out.
func TestValidateRefusesNoAdmin(t *testing.T) {
	p := filepath.Join(t.TempDir(), "gateway.yaml")
	// The README's example, as a new user first wrote it.
	if err := os.WriteFile(p, []byte("management:\n  principals:\n    ci-deployer: [operator]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Validate()
	if err == nil || !strings.Contains(err.Error(), "no principal has the admin role") || !strings.Contains(err.Error(), "admin: [admin]") {
		t.Fatalf("got %v, want a refusal that says why and how to fix it", err)
	}
	c.Management.Principals["admin"] = []string{"admin"}
	if err := c.Validate(); err != nil {
		t.Fatalf("with admin kept: %v", err)
	}
	c.Management.Principals = map[string][]string{"root-team": {"viewer", "admin"}}
	if err := c.Validate(); err != nil {
		t.Fatalf("admin under another name: %v", err)
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8443": true, "127.1.2.3:1": true, "[::1]:8443": true, "localhost:8443": true,
		":8443": false, "0.0.0.0:8443": false, "[::]:8443": false, "192.0.2.1:8443": false, "gw.example.com:8443": false, "8443": false,
	} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v", addr, got)
		}
	}
}

func TestParseStoreURL(t *testing.T) {
	tests := []struct {
		in        string
		backend   string
		endpoints []string
		prefix    string
		err       string
	}{
		{in: "bbolt", backend: StoreBackendBolt, prefix: "/gatewayd/"},
		{in: "etcd://a:2379,b:2379/gw", backend: StoreBackendEtcd, endpoints: []string{"a:2379", "b:2379"}, prefix: "/gw/"},
		{in: "etcd://a:2379", backend: StoreBackendEtcd, endpoints: []string{"a:2379"}, prefix: "/gatewayd/"},
		{in: "etcd:///gw", err: "names no etcd endpoint"},
		{in: "etcd://a:2379,,b:2379/gw", err: "empty endpoint"},
		{in: "consul://a", err: "want bbolt or etcd://"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s := Default().Store
			err := s.ParseStoreURL(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want an error with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Backend != tt.backend || !slices.Equal(s.Etcd.Endpoints, tt.endpoints) || s.Etcd.Prefix != tt.prefix {
				t.Errorf("got %s %v %q", s.Backend, s.Etcd.Endpoints, s.Etcd.Prefix)
			}
		})
	}
}

func TestReplayScope(t *testing.T) {
	cases := []struct {
		name, backend, scope, want string
	}{
		{"bbolt default", StoreBackendBolt, "", ReplayScopeProcess},
		{"etcd default", StoreBackendEtcd, "", ReplayScopeCluster},
		{"etcd, process chosen", StoreBackendEtcd, ReplayScopeProcess, ReplayScopeProcess},
		{"bbolt, process chosen", StoreBackendBolt, ReplayScopeProcess, ReplayScopeProcess},
	}
	for _, tc := range cases {
		c := Default()
		c.Store.Backend, c.Proxy.ReplayCacheScope = tc.backend, tc.scope
		if got := c.ReplayScope(); got != tc.want {
			t.Errorf("%s: ReplayScope() = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// checkValid fails t unless err is nil for want "", else an error whose
// text holds want.
func checkValid(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("got %v, want valid", err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Fatalf("got %v, want an error containing %q", err, want)
	}
}
