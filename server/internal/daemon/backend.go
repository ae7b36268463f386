package daemon

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/securegw/gateway/server/internal/config"
	"github.com/securegw/gateway/store"
	"github.com/securegw/gateway/store/etcd"
)

// openBackend opens the store that store.backend names.
func openBackend(ctx context.Context, c config.Config, log *slog.Logger) (store.Store, error) {
	switch c.Store.Backend {
	case config.StoreBackendBolt:
		s, err := openStore(c, log)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return s, nil
	case config.StoreBackendEtcd:
		s, err := openEtcd(ctx, c, log)
		if err != nil {
			return nil, err
		}
		return s, nil
	default: // config.Validate refuses it first
		return nil, fmt.Errorf("store.backend: %q is not supported (supported: %s, %s)", c.Store.Backend, config.StoreBackendBolt, config.StoreBackendEtcd)
	}
}

// openEtcd connects to the etcd cluster of store.etcd.
func openEtcd(ctx context.Context, c config.Config, log *slog.Logger) (*etcd.Store, error) {
	e := c.Store.Etcd
	opts := etcd.Options{
		Endpoints:      e.Endpoints,
		Prefix:         e.Prefix,
		Username:       e.Username,
		RequestTimeout: e.RequestTimeout.D(),
		HistoryLimit:   c.Store.HistoryLimit,
		AuditLimit:     c.Store.AuditLimit,
		Logger:         log,
	}
	if e.CAFile != "" || e.CertFile != "" {
		tc, err := etcdTLS(e)
		if err != nil {
			return nil, err
		}
		opts.TLS = tc
	}
	if e.PasswordFile != "" {
		b, err := os.ReadFile(e.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("store.etcd.password_file: %w", err)
		}
		opts.Password = strings.TrimRight(string(b), "\r\n")
		clear(b)
	}
	return etcd.Open(ctx, opts)
}

// etcdTLS builds the client TLS configuration from store.etcd's files.
func etcdTLS(e config.Etcd) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if e.CAFile != "" {
		pem, err := os.ReadFile(e.CAFile)
		if err != nil {
			return nil, fmt.Errorf("store.etcd.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("store.etcd.ca_file %s: no PEM certificate", e.CAFile)
		}
		tc.RootCAs = pool
	}
	if e.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(e.CertFile, e.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("store.etcd.cert_file/key_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// ensureDataDir creates the data directory (0700) of a gateway whose
// store is not in it.
func ensureDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating data directory: %w", err)
	}
	return nil
}

// usesDataDirStore reports whether the store lives in the data directory
// (bbolt); an etcd store is shared, and the data directory only holds this
// gateway's local files.
func usesDataDirStore(c config.Config) bool { return c.Store.Backend != config.StoreBackendEtcd }
