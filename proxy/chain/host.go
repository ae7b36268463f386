package chain

import (
	"context"
	"time"

	"github.com/securegw/gateway/proxy/identity"
)

// Host is what the gateway gives every provider besides its params: its
// services, shared by all topologies (proxy.Config.Host). Those that change
// while the gateway runs (revocations, signing keys) are values the gateway
// swaps atomically behind these interfaces: providers read them on the
// request path without locks, and a change never recompiles a topology.
type Host struct {
	// Clock tells the time; the system clock when nil.
	Clock Clock
	// Tokens verifies tokens the gateway issued with its current signing
	// keys; nil while none are configured.
	Tokens TokenVerifier
	// Issuer is the gateway's token service as its own endpoints use it
	// (KNOXTOKEN, the SSO login page); nil when the gateway issues none.
	Issuer TokenIssuer
	// Revocations says whether a credential was revoked. The chain refuses
	// an authenticated request whose Principal.CredentialID it names; a
	// provider may ask it earlier. nil: nothing is revoked.
	Revocations RevocationChecker
	// Replay remembers the nonces of signed requests (pre-auth signatures)
	// so that each is accepted once; nil when the gateway keeps none.
	Replay ReplayCache
	// PublicOrigin is the gateway's configured public origin
	// ("https://gw.example.com", lower case, no default port; the proxy
	// sets it from its PublicURL): absolute URLs a provider or service
	// writes (login redirects, token endpoints) use it, and same-origin
	// checks compare with it, instead of the request's Host. "": the
	// request's Host.
	PublicOrigin string
}

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

// SystemClock is the real time.
type SystemClock struct{}

// Now is time.Now.
func (SystemClock) Now() time.Time { return time.Now() }

// RevocationChecker says whether the credential with the given id (a
// token's jti, a session id) was revoked. It must be cheap and lock-free:
// it runs on every authenticated request.
type RevocationChecker interface {
	Revoked(id string) bool
}

// ReplayCache accepts each key once while it is valid.
type ReplayCache interface {
	// Seen reports whether key was recorded and is still valid; if not,
	// it records key until until and reports false. A cache that cannot
	// record (full of valid keys) reports true: it fails closed.
	Seen(key string, until time.Time) bool
}

// TokenVerifier checks a token the gateway issued (signature with a live
// key, issuer, audience, validity) and says what it carries.
type TokenVerifier interface {
	VerifyToken(ctx context.Context, raw string) (VerifiedToken, error)
}

// VerifiedToken is what a verified token says.
type VerifiedToken struct {
	Subject string
	Groups  []string
	// ID is the token's id (jti): what revocation names.
	ID      string
	Expires time.Time
	// Algorithm signed the token ("" for an opaque token type).
	Algorithm string
	// Audiences are the token's aud claim.
	Audiences []string
	// Issuer is the token's iss claim.
	Issuer string
	// Claims are the token's other claims, as decoded.
	Claims map[string]any
	// Topologies accept the token (its policy says); empty: all.
	Topologies []string
}

// checkCredential refuses a principal whose credential expired or was
// revoked: "" when it is good, else the message of the 401.
func (c *Chain) checkCredential(p *identity.Principal) string {
	if p.CredentialID != "" && c.host.Revocations != nil && c.host.Revocations.Revoked(p.CredentialID) {
		return "credential revoked"
	}
	if !p.Expires.IsZero() && !c.host.Clock.Now().Before(p.Expires) {
		return "credential expired"
	}
	return ""
}
