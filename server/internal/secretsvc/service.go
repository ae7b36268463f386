package secretsvc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/securegw/gateway/internal/secrets"
	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
	"github.com/securegw/gateway/server/internal/apierr"
	"github.com/securegw/gateway/store"
)

// Meta keys of the values the daemon keeps besides objects. The sealed ones
// use their key as the record's additional data.
const (
	MetaVerifier = "master/verifier"
	MetaCACert   = "pki/ca-cert"
	MetaCAKey    = "pki/ca-key"
	MetaTLSCert  = "pki/tls-cert"
	MetaTLSKey   = "pki/tls-key"
	// MetaTokenKeys holds the token service's signing keys.
	MetaTokenKeys = "tokens/signing-keys"
)

// Options configure a Service.
type Options struct {
	// Settings are the crypto settings of the gateway (crypto: in
	// gateway.yaml); a rotation seals with them.
	Settings secrets.Settings
	// Log receives events (never a secret). Nil discards them.
	Log *slog.Logger
	// OnIdentityChange is called after a new TLS identity is stored, for
	// example the Reload of the pki.Reloader serving LoadIdentity.
	OnIdentityChange func()
	// OnChange is called after an alias or a truststore changed (kind is
	// store.KindAlias or store.KindTruststore; topology is the alias's
	// scope, "" for the gateway), so that live routes built from the old
	// value are rebuilt. Its error is the caller's: the change is stored.
	OnChange func(ctx context.Context, kind, topology, name string) error
	// GuardDelete returns the check an alias deletion must pass (no stored
	// topology uses the alias), run by the store in the deletion's
	// transaction so that no deploy through any gateway interleaves. Nil:
	// deletions are unguarded.
	GuardDelete func(topology, name string) store.Check
	// OnMasterRotated is called with the new master secret once a rotation
	// committed (a --dev daemon keeps its secret in the data dir).
	OnMasterRotated func(newSecret []byte) error
	// OnDataKey is called with the live keyring each time the data key
	// changed: a rotation with a new data key through this gateway, or one
	// through another gateway sharing the store that this one followed.
	// Keys derived from the data key (the datanode sealing key) follow it.
	OnDataKey func(kr *secrets.Keyring)
	// RotateFailpoint, for crash tests only, runs inside a master rotation's
	// transaction after each alias is resealed (n counts them).
	RotateFailpoint func(n int) error
}

// changed reports a stored change to OnChange, logging its failure: the
// change is durable, but some live route may still use the old value.
func (s *Service) changed(ctx context.Context, kind, topology, name string) error {
	if s.opts.OnChange == nil {
		return nil
	}
	if err := s.opts.OnChange(ctx, kind, topology, name); err != nil {
		s.log.ErrorContext(ctx, "rebuilding the routes that use a changed "+kind, "name", name, "err", err)
		return apierr.Errorf(apierr.Incomplete, "the %s change to %q is stored, but: %v", kind, name, err)
	}
	return nil
}

// Service keeps aliases, the master key, the TLS identity and truststores.
// It is safe for concurrent use.
type Service struct {
	st         store.Store
	settings   secrets.Settings
	log        *slog.Logger
	onIdentity func()
	opts       Options

	// kr is the live keyring. next is, during a rotation, the keyring
	// that replaces it once the rewrite commits.
	kr   atomic.Pointer[secrets.Keyring]
	next atomic.Pointer[secrets.Keyring]

	// mu serialises every write of sealed data and every keyring change.
	mu sync.Mutex

	// Test hooks. resealed runs inside RotateMaster's rewrite after each
	// alias is resealed (n counts them); an error aborts the rewrite.
	// committed runs after the rewrite committed, before the swap.
	// metaRead runs after a rotation read what it reseals, before the
	// rewrite.
	resealed  func(n int) error
	committed func()
	metaRead  func()
}

// New returns the service over a store and the keyring unlocked from it.
// The service owns kr from now on: a rotation closes it, and so does Close.
func New(st store.Store, kr *secrets.Keyring, o Options) *Service {
	s := &Service{
		st:         st,
		settings:   o.Settings.WithDefaults(),
		log:        o.Log,
		onIdentity: o.OnIdentityChange,
		opts:       o,
		resealed:   o.RotateFailpoint,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.kr.Store(kr)
	return s
}

// Keyring returns the live keyring. A rotation replaces it (and closes the
// old one): do not keep it.
func (s *Service) Keyring() *secrets.Keyring { return s.kr.Load() }

// Close closes the live keyring; calls needing it then fail. Call it at
// shutdown instead of closing the keyring given to New, which a rotation
// may have replaced.
func (s *Service) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kr.Load().Close()
}

// AliasServer returns the AliasService implementation.
func (s *Service) AliasServer() gatewayv1.AliasServiceServer { return aliasServer{s: s} }

// PKIServer returns the PKIService implementation.
func (s *Service) PKIServer() gatewayv1.PKIServiceServer { return pkiServer{s: s} }

// openLive reads a sealed record with read and opens it with the live
// keyring. A rotation may commit between loading the keyring and reading
// the record (the record is then sealed under the next keyring), or swap
// and close the keyring before Open (the record read is then an old one):
// either way the record is read and opened again. A record sealed under a
// data key that another gateway rotated in makes the keyring follow it
// (see Follow) and is opened again.
func (s *Service) openLive(ctx context.Context, aad string, read func() ([]byte, error)) ([]byte, error) {
	var err error
	followed := false
	for range 3 {
		kr := s.kr.Load()
		var sealed, plain []byte
		if sealed, err = read(); err != nil {
			return nil, err
		}
		if plain, err = kr.Open(aad, sealed); err == nil {
			return plain, nil
		}
		if !errors.Is(err, secrets.ErrUnknownKey) && !errors.Is(err, secrets.ErrClosed) {
			return nil, err
		}
		next := s.next.Load() // before checking kr: next is cleared only after kr changes
		if s.kr.Load() != kr {
			continue
		}
		if next != nil {
			if plain, nerr := next.Open(aad, sealed); nerr == nil {
				return plain, nil
			}
		}
		if followed || !errors.Is(err, secrets.ErrUnknownKey) {
			return nil, err
		}
		followed = true
		if ferr := s.Follow(ctx); ferr != nil {
			s.log.ErrorContext(ctx, "a record is sealed under another data key, which this gateway cannot follow", "err", ferr)
			return nil, err
		}
	}
	return nil, err
}

// Follow makes the live keyring the store's data key when a data key
// rotation through another gateway sharing the store replaced it: the
// stored verifier links the new key to the old one (secrets.Follow), so no
// master secret is needed. Nothing changes when the stored key is the live
// one. Readers meeting an unknown key call it, and so does the daemon when
// the verifier changes.
func (s *Service) Follow(ctx context.Context) error {
	_, err := s.follow(ctx)
	return err
}

// follow is Follow, returning the live keyring.
func (s *Service) follow(ctx context.Context) (*secrets.Keyring, error) {
	for {
		kr := s.kr.Load()
		v, err := s.st.GetMeta(ctx, MetaVerifier)
		if errors.Is(err, store.ErrNotFound) {
			return kr, nil // a store no gateway initialized (tests): nothing to follow
		}
		if err != nil {
			return kr, fmt.Errorf("reading the master-secret verifier: %w", err)
		}
		next, err := secrets.Follow(kr, v, s.settings)
		if errors.Is(err, secrets.ErrClosed) && s.kr.Load() != kr {
			continue // swapped meanwhile: follow from the new one
		}
		if err != nil {
			return kr, fmt.Errorf("following the data key: %w", err)
		}
		if next == nil {
			return kr, nil
		}
		if !s.kr.CompareAndSwap(kr, next) {
			next.Close()
			continue
		}
		kr.Close()
		s.log.InfoContext(ctx, "following a data key rotated through another gateway", "key_id", next.KeyID())
		s.dataKeyChanged(next)
		return next, nil
	}
}

// dataKeyChanged runs OnDataKey.
func (s *Service) dataKeyChanged(kr *secrets.Keyring) {
	if s.opts.OnDataKey != nil {
		s.opts.OnDataKey(kr)
	}
}

// invalidf is an error of bad input.
func invalidf(format string, args ...any) error {
	return apierr.Errorf(apierr.Invalid, format, args...)
}

// rpcError gives errors of sealed records their kind: DataLoss for a
// record that does not authenticate. Others pass unchanged to the API's
// mapping.
func rpcError(err error) error {
	if err != nil && errors.Is(err, secrets.ErrIntegrity) {
		return apierr.New(apierr.DataLoss, err)
	}
	return err
}

// keepValue is a RewriteObjects function that changes nothing, for writes
// of meta values only.
func keepValue(o store.Object) ([]byte, error) { return o.Value, nil }

// clip quotes user input for an error message, shortened.
func clip(s string) string {
	const n = 80
	if len(s) > n {
		return fmt.Sprintf("%q…", s[:n])
	}
	return fmt.Sprintf("%q", s)
}
