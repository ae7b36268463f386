package tokensvc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
	"github.com/securegw/gateway/server/internal/api"
	"github.com/securegw/gateway/server/internal/apierr"
	"github.com/securegw/gateway/store"
)

// TokenServer returns the TokenService implementation.
func (s *Service) TokenServer() gatewayv1.TokenServiceServer { return tokenServer{s: s} }

// PolicyServer returns the TokenPolicyService implementation.
func (s *Service) PolicyServer() gatewayv1.TokenPolicyServiceServer { return policyServer{s: s} }

// managementCaller is the caller of a management call.
func managementCaller(ctx context.Context) (Caller, error) {
	c, ok := api.CallerFrom(ctx)
	if !ok || c.Principal == "" {
		return Caller{}, apierr.Errorf(apierr.Unauthenticated, "no caller")
	}
	return Caller{Name: c.Principal, Management: true, Admin: slices.Contains(c.Roles, api.RoleAdmin)}, nil
}

type tokenServer struct {
	gatewayv1.UnimplementedTokenServiceServer
	s *Service
}

func (t tokenServer) IssueToken(ctx context.Context, req *gatewayv1.IssueTokenRequest) (*gatewayv1.IssueTokenResponse, error) {
	c, err := managementCaller(ctx)
	if err != nil {
		return nil, err
	}
	r := Request{Policy: req.GetPolicy(), OnBehalfOf: req.GetOnBehalfOf(), Audiences: req.GetAudiences(),
		Comment: req.GetComment(), Type: req.GetType(), Algorithm: req.GetAlgorithm(), Metadata: req.GetMetadata()}
	if req.GetTtl() != nil {
		r.TTL = req.GetTtl().AsDuration()
	}
	iss, err := t.s.Issue(ctx, c, r)
	if err != nil {
		return nil, err
	}
	api.NoteTarget(ctx, "token/"+iss.State.ID)
	return &gatewayv1.IssueTokenResponse{Token: iss.Token, Info: info(iss.State)}, nil
}

func (t tokenServer) RenewToken(ctx context.Context, req *gatewayv1.RenewTokenRequest) (*gatewayv1.RenewTokenResponse, error) {
	c, err := managementCaller(ctx)
	if err != nil {
		return nil, err
	}
	st, err := t.s.Renew(ctx, c, req.GetId(), req.GetTtl().AsDuration())
	if err != nil {
		return nil, err
	}
	return &gatewayv1.RenewTokenResponse{Info: info(st)}, nil
}

func (t tokenServer) RevokeToken(ctx context.Context, req *gatewayv1.RevokeTokenRequest) (*gatewayv1.RevokeTokenResponse, error) {
	c, err := managementCaller(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := t.s.Revoke(ctx, c, req.GetId()); err != nil {
		return nil, err
	}
	return &gatewayv1.RevokeTokenResponse{}, nil
}

func (t tokenServer) SetTokenEnabled(ctx context.Context, req *gatewayv1.SetTokenEnabledRequest) (*gatewayv1.SetTokenEnabledResponse, error) {
	c, err := managementCaller(ctx)
	if err != nil {
		return nil, err
	}
	st, err := t.s.SetEnabled(ctx, c, req.GetId(), req.GetEnabled())
	if err != nil {
		return nil, err
	}
	return &gatewayv1.SetTokenEnabledResponse{Info: info(st)}, nil
}

func (t tokenServer) ListTokens(ctx context.Context, req *gatewayv1.ListTokensRequest) (*gatewayv1.ListTokensResponse, error) {
	c, err := managementCaller(ctx)
	if err != nil {
		return nil, err
	}
	resp := &gatewayv1.ListTokensResponse{}
	for _, st := range t.s.List(c, req.GetSubject(), req.GetIncludeRevoked()) {
		resp.Tokens = append(resp.Tokens, info(st))
	}
	return resp, nil
}

func (t tokenServer) VerifyToken(_ context.Context, req *gatewayv1.VerifyTokenRequest) (*gatewayv1.VerifyTokenResponse, error) {
	raw := strings.TrimSpace(req.GetToken())
	resp := &gatewayv1.VerifyTokenResponse{}
	if parts := strings.Split(raw, "."); len(parts) == 3 && len(raw) < 16<<10 {
		if h, err := base64.RawURLEncoding.DecodeString(parts[0]); err == nil && json.Valid(h) {
			resp.HeaderJson = string(h)
		}
		if c, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil && json.Valid(c) {
			resp.ClaimsJson = string(c)
		}
	}
	_, st, err := t.s.Verify(raw)
	if st != nil {
		resp.Info = info(st)
	}
	if err != nil {
		resp.Reason = err.Error()
		return resp, nil
	}
	resp.Valid = true
	return resp, nil
}

func (t tokenServer) RotateSigningKey(ctx context.Context, req *gatewayv1.RotateSigningKeyRequest) (*gatewayv1.RotateSigningKeyResponse, error) {
	k, err := t.s.RotateKey(ctx, req.GetAlgorithm(), int(req.GetRsaBits()))
	if err != nil {
		return nil, err
	}
	api.NoteTarget(ctx, "signing-key/"+k.Kid)
	return &gatewayv1.RotateSigningKeyResponse{Key: keyInfo(k, true)}, nil
}

func (t tokenServer) ListSigningKeys(context.Context, *gatewayv1.ListSigningKeysRequest) (*gatewayv1.ListSigningKeysResponse, error) {
	resp := &gatewayv1.ListSigningKeysResponse{}
	active := t.s.keys.Load().file.Active
	for _, k := range t.s.Keys() {
		resp.Keys = append(resp.Keys, keyInfo(k, active[k.Alg] == k.Kid))
	}
	return resp, nil
}

func keyInfo(k storedKey, active bool) *gatewayv1.SigningKey {
	out := &gatewayv1.SigningKey{Kid: k.Kid, Algorithm: k.Alg, CreatedAt: timestamppb.New(k.Created), Active: active}
	if !k.Retired.IsZero() {
		out.RetiredAt, out.RetiredUntil = timestamppb.New(k.Retired), timestamppb.New(k.RetiredUntil)
	}
	return out
}

func info(st *State) *gatewayv1.TokenInfo {
	actor := ""
	if len(st.ActorChain) > 0 {
		actor = st.ActorChain[0]
	}
	return &gatewayv1.TokenInfo{
		Id: st.ID, Subject: st.Subject, Actor: actor, Policy: st.Policy,
		IssuedAt: timestamppb.New(st.IssuedAt), ExpiresAt: timestamppb.New(st.ExpiresAt), MaxLifetimeAt: timestamppb.New(st.MaxAt),
		Revoked: st.Revoked, Disabled: st.Disabled, Audiences: st.Audiences, Comment: st.Comment,
		Type: st.Type, Algorithm: st.Algorithm, KeyId: st.KeyID, ActorChain: st.ActorChain, Metadata: st.Metadata,
		Topologies: st.Topologies,
	}
}

type policyServer struct {
	gatewayv1.UnimplementedTokenPolicyServiceServer
	s *Service
}

func (p policyServer) PutTokenPolicy(ctx context.Context, req *gatewayv1.PutTokenPolicyRequest) (*gatewayv1.PutTokenPolicyResponse, error) {
	expect := store.NoRevisionCheck
	if req.ExpectRevision != nil {
		expect = req.GetExpectRevision()
	}
	rev, err := p.s.PutPolicy(ctx, req.GetPolicy(), expect)
	if err != nil {
		return nil, err
	}
	return &gatewayv1.PutTokenPolicyResponse{Policy: req.GetPolicy(), Revision: rev}, nil
}

func (p policyServer) GetTokenPolicy(ctx context.Context, req *gatewayv1.GetTokenPolicyRequest) (*gatewayv1.GetTokenPolicyResponse, error) {
	pol, rev, err := p.s.GetPolicy(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	return &gatewayv1.GetTokenPolicyResponse{Policy: pol, Revision: rev}, nil
}

func (p policyServer) ListTokenPolicies(ctx context.Context, _ *gatewayv1.ListTokenPoliciesRequest) (*gatewayv1.ListTokenPoliciesResponse, error) {
	pols, err := p.s.ListPolicies(ctx)
	if err != nil {
		return nil, err
	}
	return &gatewayv1.ListTokenPoliciesResponse{Policies: pols}, nil
}

func (p policyServer) DeleteTokenPolicy(ctx context.Context, req *gatewayv1.DeleteTokenPolicyRequest) (*gatewayv1.DeleteTokenPolicyResponse, error) {
	if err := p.s.DeletePolicy(ctx, req.GetName()); err != nil {
		return nil, err
	}
	return &gatewayv1.DeleteTokenPolicyResponse{}, nil
}
