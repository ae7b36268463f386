package sso

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/identity"
)

// Service roles.
const (
	RoleSSO    = "KNOXSSO"
	RoleLogout = "KNOXSSOUT"
)

// Param names (Knox's names as aliases where they mean the same).
const (
	ParamPolicy         = "policy"
	ParamTTL            = "ttl"
	ParamKnoxTTL        = "knoxsso.token.ttl" // milliseconds
	ParamCookie         = "cookie_name"
	ParamCookieDomain   = "cookie_domain"
	ParamCookieMaxAge   = "cookie_max_age"
	ParamSameSite       = "cookie_samesite"
	ParamAllowedOrigins = "allowed_origins"
	ParamWhitelistRegex = "knoxsso.redirect.whitelist.regex"
	ParamAudiences      = "audiences"
	ParamLoginPage      = "login_url" // KNOXSSOUT: where logout sends the browser
	paramServerManaged  = "knox.token.exp.server-managed"
)

// DefaultCookie is Knox's SSO cookie name.
const DefaultCookie = "hadoop-jwt"

//go:embed assets
var assets embed.FS

var page = template.Must(template.ParseFS(assets, "assets/login.html"))

var loginCSS = func() []byte {
	b, err := assets.ReadFile("assets/login.css")
	if err != nil {
		panic(err)
	}
	return b
}()

func init() {
	chain.RegisterService(chain.ServiceFactory{Role: RoleSSO, New: newSSO})
	chain.RegisterService(chain.ServiceFactory{Role: RoleLogout, New: newLogout})
}

type service struct {
	issuer    chain.TokenIssuer
	verifier  chain.TokenVerifier
	inbound   func(http.ResponseWriter, *http.Request) *http.Request
	policy    string
	ttl       time.Duration
	audiences []string
	cookie    string
	domain    string
	maxAge    int
	sameSite  http.SameSite
	redirects redirects
	topology  string
	base      string // the service's path in the topology
	loginURL  string // KNOXSSOUT: the login page to send the browser to
	public    string // chain.Host's PublicOrigin: "" for the request's
	log       *slog.Logger
}

func read(c chain.ServiceConfig, logout bool) (*service, error) {
	known := []chain.Param{
		chain.P(ParamCookie, "knoxsso.cookie.name"), chain.P(ParamCookieDomain, "knoxsso.cookie.domain.suffix"),
		chain.P(ParamAllowedOrigins), chain.P(ParamWhitelistRegex), chain.P(ParamLoginPage),
	}
	if !logout {
		known = append(known, chain.P(ParamPolicy), chain.P(ParamTTL), chain.P(ParamKnoxTTL),
			chain.P(ParamCookieMaxAge, "knoxsso.cookie.max.age"), chain.P(ParamSameSite),
			chain.P(ParamAudiences, "knoxsso.token.audiences"), chain.P(paramServerManaged))
	}
	p, err := c.Read(known)
	if err != nil {
		return nil, err
	}
	if c.Host.Issuer == nil || c.Host.Tokens == nil {
		return nil, errors.New("this gateway issues no tokens")
	}
	s := &service{issuer: c.Host.Issuer, verifier: c.Host.Tokens, inbound: c.Inbound, topology: c.Topology, base: c.Path, public: c.Host.PublicOrigin, log: c.Logger}
	if s.cookie, err = p.String(ParamCookie, DefaultCookie); err != nil {
		return nil, err
	}
	if s.cookie == "" || strings.ContainsAny(s.cookie, " ;=,\"\\") {
		return nil, p.Errorf(ParamCookie, "%q is not a cookie name", s.cookie)
	}
	if s.domain, err = p.String(ParamCookieDomain, ""); err != nil {
		return nil, err
	}
	if strings.ContainsAny(s.domain, " ;,/\\") {
		return nil, p.Errorf(ParamCookieDomain, "%q is not a domain", s.domain)
	}
	for _, o := range p.List(ParamAllowedOrigins, nil) {
		n, err := parseOrigin(o)
		if err != nil {
			return nil, p.Errorf(ParamAllowedOrigins, "%q %v", o, err)
		}
		s.redirects.origins = append(s.redirects.origins, n)
	}
	if re, _ := p.String(ParamWhitelistRegex, ""); re != "" {
		if s.redirects.pattern, err = regexp.Compile("^(?:" + re + ")$"); err != nil {
			return nil, p.Errorf(ParamWhitelistRegex, "%v", err)
		}
	}
	if s.loginURL, err = p.String(ParamLoginPage, ""); err != nil {
		return nil, err
	}
	if logout {
		return s, nil
	}
	if s.policy, err = p.String(ParamPolicy, ""); err != nil {
		return nil, err
	}
	if s.ttl, err = p.Duration(ParamTTL, time.Hour, time.Minute, 30*24*time.Hour); err != nil {
		return nil, err
	}
	if ms, err := p.Int(ParamKnoxTTL, 0, 60000, 30*24*3600*1000); err != nil {
		return nil, err
	} else if ms > 0 {
		s.ttl = time.Duration(ms) * time.Millisecond
	}
	if s.maxAge, err = p.Int(ParamCookieMaxAge, int(s.ttl/time.Second), -1, 30*24*3600); err != nil {
		return nil, err
	}
	switch v, _ := p.String(ParamSameSite, "strict"); strings.ToLower(v) {
	case "strict":
		s.sameSite = http.SameSiteStrictMode
	case "lax":
		s.sameSite = http.SameSiteLaxMode
	default:
		return nil, p.Errorf(ParamSameSite, "%q: strict or lax", v)
	}
	if _, err := p.Bool(paramServerManaged, true); err != nil {
		return nil, err
	}
	s.audiences = p.List(ParamAudiences, nil)
	return s, nil
}

func newSSO(_ context.Context, c chain.ServiceConfig) ([]chain.Endpoint, error) {
	s, err := read(c, false)
	if err != nil {
		return nil, err
	}
	return []chain.Endpoint{
		{Path: c.Path + "/login", Public: true, Handler: http.HandlerFunc(s.login)},
		{Path: c.Path + "/assets/login.css", Public: true, Handler: http.HandlerFunc(serveCSS)},
		{Path: c.Path + "/logout", Public: true, Handler: http.HandlerFunc(s.logout)},
		// Knox's URL: authenticated by the topology's chain (e.g. Basic).
		{Path: c.Path + "/api/v1/websso", Handler: http.HandlerFunc(s.websso)},
	}, nil
}

func newLogout(_ context.Context, c chain.ServiceConfig) ([]chain.Endpoint, error) {
	s, err := read(c, true)
	if err != nil {
		return nil, err
	}
	return []chain.Endpoint{{Path: c.Path + "/api/v1/webssout", Public: true, Handler: http.HandlerFunc(s.logout)}}, nil
}

func serveCSS(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(loginCSS)
}

// selfOrigin is the origin the request was made to: the configured public
// origin when there is one, else the request's scheme and Host.
func (s *service) selfOrigin(r *http.Request) string {
	if s.public != "" {
		return s.public
	}
	u := &url.URL{Scheme: "http", Host: r.Host}
	if r.TLS != nil {
		u.Scheme = "https"
	}
	return normOrigin(u)
}

// securityHeaders are a gateway page's: a strict CSP (no script at all;
// styles and form posts only to the gateway, redirects after the form only
// to allowed origins), no framing, no caching, no referrer.
func (s *service) securityHeaders(w http.ResponseWriter, r *http.Request) {
	formAction := "'self'"
	if s.public != "" {
		// The origin a login returns to (selfOrigin), also when the page
		// was reached at another name.
		formAction += " " + s.public
	}
	for _, o := range s.redirects.origins {
		formAction += " " + o
	}
	if s.redirects.pattern != nil {
		formAction += " https: http:"
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

type pageData struct {
	Topology, Action, Assets, Original, Error, Message string
}

func (s *service) render(w http.ResponseWriter, r *http.Request, status int, original, errMsg, msg string) {
	s.securityHeaders(w, r)
	var buf bytes.Buffer
	d := pageData{Topology: s.topology, Action: "login", Assets: "assets", Original: original, Error: errMsg, Message: msg}
	if err := page.Execute(&buf, d); err != nil {
		s.log.Error("rendering the login page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// login serves the form (GET) and checks what it posts (POST).
func (s *service) login(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		orig := r.URL.Query().Get("originalUrl")
		if orig != "" {
			if _, err := s.redirects.check(orig, s.selfOrigin(r)); err != nil {
				s.render(w, r, http.StatusBadRequest, "", err.Error(), "")
				return
			}
		}
		s.render(w, r, http.StatusOK, orig, "", "")
	case http.MethodPost:
		s.loginPost(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (s *service) loginPost(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || len(r.PostForm) == 0 {
		s.render(w, r, http.StatusBadRequest, "", "malformed form", "")
		return
	}
	orig := r.PostForm.Get("originalUrl")
	target := ""
	if orig != "" {
		var err error
		if target, err = s.redirects.check(orig, s.selfOrigin(r)); err != nil {
			s.render(w, r, http.StatusBadRequest, "", err.Error(), "")
			return
		}
	}
	user, pass := r.PostForm.Get("username"), r.PostForm.Get("password")
	if user == "" || pass == "" {
		s.render(w, r, http.StatusUnauthorized, orig, "invalid user name or password", "")
		return
	}
	// The credentials go through the topology's own chain, as a Basic
	// request would: the same providers, lockouts and identity assertion.
	check := httptest.NewRequest(http.MethodGet, "/", nil).WithContext(r.Context())
	check.RemoteAddr, check.TLS, check.Host = r.RemoteAddr, r.TLS, r.Host
	check.SetBasicAuth(user, pass)
	rec := httptest.NewRecorder()
	authed := s.inbound(rec, check)
	if authed == nil {
		msg := "invalid user name or password"
		if rec.Code == http.StatusServiceUnavailable {
			msg = "sign-in is unavailable right now; try again later"
		}
		s.render(w, r, http.StatusUnauthorized, orig, msg, "")
		return
	}
	p, ok := identity.FromContext(authed.Context())
	if !ok {
		s.render(w, r, http.StatusUnauthorized, orig, "invalid user name or password", "")
		return
	}
	s.signIn(w, r, p, target)
}

// websso is Knox's sign-in URL: the topology's chain authenticated the
// request; set the cookie and go back.
func (s *service) websso(w http.ResponseWriter, r *http.Request) {
	p, ok := identity.FromContext(r.Context())
	if !ok {
		http.Error(w, "unauthenticated", http.StatusUnauthorized)
		return
	}
	target := ""
	if orig := r.URL.Query().Get("originalUrl"); orig != "" {
		var err error
		if target, err = s.redirects.check(orig, s.selfOrigin(r)); err != nil {
			s.render(w, r, http.StatusBadRequest, "", err.Error(), "")
			return
		}
	}
	s.signIn(w, r, p, target)
}

// signIn issues the principal's SSO token, sets the cookie and redirects.
func (s *service) signIn(w http.ResponseWriter, r *http.Request, p *identity.Principal, target string) {
	tok, err := s.issuer.IssueToken(r.Context(), p, chain.TokenRequest{Policy: s.policy, TTL: s.ttl, Audiences: s.audiences, Comment: "sso"})
	if err != nil {
		s.log.Warn("issuing an SSO token", "user", p.Name, "err", err)
		s.render(w, r, http.StatusForbidden, "", "signing in is not allowed for this user", "")
		return
	}
	http.SetCookie(w, s.newCookie(r, tok.Token, s.maxAge))
	if target == "" {
		s.render(w, r, http.StatusOK, "", "", "Signed in as "+p.Name+".")
		return
	}
	s.securityHeaders(w, r)
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// newCookie is the login cookie: Secure over TLS, and when the public
// origin is https (TLS ends in front of the gateway), so that a browser
// never sends the token over plain HTTP.
func (s *service) newCookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: s.cookie, Value: value, Path: "/", Domain: s.domain, MaxAge: maxAge,
		HttpOnly: true, Secure: r.TLS != nil || strings.HasPrefix(s.public, "https://"), SameSite: s.sameSite,
	}
}

// logout revokes the cookie's token, clears the cookie and shows the
// login page (or redirects to an allowed originalUrl, or login_url).
func (s *service) logout(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if c, err := r.Cookie(s.cookie); err == nil && c.Value != "" {
		if vt, err := s.verifier.VerifyToken(r.Context(), c.Value); err == nil {
			owner := &identity.Principal{Name: vt.Subject}
			if err := s.issuer.RevokeToken(r.Context(), owner, vt.ID); err != nil {
				s.log.Warn("revoking the token of a logout", "err", err)
			}
		}
	}
	clear := s.newCookie(r, "", -1)
	clear.SameSite = s.sameSiteOr()
	http.SetCookie(w, clear)
	target := s.loginURL
	if orig := r.URL.Query().Get("originalUrl"); orig != "" {
		if t, err := s.redirects.check(orig, s.selfOrigin(r)); err == nil {
			target = t
		}
	}
	if target == "" {
		s.render(w, r, http.StatusOK, "", "", "Signed out.")
		return
	}
	s.securityHeaders(w, r)
	http.Redirect(w, r, target, http.StatusSeeOther)
}

func (s *service) sameSiteOr() http.SameSite {
	if s.sameSite == 0 {
		return http.SameSiteStrictMode
	}
	return s.sameSite
}
