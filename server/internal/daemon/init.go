package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/securegw/gateway/internal/pki"
	"github.com/securegw/gateway/internal/secrets"
	"github.com/securegw/gateway/server/internal/config"
	"github.com/securegw/gateway/store"
	"github.com/securegw/gateway/store/bolt"
)

// ErrInitialized is returned by Init on a data dir that already has one.
var ErrInitialized = errors.New("data directory is already initialized")

// InitOptions configure Init.
type InitOptions struct {
	Config config.Config
	Secret SecretSource
	// GenerateSecret creates a random master secret and writes it to
	// Secret.File (which must not exist) instead of reading one.
	GenerateSecret bool
	// Hostnames and IPs of the TLS identity; default: localhost, 127.0.0.1,
	// ::1 and the machine's host name.
	Hostnames []string
	// Key types of the CA, TLS identity and admin certificate.
	CAKey, TLSKey, ClientKey pki.KeySpec
	CAValidity               time.Duration
	TLSValidity              time.Duration
	ClientValidity           time.Duration
	Log                      *slog.Logger
	Out                      io.Writer
}

// DefaultInitOptions returns options with ECDSA P-256 keys, a 10-year CA,
// 825-day TLS identity and 1-year admin certificate.
func DefaultInitOptions(c config.Config) InitOptions {
	return InitOptions{
		Config:         c,
		CAKey:          pki.DefaultKeySpec(),
		TLSKey:         pki.DefaultKeySpec(),
		ClientKey:      pki.DefaultKeySpec(),
		CAValidity:     10 * 365 * 24 * time.Hour,
		TLSValidity:    825 * 24 * time.Hour,
		ClientValidity: 365 * 24 * time.Hour,
		Log:            slog.New(slog.DiscardHandler),
		Out:            io.Discard,
	}
}

func openStore(c config.Config, log *slog.Logger) (*bolt.Store, error) {
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	// The data dir holds the admin key and the store: nobody else may read it.
	if fi, err := os.Stat(c.DataDir); err == nil && fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(c.DataDir, fi.Mode().Perm()&0o700); err != nil {
			return nil, fmt.Errorf("restricting data directory permissions: %w", err)
		}
		log.Warn("data directory was accessible to other users; restricted it to its owner", "data_dir", c.DataDir, "was", fi.Mode().Perm().String())
	}
	s, err := bolt.Open(Layout{c.DataDir}.Store(), bolt.Options{
		LockTimeout:  c.Store.LockTimeout.D(),
		HistoryLimit: c.Store.HistoryLimit,
		AuditLimit:   c.Store.AuditLimit,
		Logger:       log,
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Init creates the gateway's identity in a data directory. What can be
// checked is checked before anything is created; on a later failure, the
// files and directory this call created are removed again.
func Init(ctx context.Context, o InitOptions) (err error) {
	if err := o.Config.Validate(); err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	l := Layout{o.Config.DataDir}
	if _, err := os.Stat(l.Store()); err == nil || !usesDataDirStore(o.Config) {
		// Say "already initialized" before asking for a secret.
		if err := checkNotInitialized(ctx, o); err != nil {
			return err
		}
	}
	if err := o.checkSecretSource(); err != nil {
		return err
	}
	created := missing(append([]string{o.Config.DataDir}, l.initFiles()...))
	if o.GenerateSecret {
		created = append(created, missing([]string{o.Secret.File})...)
	}
	defer func() {
		if err != nil {
			removeCreated(created)
		}
	}()
	if !usesDataDirStore(o.Config) {
		if err := ensureDataDir(o.Config.DataDir); err != nil {
			return err
		}
	}
	s, err := openBackend(ctx, o.Config, o.Log)
	if err != nil {
		return err
	}
	defer s.Close()
	return initStore(ctx, s, o)
}

func checkNotInitialized(ctx context.Context, o InitOptions) error {
	s, err := openBackend(ctx, o.Config, o.Log)
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := s.GetMeta(ctx, metaVerifier); err == nil {
		return fmt.Errorf("%s: %w", o.Config.DataDir, ErrInitialized)
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("reading store: %w", err)
	}
	return nil
}

// checkSecretSource fails, naming the path at fault, when the master secret
// cannot be read or generated where the options say.
func (o InitOptions) checkSecretSource() error {
	f := o.Secret.File
	switch {
	case o.GenerateSecret && f == "":
		return errors.New("--generate needs --master-secret-file, the file to write the new secret to")
	case o.GenerateSecret:
		if _, err := os.Stat(f); err == nil {
			return fmt.Errorf("%s exists; refusing to overwrite a master secret", f)
		}
		dir := filepath.Dir(f)
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return fmt.Errorf("--master-secret-file %s: directory %s does not exist; create it first (mode 0700)", f, dir)
		}
	case f != "":
		r, err := os.Open(f)
		if err != nil {
			return fmt.Errorf("reading master secret file: %w", err)
		}
		r.Close()
	}
	return nil
}

// missing returns the paths that do not exist (yet).
func missing(paths []string) []string {
	var out []string
	for _, p := range paths {
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			out = append(out, p)
		}
	}
	return out
}

// removeCreated undoes a failed init: files first, then the directory
// (first in the list) if this init created it.
func removeCreated(paths []string) {
	for i := len(paths) - 1; i >= 0; i-- {
		_ = os.Remove(paths[i])
	}
}

// requireInitialized fails, creating nothing, unless dir holds a store.
func requireInitialized(dir string) error {
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("data directory %s does not exist: run gatewayd init --data-dir %s (or serve --dev)", dir, dir)
	}
	if _, err := os.Stat(Layout{dir}.Store()); err != nil {
		return fmt.Errorf("data directory %s is not initialized (no %s): run gatewayd init --data-dir %s (or serve --dev)", dir, storeFile, dir)
	}
	return nil
}

func initStore(ctx context.Context, s store.Store, o InitOptions) error {
	if _, err := s.GetMeta(ctx, metaVerifier); err == nil {
		return fmt.Errorf("%s: %w", o.Config.DataDir, ErrInitialized)
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("reading store: %w", err)
	}
	if err := o.checkSecretSource(); err != nil {
		return err
	}
	if o.GenerateSecret {
		generated, err := generateSecretFile(o.Secret.File)
		if err != nil {
			return err
		}
		clear(generated) // read back below, like any secret file
	}
	secret, err := o.Secret.read(true)
	if err != nil {
		return err
	}
	defer clear(secret)
	kr, verifier, err := secrets.Unlock(secret, nil, o.Config.Crypto)
	if err != nil {
		return fmt.Errorf("deriving keys from the master secret: %w", err)
	}
	defer kr.Close()

	ca, err := pki.NewCA(adminCACommonName, o.CAKey, o.CAValidity)
	if err != nil {
		return fmt.Errorf("creating admin CA: %w", err)
	}
	hosts := o.Hostnames
	if len(hosts) == 0 {
		hosts = defaultHostnames()
	}
	tlsCert, tlsKey, err := ca.IssueServer(hosts, o.TLSKey, o.TLSValidity)
	if err != nil {
		return fmt.Errorf("creating TLS identity: %w", err)
	}
	adminCert, adminKey, err := ca.IssueClient(adminPrincipal, nil, o.ClientKey, o.ClientValidity)
	if err != nil {
		return fmt.Errorf("creating admin client certificate: %w", err)
	}
	caKey, err := ca.KeyPEM()
	if err != nil {
		return fmt.Errorf("encoding CA key: %w", err)
	}
	sealedCA, err := kr.Seal(metaCAKey, caKey)
	if err != nil {
		return fmt.Errorf("sealing CA key: %w", err)
	}
	sealedTLS, err := kr.Seal(metaTLSKey, tlsKey)
	if err != nil {
		return fmt.Errorf("sealing TLS key: %w", err)
	}
	// One transaction: the data dir is initialized whole or not at all.
	keep := func(o store.Object) ([]byte, error) { return o.Value, nil }
	if _, err := s.RewriteObjects(ctx, nil, keep, map[string][]byte{
		metaVerifier: verifier,
		metaCACert:   ca.CertPEM(),
		metaCAKey:    sealedCA,
		metaTLSCert:  tlsCert,
		metaTLSKey:   sealedTLS,
	}); err != nil {
		return fmt.Errorf("storing the gateway identity: %w", err)
	}
	l := Layout{o.Config.DataDir}
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{l.CA(), ca.CertPEM(), 0o644},
		{l.AdminCert(), adminCert, 0o644},
		{l.AdminKey(), adminKey, 0o600},
	} {
		if err := pki.WriteFileAtomic(f.path, f.data, f.mode); err != nil {
			return fmt.Errorf("writing %s: %w", f.path, err)
		}
	}
	if err := writeGatewayctlConfig(l, o.Config.Management.Listen); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "Initialized %s: admin CA, TLS identity for %v, admin client certificate.\n", o.Config.DataDir, hosts)
	fmt.Fprintf(o.Out, "gatewayctl config: %s\n", l.Gatewayctl())
	return nil
}

func defaultHostnames() []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" && net.ParseIP(h) == nil {
		hosts = append(hosts, h)
	}
	return hosts
}

// writeGatewayctlConfig writes the gatewayctl config of the admin user.
// Paths are relative to the file, so the data dir can move.
func writeGatewayctlConfig(l Layout, server string) error {
	host, port, err := net.SplitHostPort(server)
	if err == nil && (host == "" || host == "0.0.0.0" || host == "::") {
		server = net.JoinHostPort("127.0.0.1", port)
	}
	doc := fmt.Sprintf(`# gatewayctl configuration written by gatewayd.
# Use it with: export GATEWAYCTL_CONFIG=%s
server: %s
ca: %s
cert: %s
key: %s
server_name: localhost
`, l.Gatewayctl(), server, caFile, adminCertFile, adminKeyFile)
	if err := pki.WriteFileAtomic(l.Gatewayctl(), []byte(doc), 0o600); err != nil {
		return fmt.Errorf("writing gatewayctl config: %w", err)
	}
	return nil
}
