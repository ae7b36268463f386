package tokensvc

import (
	"encoding/json"
	"time"
)

// Token types.
const (
	TypeJWT      = "jwt"
	TypePasscode = "passcode"
)

// State is a token's stored state (store.KindToken, keyed by id). The
// token's value is never stored; a passcode's secret only as a hash.
type State struct {
	ID      string `json:"id"`
	Subject string `json:"sub"`
	// Creator is the principal that asked for the token (the subject for a
	// token issued for oneself); ActorChain is the act chain of the token,
	// outermost first.
	Creator    string    `json:"creator"`
	ActorChain []string  `json:"actors,omitempty"`
	Policy     string    `json:"policy,omitempty"`
	Type       string    `json:"type"`
	Algorithm  string    `json:"alg,omitempty"`
	KeyID      string    `json:"kid,omitempty"`
	Audiences  []string  `json:"aud,omitempty"`
	IssuedAt   time.Time `json:"iat"`
	// ExpiresAt is the current expiry (renewals move it); MaxAt bounds it
	// and is the exp of the signed token.
	ExpiresAt    time.Time         `json:"exp"`
	MaxAt        time.Time         `json:"max"`
	Revoked      bool              `json:"revoked,omitempty"`
	Disabled     bool              `json:"disabled,omitempty"`
	Comment      string            `json:"comment,omitempty"`
	Metadata     map[string]string `json:"meta,omitempty"`
	PasscodeHash []byte            `json:"passcode_sha256,omitempty"`
	// Topologies accept the token (its policy's, at issuance); empty: all.
	Topologies []string `json:"topos,omitempty"`
}

func decodeState(b []byte) (*State, error) {
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// live reports whether the token is accepted at now (not revoked, not
// disabled, not expired).
func (s *State) live(now time.Time) bool {
	return !s.Revoked && !s.Disabled && now.Before(s.ExpiresAt)
}

// refused reports whether the revocation set must name the token.
func (s *State) refused() bool { return s.Revoked || s.Disabled }
