package daemon

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/securegw/gateway/internal/fdlimit"
	"github.com/securegw/gateway/internal/pki"
	"github.com/securegw/gateway/internal/secrets"
	"github.com/securegw/gateway/proxy"
	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/chain/replay"
	"github.com/securegw/gateway/proxy/frontend"
	"github.com/securegw/gateway/server/internal/api"
	"github.com/securegw/gateway/server/internal/config"
	"github.com/securegw/gateway/server/internal/reconcile"
	"github.com/securegw/gateway/server/internal/secretsvc"
	"github.com/securegw/gateway/server/internal/tokensvc"
	"github.com/securegw/gateway/store"
	"github.com/securegw/gateway/store/etcd"
)

// secretLiveTimeout bounds how long an alias or truststore change waits
// for the routes using it to be rebuilt before its RPC answers.
const secretLiveTimeout = 10 * time.Second

// tokenSweepEvery is how often expired token state and retired signing
// keys are swept.
const tokenSweepEvery = time.Minute

// tokenIssuer is the iss of the gateway's tokens: tokens.issuer, else
// https://HOST:PORT/{path_prefix} from proxy.listen.
func tokenIssuer(c config.Config) string {
	if c.Tokens.Issuer != "" {
		return c.Tokens.Issuer
	}
	host, port, _ := net.SplitHostPort(c.Proxy.Listen)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	scheme := "https"
	if !c.Proxy.TLSEnabled() {
		scheme = "http"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/" + c.Proxy.PathPrefix
}

// gateway is a daemon assembled from its configuration by build, run by
// run. Its fields are set once, by build, before anything can call back.
type gateway struct {
	cfg     config.Config
	log     *slog.Logger
	version string
	started time.Time

	st        store.Store
	secrets   *secretsvc.Service
	ident     *pki.Reloader
	clientCAs atomic.Pointer[x509.CertPool] // the front's client truststore
	px        *proxy.Proxy
	rec       *reconcile.Reconciler
	topo      *api.TopologyService
	tokens    *tokensvc.Service

	ready     atomic.Bool
	stopping  atomic.Bool // shutdown began: ready stays false
	storeLost atomic.Bool // the reconciler lost a shared store (see gatedStore)
	// registration is this gateway's entry on a shared store, nil otherwise.
	registration atomic.Pointer[etcd.Registration]
	// master checks this gateway's master secret against the store.
	master    *masterWatch
	front     *frontend.Front
	mgmt      *grpc.Server
	health    *health.Server
	metrics   *http.Server // nil: no metrics listener
	proxyLn   net.Listener
	mgmtLn    net.Listener
	metricsLn net.Listener
}

// build assembles the gateway: store, secrets, proxy, reconciler (with the
// routing table loaded), listeners and servers. On error, whatever it
// opened is closed again.
func build(ctx context.Context, o ServeOptions) (_ *gateway, err error) {
	c := o.Config
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	applyRuntime(c.Runtime, o.Log)
	if o.Dev && o.Secret.File == "" && o.Secret.Env == "" {
		o.Secret.File = Layout{c.DataDir}.DevSecret()
	}
	switch {
	case !usesDataDirStore(c):
		// The store is shared: whether it is initialized is in it (unlock
		// says so); the data directory only holds local files.
		if err := ensureDataDir(c.DataDir); err != nil {
			return nil, err
		}
	case !o.Dev:
		if err := requireInitialized(c.DataDir); err != nil {
			return nil, err
		}
	}
	g := &gateway{cfg: c, log: o.Log, version: o.Version, started: time.Now()}
	defer func() {
		if err != nil {
			g.close()
		}
	}()
	if g.st, err = openBackend(ctx, c, g.log); err != nil {
		return nil, err
	}
	kr, verifierRev, err := g.unlock(ctx, o)
	if err != nil {
		return nil, err
	}
	g.master = &masterWatch{g: g, src: o.Secret, startRev: verifierRev}
	// Sealed datanode URLs (WebHDFS redirects) are valid on every gateway
	// sharing the store: their key derives from the data key.
	sealKey, err := kr.DeriveKey(sealPurpose)
	if err != nil {
		kr.Close()
		return nil, fmt.Errorf("deriving the datanode sealing key: %w", err)
	}
	// The secrets service owns the keyring from here: a master rotation
	// replaces it, and Close closes whichever is live.
	g.secrets = secretsvc.New(g.st, kr, secretsvc.Options{
		Settings:         c.Crypto,
		Log:              g.log,
		OnIdentityChange: g.reloadIdentity,
		OnChange:         g.secretChanged,
		GuardDelete:      guardAliasDelete,
		RotateFailpoint:  rotateFailpoint(g.log),
		OnMasterRotated:  devSecretWriter(o, Layout{c.DataDir}),
		OnDataKey:        g.dataKeyChanged,
	})
	if c.Crypto.AllowWeak {
		g.log.Warn("crypto.allow_weak is set: weak KDF settings are accepted", "kdf", c.Crypto.KDF.String())
	}
	if g.ident, err = pki.NewReloader(func() (*tls.Certificate, error) { return g.secrets.LoadIdentity(ctx) }); err != nil {
		return nil, fmt.Errorf("loading TLS identity: %w", err)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	trusted, err := c.Proxy.TrustedPrefixes()
	if err != nil {
		return nil, err
	}
	g.tokens = tokensvc.New(g.st, g.secrets, tokensvc.Options{
		Issuer:    tokenIssuer(c),
		Algorithm: c.Tokens.Algorithm,
		RSABits:   c.Tokens.RSABits,
		WaitFor:   func(ctx context.Context, rev int64) error { return g.rec.WaitFor(ctx, rev) },
		// A policy's group_source: the live topology's group sources.
		Groups: func(ctx context.Context, topology, user string) ([]string, error) {
			groups, _, err := g.px.LookupGroups(ctx, topology, user)
			return groups, err
		},
		Log: g.log,
	})
	// Each proxied WebSocket holds two descriptors: use all the process may.
	ceiling, err := fdlimit.Raise()
	if err != nil {
		g.log.Warn("descriptor limit not raised", "err", err, "ceiling", ceiling)
	}
	ws := c.Proxy.WebSocket
	if g.px, err = proxy.New(proxy.Config{
		PathPrefix:   c.Proxy.PathPrefix,
		UpgradeGrace: c.Proxy.UpgradeGrace.D(),
		MaxOpenFiles: ceiling,
		WebSocket: proxy.WebSocketLimits{MaxMessageBytes: ws.MaxMessageBytes, WriteTimeout: ws.WriteTimeout.D(),
			IdleTimeout: ws.IdleTimeout.D(), PingInterval: ws.PingInterval.D(), MaxConnections: ws.MaxConnections,
			MaxConnectionsPerPrincipal: ws.MaxConnectionsPerPrincipal},
		TrustedProxies: trusted,
		PublicURL:      c.Proxy.PublicURL,
		Logger:         g.log,
		Registerer:     reg,
		Resolver:       g.secrets,
		Truststores:    g.secrets,
		Federation:     proxy.Federation{Header: c.Federation.Header, GroupsHeader: c.Federation.GroupsHeader},
		SealKey:        sealKey,
		DialControl:    congestionControl(c.Proxy.TCPCongestion),
		Host: chain.Host{
			Replay:      g.replayCache(c),
			Tokens:      g.tokens,
			Issuer:      g.tokens.DataPlane(),
			Revocations: g.tokens.Revocations(),
		},
	}); err != nil {
		return nil, fmt.Errorf("creating proxy: %w", err)
	}
	g.rec = reconcile.New(g.st, g.px, reconcile.Options{Log: g.log, OnTruststore: g.truststoreChanged, OnSync: g.synced, Objects: g.tokens})
	if _, _, err := g.rec.Load(ctx); err != nil {
		return nil, err
	}
	// Loading decoded and compiled every stored topology: hand that garbage
	// back to the OS now rather than carry it as resident memory.
	debug.FreeOSMemory()

	if err := g.listen(ctx); err != nil {
		return nil, err
	}
	if err := g.buildFront(ctx, reg); err != nil {
		return nil, err
	}
	if err := g.buildManagement(ctx); err != nil {
		return nil, err
	}
	if g.metricsLn != nil {
		mux := http.NewServeMux()
		mux.Handle("/metrics", frontend.Metrics(reg))
		mux.Handle("/", frontend.Health(g.ready.Load))
		g.metrics = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	}
	if err := writeGatewayctlConfig(Layout{c.DataDir}, g.mgmtLn.Addr().String()); err != nil {
		return nil, err
	}
	return g, nil
}

// sealPurpose derives the key of sealed datanode URLs from the data key.
const sealPurpose = "datanode targets"

// dataKeyChanged follows a new data key, made by a rotation through this
// gateway or followed from another one sharing the store: datanode URLs
// are sealed under the key derived from it at once, as on every gateway
// of the store, and those sealed before stay valid until they expire.
func (g *gateway) dataKeyChanged(kr *secrets.Keyring) {
	if g.px == nil {
		return // starting: the proxy is built with the live key
	}
	key, err := kr.DeriveKey(sealPurpose)
	if err == nil {
		err = g.px.RotateSealKey(key)
	}
	if err != nil {
		g.log.Error("following the data key: the datanode sealing key stays the old one", "err", err)
	}
}

// unlock opens the keyring with the master secret (initializing a --dev
// data dir first), re-wrapping the data key when the crypto settings
// changed, and returns it with the revision of the verifier it opened (or
// wrote).
func (g *gateway) unlock(ctx context.Context, o ServeOptions) (*secrets.Keyring, int64, error) {
	c := g.cfg
	verifier, verifierRev, err := g.st.GetMetaRevision(ctx, metaVerifier)
	if errors.Is(err, store.ErrNotFound) {
		if !o.Dev {
			return nil, 0, fmt.Errorf("data directory %s is not initialized: run gatewayd init (or serve --dev)", c.DataDir)
		}
		io := DefaultInitOptions(c)
		io.Log, io.Secret, io.GenerateSecret = g.log, o.Secret, true
		io.Secret.Prompt = false
		if err := initStore(ctx, g.st, io); err != nil {
			return nil, 0, fmt.Errorf("initializing dev data directory: %w", err)
		}
		g.log.Warn("dev mode: initialized the data directory with a generated master secret stored in it; never use --dev in production", "data_dir", c.DataDir)
		if verifier, verifierRev, err = g.st.GetMetaRevision(ctx, metaVerifier); err != nil {
			return nil, 0, fmt.Errorf("reading master-secret verifier: %w", err)
		}
	} else if err != nil {
		return nil, 0, fmt.Errorf("reading master-secret verifier: %w", err)
	}
	secret, err := o.Secret.read(false)
	if err != nil {
		return nil, 0, err
	}
	kr, newVerifier, err := secrets.Unlock(secret, verifier, c.Crypto)
	clear(secret)
	if err != nil {
		if errors.Is(err, secrets.ErrWrongMasterSecret) {
			if !usesDataDirStore(c) {
				return nil, 0, fmt.Errorf("wrong master secret for the %s store (if it was rotated through another gateway, give this one the new secret): %w", c.Store.Backend, ErrWrongMasterSecret)
			}
			return nil, 0, fmt.Errorf("wrong master secret for %s: %w", c.DataDir, ErrWrongMasterSecret)
		}
		return nil, 0, fmt.Errorf("unlocking secrets: %w", err)
	}
	if newVerifier != nil {
		// The crypto settings changed: the data key is now wrapped with the
		// new KDF parameters. Records keep opening; new ones use the new cipher.
		if verifierRev, err = g.st.PutMeta(ctx, metaVerifier, newVerifier, verifierRev); err != nil {
			kr.Close()
			return nil, 0, fmt.Errorf("storing the re-wrapped master key: %w", err)
		}
		g.log.Info("crypto settings changed: master key re-wrapped", "kdf", c.Crypto.KDF.String(), "cipher", c.Crypto.Cipher)
	}
	return kr, verifierRev, nil
}

// listen opens every listener first, so that a port in use fails before
// anything is served.
func (g *gateway) listen(ctx context.Context) error {
	var err error
	lc := net.ListenConfig{Control: congestionControl(g.cfg.Proxy.TCPCongestion)}
	if g.proxyLn, err = lc.Listen(ctx, "tcp", g.cfg.Proxy.Listen); err != nil {
		return fmt.Errorf("proxy listener: %w", err)
	}
	if g.mgmtLn, err = net.Listen("tcp", g.cfg.Management.Listen); err != nil {
		return fmt.Errorf("management listener: %w", err)
	}
	if g.cfg.Metrics.Listen != "" {
		if g.metricsLn, err = net.Listen("tcp", g.cfg.Metrics.Listen); err != nil {
			return fmt.Errorf("metrics listener: %w", err)
		}
	}
	return nil
}

// buildFront makes the proxy's HTTP server, with TLS (and client
// certificates checked against the live client truststore) when configured.
func (g *gateway) buildFront(ctx context.Context, reg prometheus.Registerer) error {
	c := g.cfg
	var err error
	g.front, err = frontend.NewFront(withHealth(g.px, frontend.Health(g.ready.Load)), frontend.ServerOptions{
		MaxHeaderBytes:    c.Proxy.MaxHeaderBytes,
		ReadHeaderTimeout: c.Proxy.ReadHeaderTimeout.D(),
		ReadTimeout:       c.Proxy.ReadTimeout.D(),
		StallTimeout:      c.Proxy.StallTimeout.D(),
		IdleTimeout:       c.Proxy.IdleTimeout.D(),
		Logger:            g.log,
		Registerer:        reg,
		Name:              "proxy",
	}, c.Proxy.Front)
	if err != nil {
		return fmt.Errorf("proxy.front: %w", err)
	}
	if !c.Proxy.TLSEnabled() {
		return nil
	}
	if c.Proxy.ClientAuth != "off" {
		if err := reloadClientCAs(ctx, g.secrets, c.Proxy.ClientTruststore, &g.clientCAs); err != nil {
			return fmt.Errorf("proxy.client_truststore: %w", err)
		}
		if g.clientCAs.Load().Equal(x509.NewCertPool()) {
			g.log.Warn("proxy.client_truststore is empty: no client certificate is accepted until a CA is added (gatewayctl truststore add)",
				"truststore", c.Proxy.ClientTruststore)
		}
	}
	tc, err := frontend.TLSConfig(g.ident.GetCertificate, c.Proxy.ClientAuth, g.clientCAs.Load())
	if err != nil {
		return fmt.Errorf("proxy TLS: %w", err)
	}
	if c.Proxy.ClientAuth != "off" {
		// Each handshake verifies against the truststore as it is now.
		base := tc
		tc = base.Clone()
		tc.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
			cfg := base.Clone()
			cfg.ClientCAs = g.clientCAs.Load()
			return cfg, nil
		}
	}
	g.front.TLSConfig = tc
	return nil
}

// buildManagement makes the gRPC management server and its services.
func (g *gateway) buildManagement(ctx context.Context) error {
	c := g.cfg
	caPEM, err := g.st.GetMeta(ctx, metaCACert)
	if err != nil {
		return fmt.Errorf("reading admin CA: %w", err)
	}
	adminCAs := x509.NewCertPool()
	if !adminCAs.AppendCertsFromPEM(caPEM) {
		return errors.New("admin CA in the store is not a PEM certificate")
	}
	gated := gatedStore{Store: g.st, lost: &g.storeLost}
	g.topo = api.NewTopologyService(gated, g.px, g.rec, g.secrets, g.log)
	auditor := api.NewAuditor(gated, g.log)
	authz := api.NewAuthorizer(c.Management.Principals, auditor)
	info := api.StatusInfo{
		Version:           g.version,
		StartedAt:         g.started,
		ProxyAddress:      g.proxyLn.Addr().String(),
		ManagementAddress: g.mgmtLn.Addr().String(),
		DataDir:           c.DataDir,
		StoreBackend:      c.Store.Backend,
		Gateways:          g.gateways,
	}
	g.mgmt, g.health = api.NewServer(&tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: g.ident.GetCertificate,
		ClientAuth:     tls.RequireAndVerifyClientCert,
		ClientCAs:      adminCAs,
	}, authz, api.Services{
		Topology: g.topo,
		Status:   api.NewStatusService(gated, g.px, g.rec, info),
		Audit:    api.NewAuditService(gated),
		Alias:    g.secrets.AliasServer(),
		PKI:      g.secrets.PKIServer(),
		Group:    api.NewGroupService(g.px),

		Token:       g.tokens.TokenServer(),
		TokenPolicy: g.tokens.PolicyServer(),
	}, g.log)
	return nil
}

// synced follows the reconciler: a gateway that lost its store keeps
// serving its table but reports not ready until it has listed the store
// again, so that load balancers prefer gateways that see changes.
func (g *gateway) synced(ok bool) {
	g.storeLost.Store(!ok)
	if g.stopping.Load() {
		return
	}
	g.ready.Store(ok)
	if reg := g.registration.Load(); reg != nil {
		reg.Update(g.rec.AppliedRevision(), ok)
	}
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if ok {
		st = healthpb.HealthCheckResponse_SERVING
	}
	g.health.SetServingStatus("", st)
}

// run serves until ctx ends or a listener or the reconciler fails, then
// shuts down in the order daemon's doc gives.
func (g *gateway) run(ctx context.Context, ready func(Addrs)) error {
	errc := make(chan error, 4)
	var wg sync.WaitGroup
	serve := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, grpc.ErrServerStopped) {
				errc <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	recCtx, stopReconciler := context.WithCancel(context.WithoutCancel(ctx))
	defer stopReconciler()
	recDone := make(chan struct{})
	go func() {
		defer close(recDone)
		if err := g.rec.Run(recCtx); err != nil {
			errc <- fmt.Errorf("reconciler: %w", err)
		}
	}()
	go g.tokens.Run(recCtx, tokenSweepEvery)
	serve("proxy listener", func() error { return g.front.Serve(g.proxyLn) })
	serve("management listener", func() error { return g.mgmt.Serve(g.mgmtLn) })
	addrs := Addrs{Proxy: g.proxyLn.Addr().String(), Management: g.mgmtLn.Addr().String()}
	if g.metrics != nil {
		serve("metrics listener", func() error { return g.metrics.Serve(g.metricsLn) })
		addrs.Metrics = g.metricsLn.Addr().String()
	}
	g.ready.Store(true)
	g.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	unregister := sync.OnceFunc(g.register(addrs))
	defer unregister()
	g.log.Info("gatewayd serving", "proxy", addrs.Proxy, "management", addrs.Management, "metrics", addrs.Metrics,
		"tls", g.cfg.Proxy.TLSEnabled(), "data_dir", g.cfg.DataDir, "version", g.version)
	if ready != nil {
		ready(addrs)
	}

	var runErr error
	select {
	case <-ctx.Done():
		g.log.Info("shutting down")
	case runErr = <-errc:
		g.log.Error("shutting down after a failure", "err", runErr)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.cfg.Management.ShutdownTimeout.D())
	defer cancel()

	// 1. Not ready: load balancers and health checks look elsewhere.
	g.stopping.Store(true)
	g.ready.Store(false)
	g.health.Shutdown()
	// 2. Stop accepting proxy connections and drain in-flight requests.
	if err := g.front.Shutdown(sctx); err != nil {
		g.log.Warn("proxy did not drain in time; closing", "err", err)
		_ = g.front.Close()
	}
	if g.metrics != nil {
		_ = g.metrics.Shutdown(sctx)
	}
	// 3. Close the connections that left HTTP (upgrades).
	g.closeUpgraded(sctx)
	// 4. Stop gRPC gracefully: in-flight management calls finish (the
	// reconciler still runs, so their changes go live).
	stopped := make(chan struct{})
	go func() { g.mgmt.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-sctx.Done():
		g.log.Warn("management calls did not finish in time; stopping")
		g.mgmt.Stop()
		<-stopped
	}
	wg.Wait()
	// 5. Stop the reconciler.
	stopReconciler()
	<-recDone
	unregister()
	// 6. Close the proxy, the keyring and, last, the store.
	g.close()
	g.log.Info("stopped")
	return runErr
}

// closeUpgraded is step 3 of the shutdown: http.Server.Shutdown does not
// track hijacked connections (WebSocket upgrades); the proxy closes them.
func (g *gateway) closeUpgraded(ctx context.Context) {
	if err := g.px.CloseUpgraded(ctx); err != nil {
		g.log.Warn("upgraded connections did not close in time", "err", err)
	}
}

// close releases what build opened, the store last. It is safe on a
// partly built gateway.
func (g *gateway) close() {
	for _, ln := range []net.Listener{g.proxyLn, g.mgmtLn, g.metricsLn} {
		if ln != nil {
			_ = ln.Close() // already closed by the servers after a run
		}
	}
	if g.px != nil {
		_ = g.px.Close()
	}
	if g.secrets != nil {
		g.secrets.Close()
	}
	if g.st != nil {
		if err := g.st.Close(); err != nil {
			g.log.Error("closing the store", "err", err)
		}
	}
}

// reloadIdentity follows a new TLS identity (secretsvc.Options.OnIdentityChange).
func (g *gateway) reloadIdentity() {
	if err := g.ident.Reload(); err != nil {
		g.log.Error("reloading the TLS identity", "err", err)
	}
}

// secretChanged returns once an alias or truststore change just stored is
// live: the reconciler rebuilt the routes using it, and withdrew those that
// no longer compile, which the error names (secretsvc.Options.OnChange).
func (g *gateway) secretChanged(ctx context.Context, kind, scope, name string) error {
	rev, err := g.st.Revision(ctx)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, secretLiveTimeout)
	defer cancel()
	if err := g.rec.WaitFor(wctx, rev); err != nil {
		return fmt.Errorf("the routes using %s %q are not rebuilt yet (revision %d): %w", kind, name, rev, err)
	}
	return g.rec.Withdrawn(kind, scope, name)
}

// guardAliasDelete is the check of an alias deletion: no stored topology
// uses it (secretsvc.Options.GuardDelete).
func guardAliasDelete(scope, name string) store.Check {
	return api.Unused(name, secretUser(store.KindAlias, scope, name))
}

// replayCache is the replay cache every provider shares: this process's
// alone, or shared by the gateways on the same etcd prefix
// (proxy.replay_cache_scope).
func (g *gateway) replayCache(c config.Config) chain.ReplayCache {
	local := replay.New(c.Proxy.ReplayCacheSize, nil)
	es, ok := g.st.(*etcd.Store)
	if !ok || c.ReplayScope() != config.ReplayScopeCluster {
		return local
	}
	return replay.NewShared(local, es, c.Store.Etcd.RequestTimeout.D(), g.log)
}

// truststoreChanged reloads the front's client truststore when it changed
// (reconcile.Options.OnTruststore).
func (g *gateway) truststoreChanged(ctx context.Context, name string) {
	if name != g.cfg.Proxy.ClientTruststore || g.cfg.Proxy.ClientAuth == "off" {
		return
	}
	if err := reloadClientCAs(ctx, g.secrets, name, &g.clientCAs); err != nil {
		g.log.ErrorContext(ctx, "reloading the proxy's client truststore; the previous one stays in use", "truststore", name, "err", err)
	}
}
