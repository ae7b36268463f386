package tokensvc

import (
	"context"
	"fmt"
	"time"

	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/identity"
	"github.com/securegw/gateway/server/internal/apierr"
)

// DataPlane returns the service as the gateway's own endpoints use it
// (chain.Host.Issuer): callers are principals the topology authenticated.
func (s *Service) DataPlane() chain.TokenIssuer { return dataPlane{s: s} }

type dataPlane struct{ s *Service }

func principalCaller(p *identity.Principal) Caller {
	return Caller{Name: p.Name, Groups: p.Groups, Actors: p.Actors}
}

// endpointError maps the service's errors to the chain's kinds, keeping the
// message (which says why, never anything internal).
func endpointError(err error) error {
	if err == nil {
		return nil
	}
	switch apierr.KindOf(err) {
	case apierr.Invalid, apierr.FailedPrecondition:
		return fmt.Errorf("%w: %s", chain.ErrTokenInvalid, err.Error())
	case apierr.PermissionDenied, apierr.Unauthenticated:
		return fmt.Errorf("%w: %s", chain.ErrTokenDenied, err.Error())
	case apierr.NotFound:
		return fmt.Errorf("%w: %s", chain.ErrTokenNotFound, err.Error())
	}
	return err
}

func chainInfo(st *State) chain.TokenInfo {
	creator := st.Creator
	return chain.TokenInfo{ID: st.ID, Subject: st.Subject, Creator: creator, Type: st.Type, IssuedAt: st.IssuedAt,
		ExpiresAt: st.ExpiresAt, MaxAt: st.MaxAt, Revoked: st.Revoked, Disabled: st.Disabled, Comment: st.Comment, Metadata: st.Metadata}
}

func (d dataPlane) IssueToken(ctx context.Context, p *identity.Principal, r chain.TokenRequest) (chain.IssuedToken, error) {
	iss, err := d.s.Issue(ctx, principalCaller(p), Request{Policy: r.Policy, OnBehalfOf: r.OnBehalfOf, TTL: r.TTL,
		Audiences: r.Audiences, Comment: r.Comment, Type: r.Type, Algorithm: r.Algorithm, Metadata: r.Metadata,
		HMACSecret: r.HMACSecret, Topology: r.Topology})
	if err != nil {
		return chain.IssuedToken{}, endpointError(err)
	}
	return chain.IssuedToken{Token: iss.Token, Info: chainInfo(iss.State)}, nil
}

func (d dataPlane) RenewToken(ctx context.Context, p *identity.Principal, id string, ttl time.Duration) (time.Time, error) {
	st, err := d.s.Renew(ctx, principalCaller(p), id, ttl)
	if err != nil {
		return time.Time{}, endpointError(err)
	}
	return st.ExpiresAt, nil
}

func (d dataPlane) RevokeToken(ctx context.Context, p *identity.Principal, id string) error {
	_, err := d.s.Revoke(ctx, principalCaller(p), id)
	return endpointError(err)
}

func (d dataPlane) SetTokenEnabled(ctx context.Context, p *identity.Principal, id string, enabled bool) error {
	_, err := d.s.SetEnabled(ctx, principalCaller(p), id, enabled)
	return endpointError(err)
}

func (d dataPlane) UserTokens(_ context.Context, p *identity.Principal, user string) ([]chain.TokenInfo, error) {
	c := principalCaller(p)
	if user != "" && user != c.Name {
		return nil, fmt.Errorf("%w: %q may list only its own tokens", chain.ErrTokenDenied, c.Name)
	}
	var out []chain.TokenInfo
	for _, st := range d.s.List(c, c.Name, true) {
		out = append(out, chainInfo(st))
	}
	return out, nil
}

func (d dataPlane) TokenID(raw string) (string, error) { return d.s.TokenID(raw) }
func (d dataPlane) JWKS() []byte                       { return d.s.JWKS() }
func (d dataPlane) IssuerName() string                 { return d.s.opts.Issuer }
