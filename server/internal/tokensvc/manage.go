package tokensvc

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/securegw/gateway/internal/jwtkit"
	"github.com/securegw/gateway/proxy/chain"
)

// mayManage reports whether c may renew (renew true) or revoke, enable and
// disable st: its subject, its creator, an admin, or a renewer/revoker of
// its policy.
func (s *Service) mayManage(ctx context.Context, c Caller, st *State, renew bool) bool {
	if c.Admin || (!c.Management && c.Name == st.Subject) || c.Name == st.Creator {
		return true
	}
	if st.Policy == "" {
		return false
	}
	p, _, err := s.getPolicy(ctx, st.Policy)
	if err != nil {
		return false
	}
	names := p.pb.GetRevokers()
	if renew {
		names = p.pb.GetRenewers()
	}
	return slices.Contains(names, c.Name) || slices.ContainsFunc(c.Groups, func(g string) bool { return slices.Contains(names, g) })
}

// lookup returns a token's state for a caller allowed to manage it; a token
// the caller may not see is reported as missing.
func (s *Service) lookup(ctx context.Context, c Caller, id string, renew bool) (*State, error) {
	st, ok := s.state(id)
	if !ok || !s.mayManage(ctx, c, st, renew) {
		return nil, notFound(fmt.Sprintf("token %s does not exist", clip(id)))
	}
	return st, nil
}

// Renew moves a token's expiry to now + ttl (the policy's default when 0),
// within its maximum lifetime.
func (s *Service) Renew(ctx context.Context, c Caller, id string, ttl time.Duration) (*State, error) {
	st, err := s.lookup(ctx, c, id, true)
	if err != nil {
		return nil, err
	}
	p := s.selfPolicy()
	if st.Policy != "" {
		if p, _, err = s.getPolicy(ctx, st.Policy); err != nil {
			return nil, err
		}
	}
	switch {
	case ttl == 0:
		ttl = p.defaultTTL
	case ttl < 0:
		return nil, invalid("the lifespan must be positive")
	case ttl > p.maxTTL:
		return nil, invalid(fmt.Sprintf("lifespan %s is above the policy maximum %s", ttl, p.maxTTL))
	}
	var out *State
	err = s.update(ctx, id, func(st *State) error {
		now := s.now().UTC().Truncate(time.Second)
		switch {
		case st.Revoked:
			return refusedf("token " + id + " is revoked")
		case !now.Before(st.ExpiresAt):
			return refusedf("token " + id + " has expired")
		}
		exp := now.Add(ttl)
		if exp.After(st.MaxAt) {
			return refusedf(fmt.Sprintf("renewal past the token's maximum lifetime (%s)", st.MaxAt.Format(time.RFC3339)))
		}
		st.ExpiresAt = exp
		out = st
		return nil
	})
	return out, err
}

// Revoke revokes a token for good.
func (s *Service) Revoke(ctx context.Context, c Caller, id string) (*State, error) {
	if _, err := s.lookup(ctx, c, id, false); err != nil {
		return nil, err
	}
	var out *State
	err := s.update(ctx, id, func(st *State) error { st.Revoked, out = true, st; return nil })
	return out, err
}

// SetEnabled disables a token (refused until enabled again) or enables it.
func (s *Service) SetEnabled(ctx context.Context, c Caller, id string, enabled bool) (*State, error) {
	if _, err := s.lookup(ctx, c, id, false); err != nil {
		return nil, err
	}
	var out *State
	err := s.update(ctx, id, func(st *State) error {
		if st.Revoked && enabled {
			return refusedf("token " + id + " is revoked; it cannot be enabled")
		}
		st.Disabled, out = !enabled, st
		return nil
	})
	return out, err
}

// List returns the states of the tokens c may see (all for an admin or a
// management caller listing; else its own), of subject when set, oldest first.
func (s *Service) List(c Caller, subject string, includeRevoked bool) []*State {
	var out []*State
	s.tokens.Range(func(_, v any) bool {
		st := v.(*State)
		switch {
		case subject != "" && st.Subject != subject:
		case !includeRevoked && st.refused():
		case !c.Admin && !c.Management && st.Subject != c.Name && st.Creator != c.Name:
		default:
			out = append(out, st)
		}
		return true
	})
	slices.SortFunc(out, func(a, b *State) int {
		if d := a.IssuedAt.Compare(b.IssuedAt); d != 0 {
			return d
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// Verify checks a token as a gateway would: a JWT's form, signature with a
// live key (pinned to the key's algorithm), issuer, validity, then its
// state; a passcode against its state. The error is the reason.
func (s *Service) Verify(raw string) (chain.VerifiedToken, *State, error) {
	if !jwtkit.LooksLikeJWT(raw) {
		return s.verifyPasscode(raw)
	}
	h, claims, err := jwtkit.Verify(raw, func(h jwtkit.Header) (any, error) {
		k := s.keys.Load().byKid[h.Kid]
		if k == nil {
			return nil, fmt.Errorf("unknown key id")
		}
		if k.Alg != h.Alg {
			return nil, fmt.Errorf("algorithm %s does not match the key's", h.Alg)
		}
		return k.signer.Public(), nil
	}, jwtkit.VerifyOptions{Algorithms: jwtkit.Algorithms, Issuer: s.opts.Issuer, Now: s.now})
	if err != nil {
		return chain.VerifiedToken{}, nil, err
	}
	id, _ := claims["jti"].(string)
	st, err := s.checkState(id)
	if err != nil {
		return chain.VerifiedToken{}, st, err
	}
	vt := chain.VerifiedToken{Subject: st.Subject, ID: st.ID, Expires: st.ExpiresAt, Algorithm: h.Alg,
		Audiences: st.Audiences, Issuer: s.opts.Issuer, Claims: claims, Topologies: st.Topologies}
	if g, ok := claims["groups"].([]any); ok {
		for _, x := range g {
			if s, ok := x.(string); ok {
				vt.Groups = append(vt.Groups, s)
			}
		}
	}
	if sub, _ := claims["sub"].(string); sub != st.Subject {
		return chain.VerifiedToken{}, st, fmt.Errorf("token does not match its state")
	}
	return vt, st, nil
}

func (s *Service) verifyPasscode(raw string) (chain.VerifiedToken, *State, error) {
	id, secret, ok := decodePasscode(raw)
	if !ok {
		return chain.VerifiedToken{}, nil, fmt.Errorf("malformed token")
	}
	st, found := s.state(id)
	sum := sha256.Sum256(secret)
	if !found || st.Type != TypePasscode || subtle.ConstantTimeCompare(sum[:], st.PasscodeHash) != 1 {
		return chain.VerifiedToken{}, nil, fmt.Errorf("unknown token")
	}
	if _, err := s.checkState(id); err != nil {
		return chain.VerifiedToken{}, st, err
	}
	return chain.VerifiedToken{Subject: st.Subject, ID: st.ID, Expires: st.ExpiresAt, Audiences: st.Audiences,
		Issuer: s.opts.Issuer, Claims: map[string]any{"sub": st.Subject, "jti": st.ID}, Topologies: st.Topologies}, st, nil
}

// checkState refuses a token whose state is missing, revoked, disabled or expired.
func (s *Service) checkState(id string) (*State, error) {
	st, ok := s.state(id)
	switch {
	case !ok:
		return nil, fmt.Errorf("unknown token")
	case st.Revoked:
		return st, fmt.Errorf("token revoked")
	case st.Disabled:
		return st, fmt.Errorf("token disabled")
	case !s.now().Before(st.ExpiresAt):
		return st, fmt.Errorf("token expired")
	}
	return st, nil
}

// VerifyToken is chain.TokenVerifier for the data plane.
func (s *Service) VerifyToken(_ context.Context, raw string) (chain.VerifiedToken, error) {
	vt, _, err := s.Verify(raw)
	return vt, err
}

// TokenID resolves a token's value to its id, without judging it.
func (s *Service) TokenID(raw string) (string, error) {
	if !jwtkit.LooksLikeJWT(raw) {
		id, _, ok := decodePasscode(raw)
		if !ok {
			return "", fmt.Errorf("malformed token")
		}
		return id, nil
	}
	_, claims, err := jwtkit.Verify(raw, func(h jwtkit.Header) (any, error) {
		k := s.keys.Load().byKid[h.Kid]
		if k == nil || k.Alg != h.Alg {
			return nil, fmt.Errorf("unknown key id")
		}
		return k.signer.Public(), nil
	}, jwtkit.VerifyOptions{Algorithms: jwtkit.Algorithms, Issuer: s.opts.Issuer, Now: s.now, Leeway: 366 * 24 * time.Hour})
	if err != nil {
		return "", err
	}
	id, _ := claims["jti"].(string)
	return id, nil
}
