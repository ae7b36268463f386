package proxy

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy/chain"
)

const (
	maxServiceDepth = topology.MaxServiceDepth // segments in a service path
	maxServiceURLs  = topology.MaxServiceURLs  // URLs of one service (a bit mask tracks attempts)

	defaultMaxFailures = 3
	defaultCooloff     = 30 * time.Second
	defaultHCInterval  = 10 * time.Second
)

// Compiled is one topology compiled for the proxy: its provider chain, its
// services with their dispatchers, and references to the shared transports.
// It is immutable once built; Apply publishes it.
type Compiled struct {
	p          *Proxy
	name       string
	ctxPath    string // "/gateway/{topology}"
	chain      *chain.Chain
	services   map[string]*service // by service path ("a/b")
	ordered    []*service          // topology order
	maxDepth   int
	warnings   []string
	transports []*transportEntry // one reference each, released by finalize
	origins    origins           // backend origins to services, for response headers
	scrub      []string          // identity headers of the chain, normalised
	// assertsIdentity: the chain has an identity-assertion handler, which
	// logs the impersonation parameters it refuses (else dispatch does).
	assertsIdentity bool

	state        int // guarded by p.mu
	inflight     atomic.Int64
	retired      atomic.Bool
	finalizeOnce sync.Once
	stopHealth   context.CancelFunc // guarded by p.mu
}

// Name is the topology's name.
func (c *Compiled) Name() string { return c.name }

// Warnings lists what deserves the operator's attention but does not stop
// the deploy (certificate verification off, settings ignored).
func (c *Compiled) Warnings() []string { return append([]string(nil), c.warnings...) }

// Links is the compiled chain in execution order.
func (c *Compiled) Links() []chain.Link { return c.chain.Links() }

// Compile builds t's routes (provider chain, dispatchers, transports looked
// up or created in the shared pool) without touching the live table. It
// first runs topology.ValidateWith against the provider registry, the rules
// gatewayctl applies offline, and returns its *topology.ValidationError
// (every problem) when t breaks them; then it reports what only building
// can find (provider params, aliases, truststores), every service's problem
// at once. Errors name the topology and the service, provider or param at
// fault; a failed Compile leaves no transport reference or goroutine behind.
func (p *Proxy) Compile(ctx context.Context, t *topology.Topology) (_ *Compiled, err error) {
	if t == nil || t.Name == "" {
		return nil, errors.New("compiling topology: no name")
	}
	if _, err := topology.ValidateWith(t, registered); err != nil {
		return nil, fmt.Errorf("topology %q: %w", t.Name, err)
	}
	c := &Compiled{
		p:        p,
		name:     t.Name,
		ctxPath:  p.prefix + t.Name,
		services: make(map[string]*service, len(t.Services)),
	}
	c.chain = &chain.Chain{}
	defer func() {
		if err != nil {
			c.state = stateDiscarded
			c.finalize()
			err = fmt.Errorf("topology %q: %w", t.Name, err)
		}
	}()
	fps := p.newFingerprinter()
	resolve := func(ctx context.Context, alias string) ([]byte, error) {
		v, err := p.resolve(ctx, t.Name, alias)
		if err == nil {
			fps.recordSecret(alias, v)
		}
		return v, err
	}
	var truststore func(ctx context.Context, name string) ([]byte, error)
	if p.truststores != nil {
		truststore = func(ctx context.Context, name string) ([]byte, error) {
			pem, err := p.truststores.TruststorePEM(ctx, name)
			if err == nil {
				fps.recordSecret("truststore\x00"+name, pem)
			}
			return pem, err
		}
	}
	ch, chainErr := chain.BuildWith(ctx, t.Name, t.Providers, chain.Options{Resolve: resolve, Truststore: truststore, Logger: p.log, Host: p.host})
	var errs []error
	endpoints := authAPI
	if chainErr != nil {
		errs = append(errs, chainErr)
	} else {
		c.chain = ch
		if err := fps.chain(t.Providers); err != nil {
			return nil, err
		}
		if !ch.Authenticates() {
			errs = append(errs, errors.New(`no enabled authentication or federation provider: add one (provider "anonymous" to allow unauthenticated access explicitly)`))
		}
		for _, h := range ch.IdentityHeaders() {
			c.scrub = append(c.scrub, normHeader(h))
		}
		for _, l := range ch.Links() {
			c.assertsIdentity = c.assertsIdentity || l.Role == chain.RoleIdentityAssertion
		}
		if more := ch.Endpoints(); len(more) > 0 {
			endpoints = slices.Concat(authAPI, more)
		}
		if served, err := p.gatewayServiceEndpoints(ctx, t, ch, resolve); err != nil {
			errs = append(errs, err)
		} else if len(served) > 0 {
			endpoints = slices.Concat(endpoints, served)
		}
	}
	// Gateway-served endpoints first: their first path segments are
	// reserved, which the services are checked against.
	reserved, err := c.registerEndpoints(endpoints)
	if err != nil {
		errs = append(errs, err)
	}
	acquired := map[transportKey]*transportEntry{}
	for i := range t.Services {
		ts := &t.Services[i]
		var s *service
		if topology.ServiceRoleKind(ts.Role) == topology.ServiceGateway {
			continue // served by the gateway: its endpoints are registered above
		}
		if err := c.checkReserved(ts.Path); err != nil {
			errs = append(errs, fmt.Errorf("service %q: %w", ts.Path, err))
			continue
		}
		if topology.ServiceRoleKind(ts.Role) == topology.ServiceNotRouted {
			s = c.notRoutedService(ts)
		} else if s, err = p.compileService(ctx, c, ts, fps, acquired); err != nil {
			errs = append(errs, fmt.Errorf("service %q: %w", ts.Path, err))
			continue
		}
		c.services[s.path] = s
		c.maxDepth = max(c.maxDepth, strings.Count(s.path, "/")+1)
		if !s.notRouted {
			c.ordered = append(c.ordered, s)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c.origins = buildOrigins(c.ordered, hostMap(ch))
	svcs := make([]chain.Service, 0, len(t.Services)+len(reserved))
	for i := range t.Services {
		svcs = append(svcs, chain.Service{Path: t.Services[i].Path, Role: t.Services[i].Role})
	}
	for _, path := range reserved {
		svcs = append(svcs, chain.Service{Path: path})
	}
	if err := ch.CheckServices(svcs); err != nil {
		return nil, err
	}
	return c, nil
}

// registered reports whether the provider registry can build a provider:
// the proxy validates against what it can build.
func registered(role, name string) bool {
	_, ok := chain.Lookup(chain.Role(role), name)
	return ok
}

// hostMap is the chain's host map, internal to external host names; nil
// when it has none.
func hostMap(ch *chain.Chain) map[string]string {
	var m map[string]string
	for _, h := range ch.Handlers() {
		if hm, ok := h.(chain.HostMap); ok {
			if m == nil {
				m = map[string]string{}
			}
			maps.Copy(m, hm.ExternalHosts())
		}
	}
	return m
}

// checkReserved refuses a service path under a gateway-served endpoint
// (the auth API, a provider's token or login pages).
func (c *Compiled) checkReserved(path string) error {
	if first, _, _ := strings.Cut(path, "/"); c.services[first] != nil && c.services[first].internal {
		return fmt.Errorf("path %q is reserved: /%s/%s/%s/ is served by the gateway (group lookup API, token and login endpoints)", path, strings.Trim(c.p.prefix, "/"), c.name, first)
	}
	return nil
}

// notRoutedService is a service kept for service discovery only (Knox's
// NAMENODE): it has a route that answers 404 and no backend.
func (c *Compiled) notRoutedService(ts *topology.Service) *service {
	return &service{
		topo:      c,
		path:      ts.Path,
		role:      ts.Role,
		prefix:    c.ctxPath + "/" + ts.Path,
		notRouted: true,
		up:        &upstream{},
		stats:     newServiceStats(c.name, ts.Path),
	}
}

func (p *Proxy) resolve(ctx context.Context, topo, alias string) ([]byte, error) {
	if p.resolver == nil {
		return nil, errors.New("no secret resolver configured")
	}
	return p.resolver.Resolve(ctx, topo, alias)
}

func (p *Proxy) compileService(ctx context.Context, c *Compiled, ts *topology.Service, fps *fingerprinter, acquired map[transportKey]*transportEntry) (*service, error) {
	// Validate has checked the path, the URLs and the settings' ranges;
	// Compile the reserved paths.
	path := ts.Path
	d := ts.Dispatch
	if d == nil {
		d = &topology.Dispatch{}
	}
	var err error
	s := &service{
		topo:       c,
		path:       path,
		role:       ts.Role,
		prefix:     c.ctxPath + "/" + path,
		websocket:  ts.WebSocket,
		allowTrace: d.AllowTrace,
		maxBody:    d.MaxBodyBytes,
		stats:      newServiceStats(c.name, path),

		forwardCredentials: d.ForwardCredentials,
	}
	tmo := p.timeouts(d)
	if s.ws, err = compileWebSocket(p.wsLimits, ts.WebSocket, ts.Params); err != nil {
		return nil, err
	}
	tlsSet, err := p.backendTLS(ctx, c, ts.Path, d)
	if err != nil {
		return nil, err
	}
	if d.Classname != "" && !(d.Federate && strings.HasSuffix(d.Classname, "HeaderPreAuthFederationDispatch")) {
		c.warnings = append(c.warnings, fmt.Sprintf("service %q: dispatch.classname %q is ignored", path, d.Classname))
	}
	if d.ForwardCredentials {
		c.warnings = append(c.warnings, fmt.Sprintf("service %q: dispatch.forward_credentials is on: the credentials clients authenticate with (passwords, tokens, session cookies) are sent to its backends", path))
	}
	if s.fed, err = p.compileFederation(ctx, c, ts, d); err != nil {
		return nil, err
	}
	up := p.compileUpstream(s, ts.HA, tmo)
	s.up = up
	anyTLS := false
	for _, raw := range ts.URLs {
		b, err := parseBackend(raw)
		if err != nil {
			return nil, err
		}
		key := transportKey{scheme: b.scheme, host: b.hostPort, timeouts: tmo}
		if b.scheme == "https" {
			anyTLS = true
			key.insecure, key.roots, key.clientCert = d.InsecureSkipVerify, tlsSet.rootsID, tlsSet.certID
		}
		e, ok := acquired[key]
		if !ok {
			e = p.pool.acquire(key, tlsSet)
			acquired[key] = e
			c.transports = append(c.transports, e)
		}
		b.tr = e
		up.backends = append(up.backends, b)
	}
	p.compileDatanodes(c, s, ts, tlsSet, tmo, d, acquired)
	if s.body, err = compileBodyRewrite(ts); err != nil {
		return nil, err
	}
	if d.AllowTrace {
		c.warnings = append(c.warnings, fmt.Sprintf("service %q: dispatch.allow_trace is on: TRACE and TRACK reach the backend, which may echo credentials and cookies back", path))
	}
	if d.InsecureSkipVerify {
		c.warnings = append(c.warnings, fmt.Sprintf("service %q: dispatch.insecure_skip_verify is on: backend certificates are not verified", path))
	}
	if !anyTLS && (d.UseTwoWayTLS || d.Truststore != "" || d.InsecureSkipVerify) {
		c.warnings = append(c.warnings, fmt.Sprintf("service %q: TLS settings have no effect on plain http/ws backends", path))
	}
	if s.fp, err = fps.service(ts, tlsSet); err != nil {
		return nil, err
	}
	return s, nil
}

// timeouts are the proxy's defaults with the service's settings over them.
func (p *Proxy) timeouts(d *topology.Dispatch) Timeouts {
	t := p.defaults
	for _, f := range []struct {
		v   topology.Duration
		dst *time.Duration
	}{
		{d.DialTimeout, &t.Dial},
		{d.TLSHandshakeTimeout, &t.TLSHandshake},
		{d.ResponseHeaderTimeout, &t.ResponseHeader},
		{d.IdleTimeout, &t.Idle},
	} {
		if f.v > 0 {
			*f.dst = f.v.D()
		}
	}
	return t
}

// backendTLS is what a service's https transports are built from.
type backendTLS struct {
	roots    *x509.CertPool
	rootsID  string // "" for the proxy's BackendRoots, else a digest of the truststore
	cert     *tls.Certificate
	certID   string // digest of the client certificate and key
	insecure bool
}

func (p *Proxy) backendTLS(ctx context.Context, c *Compiled, path string, d *topology.Dispatch) (backendTLS, error) {
	bt := backendTLS{roots: p.roots, insecure: d.InsecureSkipVerify}
	if d.Truststore != "" {
		if p.truststores == nil {
			return bt, fmt.Errorf("dispatch.truststore: %q: no truststores are configured", d.Truststore)
		}
		pem, err := p.truststores.TruststorePEM(ctx, d.Truststore)
		if err != nil {
			return bt, fmt.Errorf("dispatch.truststore: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return bt, fmt.Errorf("dispatch.truststore: %q holds no PEM certificate", d.Truststore)
		}
		sum := sha256.Sum256(pem)
		bt.roots, bt.rootsID = pool, hex.EncodeToString(sum[:])
	}
	switch {
	case d.UseTwoWayTLS:
		pem, err := p.resolve(ctx, c.name, d.ClientCertificate)
		if err != nil {
			return bt, fmt.Errorf("dispatch.client_certificate: alias %q: %w", d.ClientCertificate, err)
		}
		cert, err := tls.X509KeyPair(pem, pem)
		if err != nil {
			// The error describes the PEM structure, never its content.
			return bt, fmt.Errorf("dispatch.client_certificate: alias %q: not a PEM certificate and private key: %w", d.ClientCertificate, err)
		}
		sum := sha256.Sum256(pem)
		bt.cert, bt.certID = &cert, hex.EncodeToString(sum[:])
	case d.ClientCertificate != "":
		c.warnings = append(c.warnings, fmt.Sprintf("service %q: dispatch.client_certificate is ignored without dispatch.use_two_way_tls", strings.Trim(path, "/")))
	}
	return bt, nil
}

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

// parseBackend parses one configured backend URL.
func parseBackend(raw string) (*backend, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("url %q: %w", raw, err)
	}
	b := &backend{configured: raw, h: &backendHealth{}}
	switch strings.ToLower(u.Scheme) {
	case "http", "ws":
		b.scheme = "http"
	case "https", "wss":
		b.scheme = "https"
	default:
		return nil, fmt.Errorf("url %q: scheme must be http, https, ws or wss", raw)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("url %q: no host", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("url %q: user info, query and fragment are not allowed", raw)
	}
	b.host = u.Host
	port := u.Port()
	if port == "" {
		port = defaultPort(b.scheme)
	}
	b.hostPort = net.JoinHostPort(strings.ToLower(u.Hostname()), port)
	b.hostname = strings.ToLower(u.Hostname())
	b.basePath = strings.TrimRight(u.Path, "/")
	b.origin = b.scheme + "://" + b.host
	return b, nil
}

func (p *Proxy) compileUpstream(s *service, ha *topology.HA, tmo Timeouts) *upstream {
	up := &upstream{svc: s, maxFailures: defaultMaxFailures, cooloff: defaultCooloff}
	if ha == nil {
		return up
	}
	if ha.MaxFailures > 0 {
		up.maxFailures = int64(ha.MaxFailures)
	}
	if ha.Cooloff > 0 {
		up.cooloff = ha.Cooloff.D()
	}
	for _, st := range ha.FailoverStatuses {
		up.failover[st/64] |= 1 << (st % 64)
	}
	if ha.FailoverOnStandby {
		up.standby = standbyRuleFor(s.role)
	}
	up.safeModeRetries, up.safeModeSleep = ha.SafeModeRetries, ha.SafeModeRetrySleep.D()
	if ha.HealthCheckPath != "" {
		up.hcPath = ha.HealthCheckPath
		up.hcInterval = ha.HealthCheckInterval.D()
		if up.hcInterval == 0 {
			up.hcInterval = defaultHCInterval
		}
		up.hcTimeout = min(up.hcInterval, tmo.ResponseHeader)
	}
	return up
}
