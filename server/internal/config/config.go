package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/net/http/httpguts"

	"github.com/securegw/gateway/internal/secrets"
	"github.com/securegw/gateway/internal/tcpcc"
	"github.com/securegw/gateway/proxy"
	"github.com/securegw/gateway/proxy/frontend"
)

// FileName is the configuration file looked up in the data directory when
// no --config is given.
const FileName = "gateway.yaml"

// Config is the whole of gateway.yaml.
type Config struct {
	// DataDir holds the store, the TLS files and the gatewayctl config.
	DataDir    string           `yaml:"data_dir"`
	Proxy      Proxy            `yaml:"proxy"`
	Management Management       `yaml:"management"`
	Metrics    Metrics          `yaml:"metrics"`
	Store      Store            `yaml:"store"`
	Crypto     secrets.Settings `yaml:"crypto"`
	Log        Log              `yaml:"log"`
	Tokens     Tokens           `yaml:"tokens"`
	Federation Federation       `yaml:"federation"`
	Runtime    Runtime          `yaml:"runtime"`
}

// Runtime tunes the Go runtime's collector (package gctune). GOGC and
// GOMEMLIMIT in the environment win over it.
type Runtime struct {
	// GCPercent is GOGC: a collection starts when the heap has grown by
	// this percentage of the live heap; -1 turns that trigger off (then
	// memory_limit is required).
	GCPercent int `yaml:"gc_percent"`
	// MinHeap is the heap below which no collection starts (0: none).
	MinHeap ByteSize `yaml:"min_heap"`
	// MemoryLimit is GOMEMLIMIT, the runtime's soft memory limit (0: none).
	MemoryLimit ByteSize `yaml:"memory_limit"`
}

// Federation names the headers in which services whose dispatch federates
// send the authenticated user to another gateway (seed 001; Knox's
// gateway.custom.federation.header.name).
type Federation struct {
	// Header carries the user's name: SM_USER by default.
	Header string `yaml:"header"`
	// GroupsHeader carries the user's groups, comma-separated; "" sends none.
	GroupsHeader string `yaml:"groups_header"`
}

// Tokens configures the token service.
type Tokens struct {
	// Issuer is the iss of the gateway's tokens; "" derives
	// https://HOST:PORT/{path_prefix} from proxy.listen.
	Issuer string `yaml:"issuer"`
	// Algorithm signs tokens whose policy names none.
	Algorithm string `yaml:"algorithm"`
	// RSABits is the modulus size of new RSA signing keys.
	RSABits int `yaml:"rsa_bits"`
}

// Proxy configures the data plane's front listener.
type Proxy struct {
	// Listen is the proxy's address, ":8443" by default.
	Listen string `yaml:"listen"`
	// PathPrefix is the first path segment of proxied URLs ("gateway").
	PathPrefix string `yaml:"path_prefix"`
	// TLS serves HTTPS with the gateway's TLS identity (default true).
	TLS *bool `yaml:"tls"`
	// ClientAuth: off (default), optional or required.
	ClientAuth string `yaml:"client_auth"`
	// ClientTruststore names the truststore that verifies client certificates.
	ClientTruststore string `yaml:"client_truststore"`
	// TrustedProxies are CIDRs whose X-Forwarded-* headers are kept.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// PublicURL is the origin clients reach the gateway at
	// (scheme://host[:port], no path; Knox's frontend URL): when set, every
	// absolute link the gateway writes is on it, whatever the client's Host
	// or a trusted proxy's X-Forwarded-Host says, and backends get it in
	// X-Forwarded-Proto/Host/Port. "": links follow the request.
	PublicURL string `yaml:"public_url"`
	// Front is the HTTP/1.1 front server: "lean" (the gateway's own
	// server loop on net/http's parser) or "net/http" (Go's server). HTTP/2
	// on a TLS front is net/http's either way.
	Front string `yaml:"front"`
	// TCPCongestion is the TCP congestion control of the gateway's own
	// connections (Linux TCP_CONGESTION): client connections (set on the
	// listener, which accepted connections inherit) and backend ones (HTTP,
	// datanode, WebSocket); "" keeps the system's
	// (net.ipv4.tcp_congestion_control).
	TCPCongestion     string   `yaml:"tcp_congestion"`
	MaxHeaderBytes    int      `yaml:"max_header_bytes"`
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	ReadTimeout       Duration `yaml:"read_timeout"`
	// StallTimeout ends a request whose client leaves its body silent, or
	// accepts no byte of the answer, this long: the time between two reads
	// or writes that made progress, not the whole transfer (nginx's
	// client_body_timeout and send_timeout). 0 disables it.
	StallTimeout Duration `yaml:"stall_timeout"`
	IdleTimeout  Duration `yaml:"idle_timeout"`
	// UpgradeGrace is how long a WebSocket stays open after a deploy removed
	// or changed its route (default 30s).
	UpgradeGrace Duration `yaml:"upgrade_grace"`
	// WebSocket are the gateway's WebSocket limits; services override them
	// with websocket.* params.
	WebSocket WebSocket `yaml:"websocket"`
	// ReplayCacheSize bounds the replay cache every provider shares (nonces
	// of signed pre-auth headers, Kerberos authenticators): each key is kept
	// for its validity window, and a cache full of valid keys refuses.
	ReplayCacheSize int `yaml:"replay_cache_size"`
	// ReplayCacheScope is who shares the replay cache: "cluster" (every
	// gateway on the same etcd prefix: a key accepted by one is a replay at
	// all; the default with store.backend etcd) or "process" (this gateway
	// alone; the only choice with bbolt).
	ReplayCacheScope string `yaml:"replay_cache_scope"`
}

// Replay cache scopes (proxy.replay_cache_scope).
const (
	ReplayScopeCluster = "cluster"
	ReplayScopeProcess = "process"
)

// ReplayScope is proxy.replay_cache_scope with its default filled in.
func (c Config) ReplayScope() string {
	if c.Proxy.ReplayCacheScope != "" {
		return c.Proxy.ReplayCacheScope
	}
	if c.Store.Backend == StoreBackendEtcd {
		return ReplayScopeCluster
	}
	return ReplayScopeProcess
}

// WebSocket limits of the gateway (zero: the proxy's defaults: 1 MiB
// messages, 10s write timeout, no idle timeout, no pings, no connection limits).
type WebSocket struct {
	MaxMessageBytes            int64    `yaml:"max_message_bytes"`
	WriteTimeout               Duration `yaml:"write_timeout"`
	IdleTimeout                Duration `yaml:"idle_timeout"`
	PingInterval               Duration `yaml:"ping_interval"`
	MaxConnections             int      `yaml:"max_connections"`
	MaxConnectionsPerPrincipal int      `yaml:"max_connections_per_principal"`
}

// Management configures the gRPC management API.
type Management struct {
	// Listen is the gRPC address, 127.0.0.1:8444 by default.
	Listen string `yaml:"listen"`
	// Principals maps a client certificate's subject common name to its roles
	// (admin, operator, token-broker, viewer).
	Principals map[string][]string `yaml:"principals"`
	// ShutdownTimeout bounds graceful shutdown of every listener.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
}

// Metrics configures the Prometheus listener; an empty Listen disables it.
type Metrics struct {
	Listen string `yaml:"listen"`
}

// Store backends: the embedded bbolt store (one gateway) and etcd (several
// gateways sharing one configuration).
const (
	StoreBackendBolt = "bbolt"
	StoreBackendEtcd = "etcd"
)

// Store configures the store: its backend and its limits.
type Store struct {
	// Backend names the store implementation: bbolt (default) or etcd.
	Backend      string   `yaml:"backend"`
	HistoryLimit int      `yaml:"history_limit"`
	AuditLimit   int      `yaml:"audit_limit"`
	LockTimeout  Duration `yaml:"lock_timeout"`
	Etcd         Etcd     `yaml:"etcd"`
}

// Etcd configures the etcd store: where the cluster is and how to
// authenticate to it.
type Etcd struct {
	// Endpoints are host:port pairs (or URLs) of the etcd members.
	Endpoints []string `yaml:"endpoints"`
	// Prefix is the key prefix of this gateway cluster's state.
	Prefix string `yaml:"prefix"`
	// CAFile verifies the members' certificates; with it set, the client
	// speaks TLS. CertFile and KeyFile are the client certificate.
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// Username and PasswordFile authenticate with etcd's RBAC.
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
	// RequestTimeout bounds each call; etcd not answering in time (no
	// quorum) fails management writes with Unavailable.
	RequestTimeout Duration `yaml:"request_timeout"`
	// LeaseTTL is the lease of this gateway's registration (gatewayctl
	// status lists the gateways): a gateway that stops renewing it leaves
	// the list this long after.
	LeaseTTL Duration `yaml:"lease_ttl"`
}

// ParseStoreURL reads a --store value: "bbolt" (or bolt://, the data
// directory's store) or etcd://host:port,host:port/prefix. It sets the
// backend, and for etcd the endpoints and the prefix.
func (s *Store) ParseStoreURL(v string) error {
	switch {
	case v == StoreBackendBolt || v == "bolt://" || v == "bbolt://":
		s.Backend = StoreBackendBolt
		return nil
	case strings.HasPrefix(v, "etcd://"):
		rest := strings.TrimPrefix(v, "etcd://")
		hosts, prefix, _ := strings.Cut(rest, "/")
		if hosts == "" {
			return fmt.Errorf("store URL %q names no etcd endpoint (want etcd://host:2379,host:2379/prefix)", v)
		}
		s.Backend = StoreBackendEtcd
		s.Etcd.Endpoints = strings.Split(hosts, ",")
		for _, h := range s.Etcd.Endpoints {
			if h == "" {
				return fmt.Errorf("store URL %q has an empty endpoint", v)
			}
		}
		if prefix != "" {
			s.Etcd.Prefix = "/" + strings.TrimSuffix(prefix, "/") + "/"
		}
		return nil
	}
	return fmt.Errorf("store URL %q: want bbolt or etcd://host:2379,host:2379/prefix", v)
}

// Log configures the daemon's structured log.
type Log struct {
	// Level: debug, info, warn or error.
	Level string `yaml:"level"`
	// Format: json (default) or text.
	Format string `yaml:"format"`
}

// Roles known to the management API.
var Roles = []string{"admin", "operator", "token-broker", "viewer"}

// Bounds of proxy.replay_cache_size. A key costs about 100 bytes, so the
// maximum is about 1.6 GiB of memory at worst.
const (
	DefaultReplayCacheSize = 1 << 16
	MinReplayCacheSize     = 1 << 10
	MaxReplayCacheSize     = 1 << 24
)

// Default returns the configuration used when gateway.yaml says nothing.
func Default() Config {
	return Config{
		DataDir: "/var/lib/gateway",
		Proxy: Proxy{
			Listen:            ":8443",
			PathPrefix:        "gateway",
			ClientAuth:        "off",
			Front:             frontend.DefaultKind,
			MaxHeaderBytes:    64 << 10,
			ReadHeaderTimeout: Duration(10 * time.Second),
			ReadTimeout:       0,
			StallTimeout:      Duration(frontend.DefaultStallTimeout),
			IdleTimeout:       Duration(120 * time.Second),
			UpgradeGrace:      Duration(30 * time.Second),
			ReplayCacheSize:   DefaultReplayCacheSize,
		},
		Management: Management{
			Listen:          "127.0.0.1:8444",
			Principals:      map[string][]string{"admin": {"admin"}},
			ShutdownTimeout: Duration(15 * time.Second),
		},
		Metrics: Metrics{Listen: "127.0.0.1:9464"},
		Store: Store{
			Backend:      StoreBackendBolt,
			HistoryLimit: 50,
			AuditLimit:   100000,
			LockTimeout:  Duration(time.Second),
			Etcd:         Etcd{Prefix: "/gatewayd/", RequestTimeout: Duration(5 * time.Second), LeaseTTL: Duration(10 * time.Second)},
		},
		Crypto:     secrets.DefaultSettings(),
		Log:        Log{Level: "info", Format: "json"},
		Federation: Federation{Header: "SM_USER"},
		Tokens:     Tokens{Algorithm: "ES256", RSABits: 3072},
		Runtime:    Runtime{GCPercent: 100}, // min_heap off: see README, "Latency and the collector"
	}
}

// DevDefault is Default for a --dev daemon: every listener on loopback.
func DevDefault() Config {
	c := Default()
	c.Proxy.Listen = "127.0.0.1:8443"
	return c
}

// Load reads a configuration file over the defaults. Unknown keys are errors.
func Load(path string) (Config, error) { return LoadOver(path, Default()) }

// LoadOver reads a configuration file over base: keys the file omits keep
// base's values.
func LoadOver(path string, base Config) (Config, error) {
	c := base
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("reading config: %w", err)
	}
	if err := Decode(bytes.NewReader(b), &c); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	if c.DataDir != "" && !filepath.IsAbs(c.DataDir) {
		c.DataDir = filepath.Join(filepath.Dir(path), c.DataDir)
	}
	// The etcd TLS and password files are relative to the file, like the data dir.
	for _, f := range []*string{&c.Store.Etcd.CAFile, &c.Store.Etcd.CertFile, &c.Store.Etcd.KeyFile, &c.Store.Etcd.PasswordFile} {
		if *f != "" && !filepath.IsAbs(*f) {
			*f = filepath.Join(filepath.Dir(path), *f)
		}
	}
	return c, nil
}

// Decode decodes YAML strictly into c, keeping values the document omits.
// The crypto section is decoded onto empty settings and then completed with
// the defaults of the algorithm it names, so that `kdf: {algorithm: scrypt}`
// does not inherit argon2id's parameters.
func Decode(r io.Reader, c *Config) error {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	keep := c.Crypto
	c.Crypto = secrets.Settings{}
	// yaml merges into a non-nil map: a file's principals must replace the
	// default ones (dropping "admin" from the file must revoke it), not add.
	keepPrincipals := c.Management.Principals
	c.Management.Principals = nil
	err := dec.Decode(c)
	if c.Management.Principals == nil {
		c.Management.Principals = keepPrincipals
	}
	if errors.Is(err, io.EOF) {
		c.Crypto = keep // an empty file keeps the defaults
		return nil
	}
	if c.Crypto == (secrets.Settings{}) {
		c.Crypto = keep
	} else {
		c.Crypto = c.Crypto.WithDefaults()
	}
	return err
}

// IsLoopback reports whether a host:port address binds loopback only
// ("localhost", 127.0.0.0/8, ::1). An empty host binds every interface.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// NonLoopback returns the listeners ("key: address") that would bind more
// than loopback.
func (c Config) NonLoopback() []string {
	var out []string
	for _, l := range []struct{ key, addr string }{
		{"proxy.listen", c.Proxy.Listen},
		{"management.listen", c.Management.Listen},
		{"metrics.listen", c.Metrics.Listen},
	} {
		if l.addr != "" && !IsLoopback(l.addr) {
			out = append(out, fmt.Sprintf("%s %q", l.key, l.addr))
		}
	}
	return out
}

// TLSEnabled reports whether the proxy serves HTTPS.
func (p Proxy) TLSEnabled() bool { return p.TLS == nil || *p.TLS }

// TrustedPrefixes parses TrustedProxies.
func (p Proxy) TrustedPrefixes() ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(p.TrustedProxies))
	for _, s := range p.TrustedProxies {
		s = strings.TrimSpace(s)
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("proxy.trusted_proxies: %q is not an address or CIDR", s)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("proxy.trusted_proxies: %q is not a CIDR", s)
		}
		out = append(out, pfx.Masked())
	}
	return out, nil
}

// Validate checks the configuration as a whole and names the bad keys. It
// reads no file, but tries proxy.tcp_congestion on a socket of this host
// (tcpcc.Check): a configuration is valid for the host it is checked on.
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir: required"))
	}
	for key, addr := range map[string]string{"proxy.listen": c.Proxy.Listen, "management.listen": c.Management.Listen} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not host:port", key, addr))
		}
	}
	if c.Metrics.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Metrics.Listen); err != nil {
			errs = append(errs, fmt.Errorf("metrics.listen: %q is not host:port", c.Metrics.Listen))
		}
	}
	if c.Proxy.PathPrefix == "" || strings.ContainsAny(c.Proxy.PathPrefix, "/?#%\\ ") {
		errs = append(errs, fmt.Errorf("proxy.path_prefix: %q must be one URL path segment", c.Proxy.PathPrefix))
	}
	switch c.Proxy.ClientAuth {
	case "off", "optional", "required":
	default:
		errs = append(errs, fmt.Errorf("proxy.client_auth: %q is not off, optional or required", c.Proxy.ClientAuth))
	}
	if c.Proxy.ClientAuth != "off" && c.Proxy.ClientTruststore == "" {
		errs = append(errs, errors.New("proxy.client_truststore: required when client_auth is optional or required"))
	}
	if _, err := c.Proxy.TrustedPrefixes(); err != nil {
		errs = append(errs, err)
	}
	if _, err := proxy.ParsePublicURL(c.Proxy.PublicURL); err != nil {
		errs = append(errs, fmt.Errorf("proxy.public_url: %w", err))
	}
	if c.Proxy.StallTimeout < 0 {
		errs = append(errs, fmt.Errorf("proxy.stall_timeout: %s is negative (0 disables it)", c.Proxy.StallTimeout.D()))
	}
	switch c.Tokens.Algorithm {
	case "RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA":
	default:
		errs = append(errs, fmt.Errorf("tokens.algorithm: %q is not RS256, RS384, RS512, PS256, ES256, ES384 or EdDSA", c.Tokens.Algorithm))
	}
	if c.Tokens.RSABits != 2048 && c.Tokens.RSABits != 3072 && c.Tokens.RSABits != 4096 {
		errs = append(errs, fmt.Errorf("tokens.rsa_bits: %d is not 2048, 3072 or 4096", c.Tokens.RSABits))
	}
	if c.Tokens.Issuer != "" && strings.ContainsFunc(c.Tokens.Issuer, func(r rune) bool { return r <= ' ' }) {
		errs = append(errs, fmt.Errorf("tokens.issuer: %q contains white space", c.Tokens.Issuer))
	}
	for key, h := range map[string]string{"federation.header": c.Federation.Header, "federation.groups_header": c.Federation.GroupsHeader} {
		if !httpguts.ValidHeaderFieldName(h) && (h != "" || key == "federation.header") {
			errs = append(errs, fmt.Errorf("%s: %q is not a valid header name", key, h))
		}
	}
	if c.Federation.Header != "" && strings.EqualFold(strings.ReplaceAll(c.Federation.Header, "_", "-"), strings.ReplaceAll(c.Federation.GroupsHeader, "_", "-")) {
		errs = append(errs, errors.New("federation.groups_header: must differ from federation.header"))
	}
	if n := c.Proxy.ReplayCacheSize; n < MinReplayCacheSize || n > MaxReplayCacheSize {
		errs = append(errs, fmt.Errorf("proxy.replay_cache_size: %d is outside %d..%d", n, MinReplayCacheSize, MaxReplayCacheSize))
	}
	switch c.Proxy.ReplayCacheScope {
	case "", ReplayScopeProcess:
	case ReplayScopeCluster:
		if c.Store.Backend != StoreBackendEtcd {
			errs = append(errs, fmt.Errorf("proxy.replay_cache_scope: %q needs store.backend: %s (a %s store has one gateway)", ReplayScopeCluster, StoreBackendEtcd, c.Store.Backend))
		}
	default:
		errs = append(errs, fmt.Errorf("proxy.replay_cache_scope: %q is not %s or %s", c.Proxy.ReplayCacheScope, ReplayScopeCluster, ReplayScopeProcess))
	}
	if cc := c.Proxy.TCPCongestion; cc != "" {
		// A well-formed name is tried on a socket, as the listener and the
		// backend dialer will set it: one this kernel lacks, or does not let
		// this process use, is refused here rather than at the listener.
		if !validCongestion(cc) {
			errs = append(errs, fmt.Errorf("proxy.tcp_congestion: %q is not a congestion control name (such as cubic, bbr, reno)", cc))
		} else if err := tcpcc.Check(cc); err != nil {
			errs = append(errs, fmt.Errorf("proxy.tcp_congestion: %w", err))
		}
	}
	if c.Proxy.Front != frontend.KindLean && c.Proxy.Front != frontend.KindNetHTTP {
		errs = append(errs, fmt.Errorf("proxy.front: %q is not %s or %s", c.Proxy.Front, frontend.KindLean, frontend.KindNetHTTP))
	}
	if c.Proxy.MaxHeaderBytes < 1024 {
		errs = append(errs, fmt.Errorf("proxy.max_header_bytes: %d is below 1024", c.Proxy.MaxHeaderBytes))
	}
	if len(c.Management.Principals) == 0 {
		errs = append(errs, errors.New("management.principals: at least one principal is required"))
	} else if !c.Management.hasAdmin() {
		errs = append(errs, errors.New(`management.principals: no principal has the admin role, so nobody could manage `+
			`the gateway (the principals of gateway.yaml replace the default "admin: [admin]"); `+
			`keep "admin: [admin]" in management.principals (or give another principal the admin role)`))
	}
	names := make([]string, 0, len(c.Management.Principals))
	for p := range c.Management.Principals {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		for _, r := range c.Management.Principals[p] {
			if !knownRole(r) {
				errs = append(errs, fmt.Errorf("management.principals.%s: unknown role %q (known: %s)", p, r, strings.Join(Roles, ", ")))
			}
		}
	}
	switch c.Store.Backend {
	case StoreBackendBolt:
	case StoreBackendEtcd:
		if len(c.Store.Etcd.Endpoints) == 0 {
			errs = append(errs, errors.New("store.etcd.endpoints: required when store.backend is etcd"))
		}
		if (c.Store.Etcd.CertFile == "") != (c.Store.Etcd.KeyFile == "") {
			errs = append(errs, errors.New("store.etcd.cert_file and store.etcd.key_file: set both or neither"))
		}
		if (c.Store.Etcd.Username == "") != (c.Store.Etcd.PasswordFile == "") {
			errs = append(errs, errors.New("store.etcd.username and store.etcd.password_file: set both or neither"))
		}
		if c.Store.Etcd.RequestTimeout < 0 {
			errs = append(errs, errors.New("store.etcd.request_timeout: must not be negative"))
		}
		if c.Store.Etcd.LeaseTTL != 0 && c.Store.Etcd.LeaseTTL < Duration(time.Second) {
			errs = append(errs, errors.New("store.etcd.lease_ttl: must be at least 1s"))
		}
	default:
		errs = append(errs, fmt.Errorf("store.backend: %q is not supported (supported: %s, %s)", c.Store.Backend, StoreBackendBolt, StoreBackendEtcd))
	}
	if c.Store.HistoryLimit < 1 {
		errs = append(errs, errors.New("store.history_limit: must be at least 1"))
	}
	if c.Store.AuditLimit < 1 {
		errs = append(errs, errors.New("store.audit_limit: must be at least 1"))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level: %q is not debug, info, warn or error", c.Log.Level))
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		errs = append(errs, fmt.Errorf("log.format: %q is not json or text", c.Log.Format))
	}
	if err := c.Crypto.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("crypto: %w", err))
	}
	errs = append(errs, c.Runtime.validate()...)
	return errors.Join(errs...)
}

// hasAdmin reports whether some principal has the admin role: without one,
// nobody could change principals' certificates, aliases or the master secret.
func (m Management) hasAdmin() bool {
	for _, roles := range m.Principals {
		for _, r := range roles {
			if r == "admin" {
				return true
			}
		}
	}
	return false
}

func knownRole(r string) bool {
	for _, k := range Roles {
		if r == k {
			return true
		}
	}
	return false
}

func (r Runtime) validate() []error {
	var errs []error
	if r.GCPercent < -1 {
		errs = append(errs, fmt.Errorf("runtime.gc_percent: %d is below -1 (-1 turns the proportional trigger off)", r.GCPercent))
	}
	if r.GCPercent == -1 && r.MemoryLimit == 0 {
		errs = append(errs, errors.New("runtime.memory_limit: required when runtime.gc_percent is -1 (else the heap grows without bound)"))
	}
	if r.MemoryLimit > 0 && r.MinHeap > r.MemoryLimit {
		errs = append(errs, fmt.Errorf("runtime.min_heap: %s is above runtime.memory_limit %s", r.MinHeap, r.MemoryLimit))
	}
	return errs
}

// ByteSize is a size in bytes written as 64MiB, 1GiB or a plain number of
// bytes in YAML (GOMEMLIMIT's units: B, KiB, MiB, GiB, TiB).
type ByteSize int64

var byteUnits = []struct {
	suffix string
	mult   int64
}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

// ParseByteSize reads a ByteSize.
func ParseByteSize(s string) (ByteSize, error) {
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is not a size (want a number of bytes, or like 64MiB, 1GiB)", s)
	}
	return ByteSize(n * mult), nil
}

// UnmarshalYAML parses "64MiB".
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := ParseByteSize(s)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = v
	return nil
}

// MarshalYAML writes the size in the largest unit that divides it.
func (b ByteSize) MarshalYAML() (any, error) { return b.String(), nil }

func (b ByteSize) String() string {
	for _, u := range byteUnits {
		if b != 0 && int64(b)%u.mult == 0 && u.mult > 1 {
			return strconv.FormatInt(int64(b)/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// Duration is a time.Duration written as "30s" in YAML.
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalYAML decodes a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (like 30s or 1m)", n.Line, s)
	}
	if v < 0 {
		return fmt.Errorf("line %d: duration %q is negative", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML encodes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// validCongestion reports whether name can name a Linux congestion control
// algorithm: up to 15 bytes of lower-case letters, digits and underscores.
// Whether this kernel has it, and lets the gateway use it, shows when the
// listener opens.
func validCongestion(name string) bool {
	if len(name) > 15 {
		return false
	}
	for _, c := range []byte(name) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}
