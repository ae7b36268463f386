package daemon

import (
	"path/filepath"

	"github.com/securegw/gateway/server/internal/secretsvc"
)

// Files of a data directory.
const (
	storeFile         = "gateway.db"
	caFile            = "ca.pem"
	adminCertFile     = "admin.pem"
	adminKeyFile      = "admin-key.pem"
	gatewayctlFile    = "gatewayctl.yaml"
	devSecretFile     = "master.secret"
	adminPrincipal    = "admin"
	adminCACommonName = "gateway admin CA"
)

// Meta keys in the store, shared with the secrets service.
const (
	metaVerifier = secretsvc.MetaVerifier
	metaCACert   = secretsvc.MetaCACert
	metaCAKey    = secretsvc.MetaCAKey
	metaTLSCert  = secretsvc.MetaTLSCert
	metaTLSKey   = secretsvc.MetaTLSKey
)

// Layout names the files of a data directory.
type Layout struct{ Dir string }

// Store is the bbolt file.
func (l Layout) Store() string { return filepath.Join(l.Dir, storeFile) }

// CA is the admin CA certificate (public).
func (l Layout) CA() string { return filepath.Join(l.Dir, caFile) }

// AdminCert is the admin client certificate.
func (l Layout) AdminCert() string { return filepath.Join(l.Dir, adminCertFile) }

// AdminKey is the admin client key (0600).
func (l Layout) AdminKey() string { return filepath.Join(l.Dir, adminKeyFile) }

// Gatewayctl is the gatewayctl config file.
func (l Layout) Gatewayctl() string { return filepath.Join(l.Dir, gatewayctlFile) }

// initFiles are the files init creates, the store first.
func (l Layout) initFiles() []string {
	return []string{l.Store(), l.CA(), l.AdminCert(), l.AdminKey(), l.Gatewayctl()}
}

// DevSecret is the master secret file of a --dev data dir.
func (l Layout) DevSecret() string { return filepath.Join(l.Dir, devSecretFile) }
