package jwt

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/securegw/gateway/internal/jwtkit"
	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/identity"
)

// Provider names.
const (
	Name          = "jwt"
	NameSSOCookie = "sso-cookie"
)

// Param names (Knox's names are accepted as aliases).
const (
	ParamGatewayKeys    = "trust_gateway"
	ParamPEM            = "verification_pem"
	ParamJWKSURL        = "jwks_url"
	ParamHMACSecret     = "hmac_secret"
	ParamAlgorithms     = "allowed_algorithms"
	ParamIssuer         = "issuer"
	ParamAudiences      = "audiences"
	ParamQueryParam     = "query_param"
	ParamCookie         = "cookie"
	ParamPrincipalClaim = "principal_claim"
	ParamLeeway         = "leeway"
	ParamCacheTTL       = "cache_ttl"
	ParamJWKSRefresh    = "jwks_min_refresh"
	ParamJWKSTimeout    = "jwks_timeout"
	ParamLoginURL       = "login_url"
)

// DefaultSSOCookie is Knox's SSO cookie name.
const DefaultSSOCookie = "hadoop-jwt"

const maxCacheEntries = 1 << 14

func init() {
	chain.Register(chain.Factory{Name: Name, Role: chain.RoleFederation, New: newJWT})
	chain.Register(chain.Factory{Name: NameSSOCookie, Role: chain.RoleFederation, New: newSSOCookie})
}

// Handler authenticates requests by a signed token. It is safe for
// concurrent use.
type Handler struct {
	name       string
	topology   string
	host       chain.Host
	gateway    bool // the gateway's own tokens (host.Tokens)
	static     []crypto.PublicKey
	jwks       *jwksSource
	hmac       []byte
	algorithms []string
	issuer     string
	audiences  []string
	query      string
	cookie     string
	bearer     bool
	claim      string
	leeway     time.Duration
	cacheTTL   time.Duration
	loginURL   string
	consumed   []identity.Credential
	log        *slog.Logger

	mu    sync.Mutex
	cache map[[32]byte]cached
}

type cached struct {
	p     *identity.Principal
	until time.Time
}

var (
	_ chain.Authenticator    = (*Handler)(nil)
	_ chain.CredentialReader = (*Handler)(nil)
)

func newJWT(ctx context.Context, c chain.Config) (chain.Handler, error) {
	return build(ctx, c, false)
}

func newSSOCookie(ctx context.Context, c chain.Config) (chain.Handler, error) {
	return build(ctx, c, true)
}

func build(ctx context.Context, c chain.Config, sso bool) (*Handler, error) {
	p, err := c.Read([]chain.Param{
		chain.P(ParamGatewayKeys),
		chain.P(ParamPEM, "knox.token.verification.pem", "sso.token.verification.pem"),
		chain.P(ParamJWKSURL, "knox.token.jwks.url", "sso.token.jwks.url"),
		chain.P(ParamHMACSecret),
		chain.P(ParamAlgorithms, "knox.token.allowed.jws.types", "knox.token.sigalg", "sso.token.sigalg"),
		chain.P(ParamIssuer, "knox.token.issuer", "jwt.expected.issuer"),
		chain.P(ParamAudiences, "knox.token.audiences", "sso.expected.audiences"),
		chain.P(ParamQueryParam, "knox.token.query.param"),
		chain.P(ParamCookie, "sso.cookie.name", "knox.token.use.cookie.name"),
		chain.P(ParamPrincipalClaim, "jwt.expected.principal.claim", "knox.token.principal.claim"),
		chain.P(ParamLeeway),
		chain.P(ParamCacheTTL),
		chain.P(ParamJWKSRefresh),
		chain.P(ParamJWKSTimeout),
		chain.P(ParamLoginURL, "sso.authentication.provider.url"),
	})
	if err != nil {
		return nil, err
	}
	h := &Handler{name: Name, topology: c.Topology, host: c.Host, bearer: !sso, log: c.Logger, cache: map[[32]byte]cached{}}
	if sso {
		h.name = NameSSOCookie
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.gateway, err = p.Bool(ParamGatewayKeys, true); err != nil {
		return nil, err
	}
	if pemText, err := p.Secret(ctx, ParamPEM, ""); err != nil {
		return nil, err
	} else if pemText != "" {
		if h.static, err = parsePEM([]byte(pemText)); err != nil {
			return nil, p.Errorf(ParamPEM, "%v", err)
		}
	}
	jwksTimeout, err := p.Duration(ParamJWKSTimeout, 5*time.Second, 100*time.Millisecond, time.Minute)
	if err != nil {
		return nil, err
	}
	jwksRefresh, err := p.Duration(ParamJWKSRefresh, time.Minute, time.Second, 24*time.Hour)
	if err != nil {
		return nil, err
	}
	if u, _ := p.String(ParamJWKSURL, ""); u != "" {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" {
			return nil, p.Errorf(ParamJWKSURL, "%q is not an http(s) URL", u)
		}
		h.jwks = &jwksSource{url: u, client: &http.Client{Timeout: jwksTimeout}, minInterval: jwksRefresh, now: c.Host.Clock.Now}
	}
	if secret, err := p.Secret(ctx, ParamHMACSecret, ""); err != nil {
		return nil, err
	} else if secret != "" {
		if v, _ := p.Raw(ParamHMACSecret); !strings.Contains(v, "${alias:") {
			return nil, p.Errorf(ParamHMACSecret, "must be an ${alias:NAME} reference, never the secret itself")
		}
		if len(secret) < 32 {
			return nil, p.Errorf(ParamHMACSecret, "the secret must be at least 32 bytes")
		}
		h.hmac = []byte(secret)
	}
	def := slices.Clone(jwtkit.Algorithms)
	if h.hmac != nil {
		def = append(def, "HS256")
	}
	h.algorithms = p.List(ParamAlgorithms, def)
	for i, a := range h.algorithms {
		if a == "HS256" {
			if h.hmac == nil {
				return nil, p.Errorf(ParamAlgorithms, "HS256 needs %s", ParamHMACSecret)
			}
			continue
		}
		n, err := jwtkit.CheckAlgorithm(a)
		if err != nil {
			return nil, p.Errorf(ParamAlgorithms, "%v", err)
		}
		h.algorithms[i] = n
	}
	if !h.gateway && h.static == nil && h.jwks == nil && h.hmac == nil {
		return nil, p.Errorf(ParamGatewayKeys, "no keys: keep the gateway's keys or give %s, %s or %s", ParamPEM, ParamJWKSURL, ParamHMACSecret)
	}
	if h.issuer, err = p.String(ParamIssuer, ""); err != nil {
		return nil, err
	}
	h.audiences = p.List(ParamAudiences, nil)
	if h.query, err = p.String(ParamQueryParam, ""); err != nil {
		return nil, err
	}
	defCookie := ""
	if sso {
		defCookie = DefaultSSOCookie
	}
	if h.cookie, err = p.String(ParamCookie, defCookie); err != nil {
		return nil, err
	}
	if h.claim, err = p.String(ParamPrincipalClaim, "sub"); err != nil {
		return nil, err
	}
	if h.leeway, err = p.Duration(ParamLeeway, jwtkit.DefaultLeeway, 0, 5*time.Minute); err != nil {
		return nil, err
	}
	if h.cacheTTL, err = p.Duration(ParamCacheTTL, 30*time.Second, 0, time.Hour); err != nil {
		return nil, err
	}
	if h.loginURL, err = p.String(ParamLoginURL, ""); err != nil {
		return nil, err
	}
	if h.loginURL != "" {
		if u, err := url.Parse(h.loginURL); err != nil || (u.Host == "" && !strings.HasPrefix(u.Path, "/")) {
			return nil, p.Errorf(ParamLoginURL, "%q is not an absolute URL or path", h.loginURL)
		}
	}
	if sso && h.cookie == "" {
		return nil, p.Errorf(ParamCookie, "the SSO cookie provider needs a cookie name")
	}
	if h.bearer {
		h.consumed = append(h.consumed, identity.Authorization)
	}
	if h.cookie != "" {
		h.consumed = append(h.consumed, identity.CookieCredential(h.cookie))
	}
	if h.query != "" {
		h.consumed = append(h.consumed, identity.QueryCredential(h.query))
	}
	return h, nil
}

// Credentials are the places tokens are read from: the gateway removes them
// before dispatch.
func (h *Handler) Credentials() []identity.Credential { return h.consumed }

// token finds the request's token and where it was.
func (h *Handler) token(r *http.Request) (string, identity.Credential, bool) {
	if h.bearer {
		if v := r.Header.Get("Authorization"); len(v) > 7 && strings.EqualFold(v[:7], "Bearer ") {
			return strings.TrimSpace(v[7:]), identity.Authorization, true
		}
	}
	if h.cookie != "" {
		if c, err := r.Cookie(h.cookie); err == nil && c.Value != "" {
			return c.Value, identity.CookieCredential(h.cookie), true
		}
	}
	if h.query != "" && r.URL.RawQuery != "" {
		if v := r.URL.Query().Get(h.query); v != "" {
			return v, identity.QueryCredential(h.query), true
		}
	}
	return "", identity.Credential{}, false
}

// Authenticate verifies the request's token.
func (h *Handler) Authenticate(r *http.Request) chain.Outcome {
	raw, cred, ok := h.token(r)
	if !ok {
		return h.pass(r)
	}
	now := h.host.Clock.Now()
	key := sha256.Sum256([]byte(raw))
	h.mu.Lock()
	c, hit := h.cache[key]
	h.mu.Unlock()
	if hit && now.Before(c.until) {
		return chain.Authenticate(c.p)
	}
	p, err := h.verify(r.Context(), raw, now)
	if err != nil {
		h.log.Info("token refused", "provider", h.name, "reason", err.Error(), "from", cred.String())
		return chain.Refuse(http.StatusUnauthorized, "invalid token", h.challenge())
	}
	p.Consumed = h.consumed
	if h.cacheTTL > 0 {
		until := now.Add(h.cacheTTL)
		if !p.Expires.IsZero() && p.Expires.Before(until) {
			until = p.Expires
		}
		h.mu.Lock()
		if len(h.cache) >= maxCacheEntries {
			for k, v := range h.cache {
				if !now.Before(v.until) || len(h.cache) >= maxCacheEntries {
					delete(h.cache, k)
				}
			}
		}
		h.cache[key] = cached{p: p, until: until}
		h.mu.Unlock()
	}
	return chain.Authenticate(p)
}

func (h *Handler) challenge() string {
	if h.bearer {
		return `Bearer realm="gateway"`
	}
	return ""
}

// pass answers a request without a token: a browser is sent to the login
// page when one is configured, anything else gets the 401 challenge.
func (h *Handler) pass(r *http.Request) chain.Outcome {
	if h.loginURL != "" && wantsHTML(r) {
		origin := h.host.PublicOrigin // the configured public origin, else the request's
		if origin == "" {
			origin = "http://" + r.Host
			if r.TLS != nil {
				origin = "https://" + r.Host
			}
		}
		orig := origin + r.URL.RequestURI()
		sep := "?"
		if strings.Contains(h.loginURL, "?") {
			sep = "&"
		}
		return chain.Redirect(h.loginURL + sep + "originalUrl=" + url.QueryEscape(orig))
	}
	return chain.Pass(h.challenge())
}

// wantsHTML: a browser navigating (GET, accepting HTML, not XHR).
func wantsHTML(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
		strings.Contains(r.Header.Get("Accept"), "text/html") && r.Header.Get("X-Requested-With") == ""
}

var errNoKey = errors.New("no key for the token")

// verify checks raw with the configured keys and returns its principal.
func (h *Handler) verify(ctx context.Context, raw string, now time.Time) (*identity.Principal, error) {
	isJWT := jwtkit.LooksLikeJWT(raw)
	var hdr jwtkit.Header
	if isJWT {
		var err error
		if hdr, err = jwtkit.Precheck(raw); err != nil {
			return nil, err
		}
		if !slices.Contains(h.algorithms, hdr.Alg) {
			return nil, fmt.Errorf("algorithm %s is not accepted", hdr.Alg)
		}
	}
	external := isJWT && (h.static != nil || h.jwks != nil || (h.hmac != nil && hdr.Alg == "HS256"))
	if external {
		claims, err := h.verifyExternal(ctx, raw, hdr, now)
		if err == nil {
			return h.principal(claims, "", nil)
		}
		if !errors.Is(err, errNoKey) || !h.gateway {
			return nil, err
		}
	}
	if !h.gateway || h.host.Tokens == nil {
		return nil, errNoKey
	}
	vt, err := h.host.Tokens.VerifyToken(ctx, raw)
	if err != nil {
		return nil, err
	}
	if vt.Algorithm != "" && !slices.Contains(h.algorithms, vt.Algorithm) {
		return nil, fmt.Errorf("algorithm %s is not accepted", vt.Algorithm)
	}
	if h.issuer != "" && vt.Issuer != h.issuer {
		return nil, errors.New("wrong issuer")
	}
	if len(vt.Topologies) > 0 && !slices.Contains(vt.Topologies, h.topology) {
		return nil, fmt.Errorf("the token's policy does not name topology %q", h.topology)
	}
	if len(h.audiences) > 0 && !slices.ContainsFunc(vt.Audiences, func(a string) bool { return slices.Contains(h.audiences, a) }) {
		return nil, errors.New("wrong audience")
	}
	p, err := h.principal(vt.Claims, vt.ID, vt.Groups)
	if err != nil {
		return nil, err
	}
	p.Expires = vt.Expires
	return p, nil
}

// verifyExternal verifies a JWT with the configured PEM keys, JWKS or HMAC
// secret; errNoKey when none of them has a key for it.
func (h *Handler) verifyExternal(ctx context.Context, raw string, hdr jwtkit.Header, now time.Time) (map[string]any, error) {
	var key any
	switch {
	case hdr.Alg == "HS256":
		key = h.hmac
	default:
		for _, k := range h.static {
			if jwtkit.CheckKey(hdr.Alg, k) == nil {
				if kid, err := jwtkit.Thumbprint(k); err == nil && (hdr.Kid == "" || hdr.Kid == kid || len(h.static) == 1) {
					key = k
					break
				}
			}
		}
		if key == nil && h.jwks != nil && hdr.Kid != "" {
			if e, ok := h.jwks.lookup(ctx, hdr.Kid); ok && (e.Alg == "" || e.Alg == hdr.Alg) {
				key = e.Key
			}
		}
	}
	if key == nil {
		return nil, errNoKey
	}
	_, claims, err := jwtkit.Verify(raw, func(jwtkit.Header) (any, error) { return key, nil }, jwtkit.VerifyOptions{
		Algorithms: h.algorithms, Issuer: h.issuer, Audiences: h.audiences, Leeway: h.leeway,
		Now: func() time.Time { return now },
	})
	return claims, err
}

// principal builds the principal from a token's claims.
func (h *Handler) principal(claims map[string]any, id string, groups []string) (*identity.Principal, error) {
	name, _ := claims[h.claim].(string)
	if name == "" {
		return nil, fmt.Errorf("token has no %s claim", h.claim)
	}
	if id == "" {
		id, _ = claims["jti"].(string)
	}
	if groups == nil {
		if g, ok := claims["groups"].([]any); ok {
			for _, x := range g {
				if s, ok := x.(string); ok {
					groups = append(groups, s)
				}
			}
		}
	}
	p := &identity.Principal{Name: name, AuthenticatedAs: name, Groups: groups, Provider: h.name, CredentialID: id, Actors: actors(claims)}
	if exp, err := numericDate(claims["exp"]); err == nil && !exp.IsZero() {
		p.Expires = exp
	}
	return p, nil
}

func numericDate(v any) (time.Time, error) {
	switch n := v.(type) {
	case float64:
		return time.Unix(int64(n), 0), nil
	case interface{ Int64() (int64, error) }:
		i, err := n.Int64()
		return time.Unix(i, 0), err
	}
	return time.Time{}, errors.New("no date")
}

// actors reads the nested act claim (RFC 8693 §4.1), outermost first.
func actors(claims map[string]any) []string {
	var out []string
	act, _ := claims["act"].(map[string]any)
	for depth := 0; act != nil && depth < 16; depth++ {
		sub, _ := act["sub"].(string)
		if sub == "" {
			break
		}
		out = append(out, sub)
		act, _ = act["act"].(map[string]any)
	}
	return out
}
