package daemon

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"

	"github.com/securegw/gateway/internal/pki"
	"github.com/securegw/gateway/internal/secrets"
	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy/frontend"
	"github.com/securegw/gateway/server/internal/config"
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

// Serve runs the daemon until ctx ends, then shuts it down in order (see
// the package doc): build assembles the gateway from its configuration,
// run serves it.
func Serve(ctx context.Context, o ServeOptions) error {
	g, err := build(ctx, o)
	if err != nil {
		return err
	}
	return g.run(ctx, o.Ready)
}

// withHealth serves /healthz and /readyz on the proxy port too, for load
// balancers, and everything else through the proxy.
// It is a frontend.ContextHandler, as the proxy is, so that the lean front
// copies a request once.
func withHealth(p frontend.ContextHandler, h http.Handler) frontend.ContextHandler {
	return frontend.ContextHandlerFunc(func(ctx context.Context, w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz", "/readyz":
			h.ServeHTTP(w, r.WithContext(ctx))
		default:
			p.ServeHTTPContext(ctx, w, r)
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
