package secrets

import "errors"

var (
	// ErrWrongMasterSecret means the master secret does not open the verifier.
	ErrWrongMasterSecret = errors.New("wrong master secret")
	// ErrIntegrity means a sealed record is corrupt, truncated, was sealed
	// under another identity (additional data) or another key.
	ErrIntegrity = errors.New("integrity check failed")
	// ErrUnknownKey, always together with ErrIntegrity, means the record was
	// sealed under another data key (for example before a rotation).
	ErrUnknownKey = errors.New("sealed under another key")
	// ErrWeakSettings means the settings are below the recommended strength
	// and AllowWeak is not set.
	ErrWeakSettings = errors.New("weak crypto settings")
	// ErrClosed means the keyring was closed.
	ErrClosed = errors.New("keyring closed")
)
