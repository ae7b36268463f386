package proxy

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/http/httpguts"

	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/chain/replay"
	"github.com/securegw/gateway/proxy/seal"
	"github.com/securegw/gateway/proxy/wsrelay"

	_ "github.com/securegw/gateway/proxy/providers" // built-in providers register themselves
)

// Config configures a Proxy.
type Config struct {
	// PathPrefix is the first path segment of proxied URLs: "gateway" by
	// default, so URLs are /{PathPrefix}/{topology}/{service-path}/{rest}.
	PathPrefix string
	// TrustedProxies are the peers whose X-Forwarded-* and Forwarded headers
	// are kept (and appended to). Everyone else's are discarded.
	TrustedProxies []netip.Prefix
	// PublicURL, when set, is the origin (scheme://host[:port], checked by
	// ParsePublicURL) of every absolute link the gateway writes: rewritten
	// Location, Content-Location, Link and Refresh fields, UI bodies,
	// WebSocket $gateway URLs, the login and token services' URLs, and
	// the origin same-origin checks compare with. It wins over the
	// client's Host and a trusted proxy's X-Forwarded-Host, and backends
	// are told it in X-Forwarded-Proto, -Host and -Port. "": the request's.
	PublicURL string
	// BackendRoots verifies backend certificates; nil: the system roots.
	BackendRoots *x509.CertPool
	// Resolver resolves credential aliases; may be nil until aliases exist.
	Resolver SecretResolver
	// Truststores gives the named truststores that services' dispatch
	// settings reference; nil: none.
	Truststores TruststoreSource
	// Logger receives the access log (one Info record "access" per request)
	// and errors; nil: discard.
	Logger *slog.Logger
	// Registerer receives the proxy's metrics; nil: none.
	Registerer prometheus.Registerer
	// Defaults are the backend timeouts of services that do not set their own.
	Defaults Timeouts
	// UpgradeGrace is how long an upgraded connection (WebSocket) stays open
	// after a deploy removed or changed what serves it; 0: 30s.
	UpgradeGrace time.Duration
	// WebSocket are the gateway's WebSocket limits, which services
	// override with websocket.* params.
	WebSocket WebSocketLimits
	// MaxOpenFiles is the process's descriptor ceiling: past it (two per
	// WebSocket connection, a reserve kept for HTTP) new upgrades get 503.
	// 0: the soft RLIMIT_NOFILE at New.
	MaxOpenFiles int
	// Host are the services every provider is built with (chain.Config.Host):
	// clock, token verifier, revocations, replay cache. The live ones are
	// swapped behind their interfaces, never by recompiling topologies.
	// A nil Clock is the system clock; a nil Replay an in-memory replay
	// cache of DefaultReplayCacheSize nonces.
	Host chain.Host
	// Federation names the headers federated services send the user in.
	Federation Federation
	// SealKey (seal.KeySize bytes) seals the datanode targets of WebHDFS-like
	// services' redirects into gateway URLs; gateways sharing a store use
	// one key, derived from the keyring. nil: a random key of this process.
	SealKey []byte
	// SealTTL is how long a sealed datanode URL stays valid; 0: 5 minutes.
	SealTTL time.Duration
	// DialControl, when set, runs on every backend socket before it
	// connects (net.Dialer.Control): socket options such as the TCP
	// congestion control.
	DialControl func(network, address string, c syscall.RawConn) error
}

// DefaultSealTTL is how long a sealed datanode URL stays valid by default.
const DefaultSealTTL = 5 * time.Minute

// DefaultReplayCacheSize bounds the default replay cache (Config.Host.Replay).
const DefaultReplayCacheSize = 1 << 16

// Timeouts of backend connections. Zero fields take the defaults.
type Timeouts struct {
	Dial           time.Duration // default 5s
	TLSHandshake   time.Duration // default 5s
	ResponseHeader time.Duration // default 30s
	Idle           time.Duration // idle keep-alive connections; default 90s
}

// TruststoreSource returns a named truststore's certificates as PEM.
type TruststoreSource interface {
	TruststorePEM(ctx context.Context, name string) ([]byte, error)
}

// SecretResolver resolves a credential alias of a topology to its secret.
type SecretResolver interface {
	Resolve(ctx context.Context, topology, alias string) ([]byte, error)
}

// BackendStatus is the health of one backend URL of a live service.
type BackendStatus struct {
	Topology, Service, URL string
	Healthy                bool
	ConsecutiveFailures    int64
	CooloffUntil           time.Time // zero when not cooling off
}

// Proxy is the data plane: an http.Handler routing
// /{prefix}/{topology}/{service}/{rest} through the topology's chain to its
// backends, with a routing table swapped atomically.
type Proxy struct {
	prefix      string // "/gateway/"
	trusted     []netip.Prefix
	roots       *x509.CertPool
	dialControl func(network, address string, c syscall.RawConn) error
	resolver    SecretResolver
	truststores TruststoreSource
	log         *slog.Logger
	// reuseAccess: the access line's fields go back to accessPool once
	// logged (finish), the log's handler being slog's JSON or text one,
	// which is done with a record when Handle returns. Another may keep
	// the record (Record.Clone) and read its values later.
	reuseAccess bool
	defaults    Timeouts
	// upgradeGrace: see Config.UpgradeGrace.
	upgradeGrace time.Duration
	// fpKey keys the services' fingerprints (fingerprint.go).
	fpKey     [32]byte
	upgrades  upgrades
	wsLimits  WebSocketLimits
	fdCeiling int
	host      chain.Host
	// federation: see Config.Federation.
	federation Federation
	// public: see Config.PublicURL (publicurl.go).
	public publicURL

	table atomic.Pointer[table]
	mu    sync.Mutex // serialises Apply, Remove, Load, Close

	pool    *transportPool
	metrics *metrics
	sealer  *seal.Sealer   // datanode targets (datanode.go)
	health  sync.WaitGroup // active health checkers

	idPrefix string
	idSeq    atomic.Uint64
	closed   atomic.Bool
}

// New returns a Proxy with an empty, not yet loaded, routing table.
func New(cfg Config) (*Proxy, error) {
	prefix := cfg.PathPrefix
	if prefix == "" {
		prefix = "gateway"
	}
	if strings.ContainsAny(prefix, "/\\%?#;") || prefix == "." || prefix == ".." {
		return nil, fmt.Errorf("proxy: PathPrefix %q must be one path segment", cfg.PathPrefix)
	}
	for _, pfx := range cfg.TrustedProxies {
		if !pfx.IsValid() {
			return nil, errors.New("proxy: invalid prefix in TrustedProxies")
		}
	}
	d := cfg.Defaults
	if d.Dial <= 0 {
		d.Dial = 5 * time.Second
	}
	if d.TLSHandshake <= 0 {
		d.TLSHandshake = 5 * time.Second
	}
	if d.ResponseHeader <= 0 {
		d.ResponseHeader = 30 * time.Second
	}
	if d.Idle <= 0 {
		d.Idle = 90 * time.Second
	}
	grace := cfg.UpgradeGrace
	switch {
	case grace < 0:
		return nil, errors.New("proxy: UpgradeGrace must not be negative")
	case grace == 0:
		grace = 30 * time.Second
	}
	for _, h := range []string{cfg.Federation.Header, cfg.Federation.GroupsHeader} {
		if h != "" && !httpguts.ValidHeaderFieldName(h) {
			return nil, fmt.Errorf("proxy: federation header %q is not a valid header name", h)
		}
	}
	public, err := parsePublicURL(cfg.PublicURL)
	if err != nil {
		return nil, fmt.Errorf("proxy: PublicURL: %w", err)
	}
	host := cfg.Host
	host.PublicOrigin = public.origin
	if host.Clock == nil {
		host.Clock = chain.SystemClock{}
	}
	if host.Replay == nil {
		host.Replay = replay.New(DefaultReplayCacheSize, host.Clock)
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	var seed [8]byte
	_, _ = rand.Read(seed[:])
	p := &Proxy{
		prefix:       "/" + prefix + "/",
		trusted:      append([]netip.Prefix(nil), cfg.TrustedProxies...),
		roots:        cfg.BackendRoots,
		dialControl:  cfg.DialControl,
		resolver:     cfg.Resolver,
		truststores:  cfg.Truststores,
		log:          lg,
		reuseAccess:  doneWhenHandled(lg.Handler()),
		defaults:     d,
		upgradeGrace: grace,
		host:         host,
		federation:   cfg.Federation,
		public:       public,
		idPrefix:     hex.EncodeToString(seed[:]) + "-",
		wsLimits:     cfg.WebSocket,
		fdCeiling:    cfg.MaxOpenFiles,
	}
	if p.fdCeiling == 0 {
		p.fdCeiling = openFileLimit()
	}
	p.upgrades.hub = wsrelay.NewHub(wsrelay.HubOptions{})
	_, _ = rand.Read(p.fpKey[:])
	sealKey, ttl := cfg.SealKey, cfg.SealTTL
	if sealKey == nil {
		sealKey = make([]byte, seal.KeySize)
		_, _ = rand.Read(sealKey)
	}
	if ttl == 0 {
		ttl = DefaultSealTTL
	}
	if p.sealer, err = seal.New(sealKey, ttl, seal.WithClock(host.Clock.Now)); err != nil {
		return nil, fmt.Errorf("proxy: SealKey: %w", err)
	}
	p.table.Store(&table{})
	p.pool = newTransportPool(p)
	p.metrics = newMetrics(p)
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(p.metrics); err != nil {
			return nil, fmt.Errorf("proxy: registering metrics: %w", err)
		}
	}
	return p, nil
}

// RotateSealKey makes key (seal.KeySize bytes) the key new datanode URLs
// are sealed with, after a master rotation derived a new one. URLs sealed
// before stay valid until they expire (SealTTL): the replaced key opens
// them until then.
func (p *Proxy) RotateSealKey(key []byte) error {
	if err := p.sealer.Rotate(key); err != nil {
		return fmt.Errorf("proxy: SealKey: %w", err)
	}
	return nil
}

// Generation is the live table's generation: 0 until the first Apply,
// Remove or Load, then incremented by each change.
func (p *Proxy) Generation() int64 { return p.table.Load().gen }

// Ready reports whether a routing table was loaded (Generation() > 0) and
// the proxy is not closed.
func (p *Proxy) Ready() bool { return p.Generation() > 0 && !p.closed.Load() }

// Topologies is the number of topologies in the live table.
func (p *Proxy) Topologies() int { return p.table.Load().len() }

// Close closes the upgraded connections, unpublishes every topology, stops
// the health checkers (and waits for them) and closes idle backend
// connections. Requests in flight finish; new ones get 503.
func (p *Proxy) Close() error {
	p.closed.Store(true)
	_ = p.CloseUpgraded(context.Background()) // their relays end as their sockets close
	p.mu.Lock()
	cur := p.table.Load()
	p.table.Store(&table{gen: cur.gen + 1})
	for _, c := range cur.sorted() {
		c.retireLocked()
	}
	p.mu.Unlock()
	p.health.Wait()
	p.pool.closeIdle()
	return nil
}
