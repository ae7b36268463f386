package knoxtoken

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/securegw/gateway/internal/jwtkit"
	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/identity"
)

// Role is the service role.
const Role = "KNOXTOKEN"

// Param names (Knox's names as aliases where they mean the same).
const (
	ParamPolicy     = "policy"
	ParamTTL        = "ttl"
	ParamKnoxTTL    = "knox.token.ttl" // milliseconds, as Knox
	ParamAudiences  = "audiences"
	ParamTargetURL  = "target_url"
	ParamType       = "type"
	ParamDiscovery  = "discovery"
	ParamAlgorithm  = "algorithm"
	ParamHMACSecret = "hmac_secret"
	paramServerMgd  = "knox.token.exp.server-managed"
	maxRequestBytes = 16 << 10
	minHMACSecret   = 32
)

func init() {
	chain.RegisterService(chain.ServiceFactory{Role: Role, New: newService})
}

type service struct {
	issuer    chain.TokenIssuer
	policy    string
	ttl       time.Duration
	audiences []string
	target    string
	typ       string
	algorithm string
	hmac      []byte // HS256 secret: the topology asked for HS256 tokens
	path      string // the service's path in the topology
	topology  string
	public    string // chain.Host's PublicOrigin: "" for the request's
	log       *slog.Logger
}

func newService(ctx context.Context, c chain.ServiceConfig) ([]chain.Endpoint, error) {
	p, err := c.Read([]chain.Param{
		chain.P(ParamPolicy), chain.P(ParamTTL), chain.P(ParamKnoxTTL),
		chain.P(ParamAudiences, "knox.token.audiences"), chain.P(ParamTargetURL, "knox.token.target.url"),
		chain.P(ParamType), chain.P(ParamDiscovery), chain.P(ParamAlgorithm), chain.P(paramServerMgd),
		chain.P(ParamHMACSecret),
	})
	if err != nil {
		return nil, err
	}
	if c.Host.Issuer == nil {
		return nil, errors.New("this gateway issues no tokens")
	}
	s := &service{issuer: c.Host.Issuer, path: c.Path, topology: c.Topology, public: c.Host.PublicOrigin, log: c.Logger}
	if s.policy, err = p.String(ParamPolicy, ""); err != nil {
		return nil, err
	}
	if s.ttl, err = p.Duration(ParamTTL, 0, 0, 366*24*time.Hour); err != nil {
		return nil, err
	}
	if ms, err := p.Int(ParamKnoxTTL, 0, 0, 366*24*3600*1000); err != nil {
		return nil, err
	} else if ms > 0 {
		if p.Has(ParamTTL) {
			return nil, p.Errorf(ParamKnoxTTL, "give %s or %s, not both", ParamTTL, ParamKnoxTTL)
		}
		s.ttl = time.Duration(ms) * time.Millisecond
	}
	if v, err := p.Bool(paramServerMgd, true); err != nil {
		return nil, err
	} else if !v {
		return nil, p.Errorf(paramServerMgd, "the gateway always keeps token state (renewal and revocation need it)")
	}
	s.audiences = p.List(ParamAudiences, nil)
	if s.target, err = p.String(ParamTargetURL, ""); err != nil {
		return nil, err
	}
	if s.typ, err = p.String(ParamType, "jwt"); err != nil {
		return nil, err
	}
	if s.typ != "jwt" && s.typ != "passcode" {
		return nil, p.Errorf(ParamType, "%q: jwt or passcode", s.typ)
	}
	if s.algorithm, err = p.String(ParamAlgorithm, ""); err != nil {
		return nil, err
	}
	if s.algorithm != "" {
		if s.algorithm, err = jwtkit.CheckAlgorithm(s.algorithm); err != nil {
			return nil, p.Errorf(ParamAlgorithm, "%v", err)
		}
	}
	// HS256 only when the topology asks for it, with a secret held as an
	// alias: the jwt provider of a topology holding the same secret
	// accepts the tokens, no other.
	if secret, err := p.Secret(ctx, ParamHMACSecret, ""); err != nil {
		return nil, err
	} else if secret != "" {
		if v, _ := p.Raw(ParamHMACSecret); !strings.HasPrefix(v, "${alias:") || !strings.HasSuffix(v, "}") || strings.Count(v, "${") != 1 {
			return nil, p.Errorf(ParamHMACSecret, "must be an ${alias:NAME} reference, never the secret itself")
		}
		if len(secret) < minHMACSecret {
			return nil, p.Errorf(ParamHMACSecret, "the secret must be at least %d bytes", minHMACSecret)
		}
		if s.algorithm != "" || s.typ != "jwt" {
			return nil, p.Errorf(ParamHMACSecret, "signs JWTs with HS256: give no %s and no %s other than jwt", ParamAlgorithm, ParamType)
		}
		s.hmac = []byte(secret)
	}
	discovery, err := p.Bool(ParamDiscovery, true)
	if err != nil {
		return nil, err
	}
	base := c.Path + "/api/v1/"
	eps := []chain.Endpoint{
		{Path: base + "token", Handler: methods(s.issue, http.MethodGet, http.MethodPost)},
		{Path: base + "token/renew", Handler: methods(s.renew, http.MethodPost, http.MethodPut)},
		{Path: base + "token/revoke", Handler: methods(s.revoke, http.MethodPost, http.MethodDelete)},
		{Path: base + "token/enable", Handler: methods(s.enable(true), http.MethodPut, http.MethodPost)},
		{Path: base + "token/disable", Handler: methods(s.enable(false), http.MethodPut, http.MethodPost)},
		{Path: base + "token/getUserTokens", Handler: methods(s.userTokens, http.MethodGet)},
		{Path: base + "token/getTssStatus", Handler: methods(s.tssStatus, http.MethodGet)},
		{Path: base + "jwks.json", Public: true, Handler: methods(s.jwks, http.MethodGet)},
	}
	if discovery {
		eps = append(eps, chain.Endpoint{Path: ".well-known/openid-configuration", Public: true, Handler: methods(s.discovery, http.MethodGet)})
	}
	return eps, nil
}

// methods answers the allowed methods with h and the others with 405.
func methods(h http.HandlerFunc, allowed ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !slices.Contains(allowed, r.Method) {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"code": 405, "error": "method not allowed"})
			return
		}
		h(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// fail answers a token service error: its reason for a bad request, a
// denial or an unknown token; nothing internal otherwise.
func (s *service) fail(w http.ResponseWriter, err error, extra map[string]any) {
	status, msg := http.StatusInternalServerError, "internal error"
	switch {
	case errors.Is(err, chain.ErrTokenInvalid):
		status, msg = http.StatusBadRequest, err.Error()
	case errors.Is(err, chain.ErrTokenDenied):
		status, msg = http.StatusForbidden, err.Error()
	case errors.Is(err, chain.ErrTokenNotFound):
		status, msg = http.StatusNotFound, err.Error()
	default:
		s.log.Error("token API", "err", err)
	}
	body := map[string]any{"code": status, "error": msg}
	for k, v := range extra {
		body[k] = v
	}
	writeJSON(w, status, body)
}

func badRequest(msg string) error { return fmt.Errorf("%w: %s", chain.ErrTokenInvalid, msg) }

func principal(w http.ResponseWriter, r *http.Request) (*identity.Principal, bool) {
	p, ok := identity.FromContext(r.Context())
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"code": 401, "error": "unauthenticated"})
	}
	return p, ok
}

// params reads the request's parameters: the query, and for a POST an
// url-encoded form body.
func params(r *http.Request) (url.Values, error) {
	q := r.URL.Query()
	if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes))
		if err != nil {
			return nil, err
		}
		form, err := url.ParseQuery(string(b))
		if err != nil {
			return nil, err
		}
		for k, v := range form {
			q[k] = append(q[k], v...)
		}
	}
	return q, nil
}

// gatewayBase is scheme://host/{prefix}, from the request to this service
// (the configured public origin, when there is one, for scheme://host).
func (s *service) gatewayBase(r *http.Request) string {
	path := r.URL.Path
	if i := strings.Index(path, "/"+s.topology+"/"); i >= 0 {
		path = path[:i]
	}
	if s.public != "" {
		return s.public + path
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + path
}

func (s *service) issue(w http.ResponseWriter, r *http.Request) {
	p, ok := principal(w, r)
	if !ok {
		return
	}
	q, err := params(r)
	if err != nil {
		s.fail(w, badRequest("malformed parameters"), nil)
		return
	}
	req := chain.TokenRequest{Policy: s.policy, TTL: s.ttl, Audiences: s.audiences, Type: s.typ, Algorithm: s.algorithm,
		OnBehalfOf: q.Get("doAs"), Comment: q.Get("comment"), HMACSecret: s.hmac, Topology: s.topology}
	if ls := q.Get("lifespan"); ls != "" {
		if req.TTL, err = parseLifespan(ls); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"code": 400, "error": err.Error()})
			return
		}
	}
	for k, v := range q {
		if name, ok := strings.CutPrefix(k, "md_"); ok && name != "" && len(v) > 0 {
			if req.Metadata == nil {
				req.Metadata = map[string]string{}
			}
			req.Metadata[name] = v[0]
		}
	}
	tok, err := s.issuer.IssueToken(r.Context(), p, req)
	if err != nil {
		s.fail(w, err, nil)
		return
	}
	target := s.target
	if target == "" {
		target = s.topology
	}
	if u, err := url.Parse(target); err != nil || !u.IsAbs() {
		target = s.gatewayBase(r) + "/" + strings.TrimPrefix(target, "/")
	}
	resp := map[string]any{
		"access_token": tok.Token,
		"token_id":     tok.Info.ID,
		"token_type":   "Bearer",
		"expires_in":   tok.Info.ExpiresAt.UnixMilli(),
		"target_url":   target,
		"managed":      "true",
		"homepage_url": s.gatewayBase(r),
	}
	if tok.Info.Type == "passcode" {
		resp["passcode"] = tok.Token
		resp["token_type"] = "Passcode"
	}
	writeJSON(w, http.StatusOK, resp)
}

// tokenID reads the token named by the request body: a token (JWT or
// passcode), or a token id.
func (s *service) tokenID(r *http.Request) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
	if err != nil || len(b) > maxRequestBytes {
		return "", badRequest("request body too large")
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", badRequest("the request body names no token")
	}
	if isUUID(v) {
		return v, nil
	}
	id, err := s.issuer.TokenID(v)
	if err != nil && s.hmac != nil {
		id, err = s.hmacTokenID(v)
	}
	if err != nil {
		return "", badRequest("the request body holds no valid token")
	}
	return id, nil
}

// hmacTokenID resolves an HS256 token this service signed: its jti once
// the signature checks (expiry aside: an expired token may be revoked).
func (s *service) hmacTokenID(raw string) (string, error) {
	_, claims, err := jwtkit.Verify(raw, func(jwtkit.Header) (any, error) { return s.hmac, nil }, jwtkit.VerifyOptions{
		Algorithms: []string{"HS256"}, Issuer: s.issuer.IssuerName(), Leeway: 366 * 24 * time.Hour})
	if err != nil {
		return "", err
	}
	id, _ := claims["jti"].(string)
	if id == "" {
		return "", errors.New("the token has no id")
	}
	return id, nil
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case !strings.ContainsRune("0123456789abcdef", c):
			return false
		}
	}
	return true
}

func (s *service) renew(w http.ResponseWriter, r *http.Request) {
	p, ok := principal(w, r)
	if !ok {
		return
	}
	id, err := s.tokenID(r)
	if err != nil {
		s.fail(w, err, map[string]any{"renewed": "false"})
		return
	}
	var ttl time.Duration
	if ls := r.URL.Query().Get("lifespan"); ls != "" {
		if ttl, err = parseLifespan(ls); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"code": 400, "error": err.Error(), "renewed": "false"})
			return
		}
	}
	exp, err := s.issuer.RenewToken(r.Context(), p, id, ttl)
	if err != nil {
		s.fail(w, err, map[string]any{"renewed": "false"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"renewed": "true", "expires": strconv.FormatInt(exp.UnixMilli(), 10)})
}

func (s *service) revoke(w http.ResponseWriter, r *http.Request) {
	p, ok := principal(w, r)
	if !ok {
		return
	}
	id, err := s.tokenID(r)
	if err == nil {
		err = s.issuer.RevokeToken(r.Context(), p, id)
	}
	if err != nil {
		s.fail(w, err, map[string]any{"revoked": "false"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"revoked": "true"})
}

func (s *service) enable(enabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := principal(w, r)
		if !ok {
			return
		}
		id, err := s.tokenID(r)
		if err == nil {
			err = s.issuer.SetTokenEnabled(r.Context(), p, id, enabled)
		}
		if err != nil {
			s.fail(w, err, map[string]any{"setEnabledFlag": "false"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"setEnabledFlag": "true", "isEnabled": strconv.FormatBool(enabled)})
	}
}

func (s *service) userTokens(w http.ResponseWriter, r *http.Request) {
	p, ok := principal(w, r)
	if !ok {
		return
	}
	infos, err := s.issuer.UserTokens(r.Context(), p, r.URL.Query().Get("userName"))
	if err != nil {
		s.fail(w, err, nil)
		return
	}
	tokens := make([]map[string]any, 0, len(infos))
	for _, t := range infos {
		md := map[string]any{"userName": t.Subject, "createdBy": t.Creator, "enabled": !t.Disabled && !t.Revoked, "comment": t.Comment}
		for k, v := range t.Metadata {
			if _, taken := md[k]; !taken {
				md[k] = v
			}
		}
		tokens = append(tokens, map[string]any{
			"tokenId":         t.ID,
			"issueTimeLong":   t.IssuedAt.UnixMilli(),
			"issueTime":       t.IssuedAt.UTC().Format(time.RFC3339),
			"expirationLong":  t.ExpiresAt.UnixMilli(),
			"expiration":      t.ExpiresAt.UTC().Format(time.RFC3339),
			"maxLifetimeLong": t.MaxAt.UnixMilli(),
			"maxLifetime":     t.MaxAt.UTC().Format(time.RFC3339),
			"revoked":         t.Revoked,
			"metadata":        md,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": tokens})
}

func (s *service) tssStatus(w http.ResponseWriter, r *http.Request) {
	if _, ok := principal(w, r); !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokenManagementEnabled": "true", "allowedTssForTokengen": "true", "actualTssBackend": "gatewayd store"})
}

func (s *service) jwks(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(s.issuer.JWKS())
}

func (s *service) discovery(w http.ResponseWriter, r *http.Request) {
	jwksURL := s.gatewayBase(r) + "/" + s.topology + "/" + s.path + "/api/v1/jwks.json"
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                s.issuer.IssuerName(),
		"jwks_uri":                              jwksURL,
		"token_endpoint":                        s.gatewayBase(r) + "/" + s.topology + "/" + s.path + "/api/v1/token",
		"response_types_supported":              []string{"id_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": jwtkit.Algorithms,
		"claims_supported":                      []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "act", "groups"},
	})
}
