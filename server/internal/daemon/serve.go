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
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/securegw/gateway/internal/pki"
	"github.com/securegw/gateway/internal/secrets"
	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy"
	"github.com/securegw/gateway/proxy/frontend"
	"github.com/securegw/gateway/server/internal/api"
	"github.com/securegw/gateway/server/internal/config"
	"github.com/securegw/gateway/server/internal/secretsvc"
	"github.com/securegw/gateway/store"
)

// ServeOptions configure Serve.
type ServeOptions struct {
	Config config.Config
	Secret SecretSource
	// Dev initializes the data dir when needed, with a generated master
	// secret kept in the data dir (never do this in production).
	Dev     bool
	Version string
	Log     *slog.Logger
	// Ready, if set, is called once every listener accepts connections.
	Ready func(Addrs)
}

// Addrs are the addresses the daemon listens on.
type Addrs struct {
	Proxy      string
	Management string
	Metrics    string
}

// ErrWrongMasterSecret is returned when the master secret does not open the
// data dir; nothing has been written.
var ErrWrongMasterSecret = secrets.ErrWrongMasterSecret

// Serve runs the daemon until ctx ends, then shuts it down in order.
func Serve(ctx context.Context, o ServeOptions) error {
	c := o.Config
	log := o.Log
	if err := c.Validate(); err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	l := Layout{c.DataDir}
	if o.Dev && o.Secret.File == "" && o.Secret.Env == "" {
		o.Secret.File = l.DevSecret()
	}
	if !o.Dev {
		if err := requireInitialized(c.DataDir); err != nil {
			return err
		}
	}
	st, err := openStore(c, log)
	if err != nil {
		return err
	}
	// The store is closed last, after every listener has stopped.
	defer st.Close()

	verifier, verifierRev, err := st.GetMetaRevision(ctx, metaVerifier)
	if errors.Is(err, store.ErrNotFound) {
		if !o.Dev {
			return fmt.Errorf("data directory %s is not initialized: run gatewayd init (or serve --dev)", c.DataDir)
		}
		io := DefaultInitOptions(c)
		io.Log, io.Secret, io.GenerateSecret = log, o.Secret, true
		io.Secret.Prompt = false
		if err := initStore(ctx, st, io); err != nil {
			return fmt.Errorf("initializing dev data directory: %w", err)
		}
		log.Warn("dev mode: initialized the data directory with a generated master secret stored in it; never use --dev in production", "data_dir", c.DataDir)
		if verifier, verifierRev, err = st.GetMetaRevision(ctx, metaVerifier); err != nil {
			return fmt.Errorf("reading master-secret verifier: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("reading master-secret verifier: %w", err)
	}
	secret, err := o.Secret.read(false)
	if err != nil {
		return err
	}
	kr, newVerifier, err := secrets.Unlock(secret, verifier, c.Crypto)
	clear(secret)
	if err != nil {
		if errors.Is(err, secrets.ErrWrongMasterSecret) {
			return fmt.Errorf("wrong master secret for %s: %w", c.DataDir, ErrWrongMasterSecret)
		}
		return fmt.Errorf("unlocking secrets: %w", err)
	}
	// The secrets service owns the keyring from here: a master rotation
	// replaces it, and Close closes whichever is live.
	var (
		ident     *pki.Reloader
		topoSvc   *api.TopologyService
		clientCAs atomic.Pointer[x509.CertPool] // the front's client truststore, reloaded on change
		svc       *secretsvc.Service
	)
	svc = secretsvc.New(st, kr, secretsvc.Options{
		Settings: c.Crypto,
		Log:      log,
		OnIdentityChange: func() {
			if err := ident.Reload(); err != nil {
				log.Error("reloading the TLS identity", "err", err)
			}
		},
		// A changed alias or truststore reaches the live routes built from
		// it at once: rotating a leaked secret or removing a CA takes effect.
		OnChange: func(ctx context.Context, kind, scope, name string) error {
			if kind == store.KindTruststore && name == c.Proxy.ClientTruststore && c.Proxy.ClientAuth != "off" {
				if err := reloadClientCAs(ctx, svc, name, &clientCAs); err != nil {
					return err
				}
			}
			return topoSvc.Reapply(ctx, secretUser(kind, scope, name))
		},
		GuardDelete: func(ctx context.Context, scope, name string, del func() error) error {
			return topoSvc.Guard(ctx, secretUser(store.KindAlias, scope, name), del)
		},
		RotateFailpoint: rotateFailpoint(log),
		OnMasterRotated: devSecretWriter(o, l),
	})
	defer svc.Close()
	if newVerifier != nil {
		// The crypto settings changed: the data key is now wrapped with the
		// new KDF parameters. Records keep opening; new ones use the new cipher.
		if _, err := st.PutMeta(ctx, metaVerifier, newVerifier, verifierRev); err != nil {
			return fmt.Errorf("storing the re-wrapped master key: %w", err)
		}
		log.Info("crypto settings changed: master key re-wrapped", "kdf", c.Crypto.KDF.String(), "cipher", c.Crypto.Cipher)
	}
	if c.Crypto.AllowWeak {
		log.Warn("crypto.allow_weak is set: weak KDF settings are accepted", "kdf", c.Crypto.KDF.String())
	}

	ident, err = pki.NewReloader(func() (*tls.Certificate, error) { return svc.LoadIdentity(ctx) })
	if err != nil {
		return fmt.Errorf("loading TLS identity: %w", err)
	}
	caPEM, err := st.GetMeta(ctx, metaCACert)
	if err != nil {
		return fmt.Errorf("reading admin CA: %w", err)
	}
	adminCAs := x509.NewCertPool()
	if !adminCAs.AppendCertsFromPEM(caPEM) {
		return errors.New("admin CA in the store is not a PEM certificate")
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	trusted, err := c.Proxy.TrustedPrefixes()
	if err != nil {
		return err
	}
	px, err := proxy.New(proxy.Config{
		PathPrefix:     c.Proxy.PathPrefix,
		UpgradeGrace:   c.Proxy.UpgradeGrace.D(),
		TrustedProxies: trusted,
		Logger:         log,
		Registerer:     reg,
		Resolver:       svc,
		Truststores:    svc,
	})
	if err != nil {
		return fmt.Errorf("creating proxy: %w", err)
	}
	defer px.Close()
	start := time.Now()
	all, failed, err := api.LoadAll(ctx, st, px, log)
	if err != nil {
		return err
	}
	gen := px.Load(all)
	// Loading decoded and compiled every stored topology: hand that garbage
	// back to the OS now rather than carry it as resident memory.
	debug.FreeOSMemory()
	log.Info("routing table loaded", "topologies", len(all), "failed", len(failed), "generation", gen, "took", time.Since(start))

	// Listeners first, so that a port in use fails before anything is served.
	proxyLn, err := net.Listen("tcp", c.Proxy.Listen)
	if err != nil {
		return fmt.Errorf("proxy listener: %w", err)
	}
	defer proxyLn.Close()
	mgmtLn, err := net.Listen("tcp", c.Management.Listen)
	if err != nil {
		return fmt.Errorf("management listener: %w", err)
	}
	defer mgmtLn.Close()
	var metricsLn net.Listener
	if c.Metrics.Listen != "" {
		if metricsLn, err = net.Listen("tcp", c.Metrics.Listen); err != nil {
			return fmt.Errorf("metrics listener: %w", err)
		}
		defer metricsLn.Close()
	}

	var ready atomic.Bool
	ready.Store(true)
	health := frontend.Health(ready.Load)
	front := frontend.NewServer(withHealth(px, health), frontend.ServerOptions{
		MaxHeaderBytes:    c.Proxy.MaxHeaderBytes,
		ReadHeaderTimeout: c.Proxy.ReadHeaderTimeout.D(),
		ReadTimeout:       c.Proxy.ReadTimeout.D(),
		IdleTimeout:       c.Proxy.IdleTimeout.D(),
		Logger:            log,
		Registerer:        reg,
		Name:              "proxy",
	})
	if c.Proxy.TLSEnabled() {
		if c.Proxy.ClientAuth != "off" {
			if err := reloadClientCAs(ctx, svc, c.Proxy.ClientTruststore, &clientCAs); err != nil {
				return fmt.Errorf("proxy.client_truststore: %w", err)
			}
			if clientCAs.Load().Equal(x509.NewCertPool()) {
				log.Warn("proxy.client_truststore is empty: no client certificate is accepted until a CA is added (gatewayctl truststore add)",
					"truststore", c.Proxy.ClientTruststore)
			}
		}
		tc, err := frontend.TLSConfig(ident.GetCertificate, c.Proxy.ClientAuth, clientCAs.Load())
		if err != nil {
			return fmt.Errorf("proxy TLS: %w", err)
		}
		if c.Proxy.ClientAuth != "off" {
			// Each handshake verifies against the truststore as it is now.
			base := tc
			tc = base.Clone()
			tc.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
				cfg := base.Clone()
				cfg.ClientCAs = clientCAs.Load()
				return cfg, nil
			}
		}
		front.TLSConfig = tc
	}

	topoSvc = api.NewTopologyService(st, px, svc, log)
	auditor := api.NewAuditor(st, log)
	authz := api.NewAuthorizer(c.Management.Principals, auditor)
	info := api.StatusInfo{
		Version:           o.Version,
		StartedAt:         start,
		ProxyAddress:      proxyLn.Addr().String(),
		ManagementAddress: mgmtLn.Addr().String(),
		DataDir:           c.DataDir,
	}
	gs, hs := api.NewServer(&tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: ident.GetCertificate,
		ClientAuth:     tls.RequireAndVerifyClientCert,
		ClientCAs:      adminCAs,
	}, authz, api.Services{
		Topology: topoSvc,
		Status:   api.NewStatusService(st, px, info),
		Audit:    api.NewAuditService(st),
		Alias:    svc.AliasServer(),
		PKI:      svc.PKIServer(),
		Group:    api.NewGroupService(px),
	}, log)
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)

	var metricsSrv *http.Server
	if metricsLn != nil {
		mux := http.NewServeMux()
		mux.Handle("/metrics", frontend.Metrics(reg))
		mux.Handle("/", health)
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	}
	if err := writeGatewayctlConfig(l, mgmtLn.Addr().String()); err != nil {
		return err
	}

	errc := make(chan error, 3)
	var wg sync.WaitGroup
	serve := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, grpc.ErrServerStopped) {
				errc <- fmt.Errorf("%s listener: %w", name, err)
			}
		}()
	}
	serve("proxy", func() error {
		if front.TLSConfig != nil {
			return front.ServeTLS(proxyLn, "", "")
		}
		return front.Serve(proxyLn)
	})
	serve("management", func() error { return gs.Serve(mgmtLn) })
	addrs := Addrs{Proxy: proxyLn.Addr().String(), Management: mgmtLn.Addr().String()}
	if metricsSrv != nil {
		serve("metrics", func() error { return metricsSrv.Serve(metricsLn) })
		addrs.Metrics = metricsLn.Addr().String()
	}
	log.Info("gatewayd serving", "proxy", addrs.Proxy, "management", addrs.Management, "metrics", addrs.Metrics,
		"tls", c.Proxy.TLSEnabled(), "data_dir", c.DataDir, "version", o.Version)
	if o.Ready != nil {
		o.Ready(addrs)
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case runErr = <-errc:
		log.Error("listener failed; shutting down", "err", runErr)
	}
	// 1. Not ready, stop accepting; 2. drain HTTP; 3. stop gRPC gracefully.
	ready.Store(false)
	hs.Shutdown()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.Management.ShutdownTimeout.D())
	defer cancel()
	var sdwg sync.WaitGroup
	sdwg.Add(1)
	go func() {
		defer sdwg.Done()
		if err := front.Shutdown(sctx); err != nil {
			log.Warn("proxy did not drain in time; closing", "err", err)
			_ = front.Close()
		}
		// Hijacked connections (WebSocket) are not the server's to drain.
		if err := px.CloseUpgraded(sctx); err != nil {
			log.Warn("upgraded connections did not close in time", "err", err)
		}
		if metricsSrv != nil {
			_ = metricsSrv.Shutdown(sctx)
		}
	}()
	stopped := make(chan struct{})
	go func() { gs.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-sctx.Done():
		log.Warn("management calls did not finish in time; stopping")
		gs.Stop()
		<-stopped
	}
	sdwg.Wait()
	wg.Wait()
	// 4. proxy and 5. store are closed by the deferred calls, store last.
	log.Info("stopped")
	return runErr
}

// withHealth serves /healthz and /readyz on the proxy port too, for load
// balancers, and everything else through the proxy.
func withHealth(p, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz", "/readyz":
			h.ServeHTTP(w, r)
		default:
			p.ServeHTTP(w, r)
		}
	})
}

// truststores is what reloadClientCAs needs of the secrets service.
type truststores interface {
	Truststore(ctx context.Context, name string) (*x509.CertPool, error)
}

// reloadClientCAs loads the named truststore into dst. A truststore that
// does not exist (not added yet, or its last certificate removed) is an
// empty pool: no client certificate verifies.
func reloadClientCAs(ctx context.Context, ts truststores, name string, dst *atomic.Pointer[x509.CertPool]) error {
	pool, err := ts.Truststore(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		pool = x509.NewCertPool()
	case err != nil:
		return err
	}
	dst.Store(pool)
	return nil
}

// secretUser says which topologies use a changed alias or truststore.
func secretUser(kind, scope, name string) func(*topology.Topology) bool {
	return func(t *topology.Topology) bool {
		switch kind {
		case store.KindTruststore:
			return t.UsesTruststore(name)
		case store.KindAlias:
			return (scope == "" || t.Name == scope) && t.UsesAlias(name)
		}
		return false
	}
}

// EnvRotateFailpoint names the crash-test failpoint: with it set to N, the
// process kills itself (SIGKILL) inside a master rotation's transaction
// after resealing N aliases. End-to-end tests use it to prove that a crash
// mid-rotation leaves the old state whole; never set it in production.
const EnvRotateFailpoint = "GATEWAYD_FAILPOINT_ROTATE_KILL_AFTER"

func rotateFailpoint(log *slog.Logger) func(int) error {
	v := os.Getenv(EnvRotateFailpoint)
	if v == "" {
		return nil
	}
	after, err := strconv.Atoi(v)
	if err != nil || after < 1 {
		log.Warn("ignoring an invalid crash-test failpoint", "env", EnvRotateFailpoint)
		return nil
	}
	log.Warn("crash-test failpoint armed: this process kills itself during a master rotation", "env", EnvRotateFailpoint, "after", after)
	return func(n int) error {
		if n >= after {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
		return nil
	}
}

// devSecretWriter keeps a --dev daemon's master-secret file (in its data
// dir) in step with a rotation, so that it restarts; nil otherwise.
func devSecretWriter(o ServeOptions, l Layout) func([]byte) error {
	if !o.Dev || o.Secret.File != l.DevSecret() {
		return nil
	}
	return func(secret []byte) error {
		if err := pki.WriteFileAtomic(l.DevSecret(), append(append([]byte(nil), secret...), '\n'), 0o600); err != nil {
			return fmt.Errorf("writing the dev master secret file: %w", err)
		}
		return nil
	}
}
