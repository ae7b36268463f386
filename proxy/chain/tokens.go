package chain

import (
	"context"
	"errors"
	"time"

	"github.com/securegw/gateway/proxy/identity"
)

// TokenIssuer is the gateway's token service as gateway-served endpoints
// see it. Every call names the authenticated principal making it; the
// service authorizes it (policy, owner, renewers and revokers).
type TokenIssuer interface {
	IssueToken(ctx context.Context, caller *identity.Principal, req TokenRequest) (IssuedToken, error)
	RenewToken(ctx context.Context, caller *identity.Principal, id string, ttl time.Duration) (time.Time, error)
	RevokeToken(ctx context.Context, caller *identity.Principal, id string) error
	SetTokenEnabled(ctx context.Context, caller *identity.Principal, id string, enabled bool) error
	// UserTokens lists the tokens of user (the caller's own, or any when
	// the caller may manage them).
	UserTokens(ctx context.Context, caller *identity.Principal, user string) ([]TokenInfo, error)
	// TokenID resolves a token (a JWT or a passcode) to its id, for calls
	// that name a token by its value, as Knox's renew and revoke do.
	TokenID(raw string) (string, error)
	// JWKS is the JSON Web Key Set of the keys that verify live tokens.
	JWKS() []byte
	// IssuerName is the iss of the gateway's tokens.
	IssuerName() string
}

// TokenRequest asks for a token.
type TokenRequest struct {
	Policy     string
	OnBehalfOf string // "" for the caller itself
	TTL        time.Duration
	Audiences  []string
	Comment    string
	Type       string // "jwt" (default) or "passcode"
	Algorithm  string
	Metadata   map[string]string
	// HMACSecret, when set, signs the JWT with HS256 and this secret (a
	// topology's alias, at least 32 bytes) instead of the gateway's keys,
	// because topology Topology asked for it: only providers holding the
	// secret accept the token, and its state names Topology.
	HMACSecret []byte
	Topology   string
}

// IssuedToken is a new token and what it says.
type IssuedToken struct {
	Token string
	Info  TokenInfo
}

// TokenInfo describes a token's state (never its value).
type TokenInfo struct {
	ID        string
	Subject   string
	Creator   string
	Type      string
	IssuedAt  time.Time
	ExpiresAt time.Time
	MaxAt     time.Time
	Revoked   bool
	Disabled  bool
	Comment   string
	Metadata  map[string]string
}

// Errors of a TokenIssuer, for endpoints to map to HTTP statuses; the
// wrapping error's text is the reason to show the client.
var (
	ErrTokenInvalid  = errors.New("invalid token request") // 400
	ErrTokenDenied   = errors.New("token request denied")  // 403
	ErrTokenNotFound = errors.New("unknown token")         // 404
)
