package kerberos

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/identity"
)

// sessions issues and checks the session cookie, modelled on Hadoop's
// hadoop.auth: after a ticket was accepted, the client gets a signed cookie
// u=USER&p=PRINCIPAL&t=kerberos&e=EXPIRY_MS&s=SIGNATURE and is authenticated
// by it, without Kerberos, until it expires (cookie.validity, and never
// after the ticket's end). The signature is HMAC-SHA256 over the topology's
// name and the rest of the value, under signature.secret or, without it, a
// random key made with the handler (sessions then end with a redeploy: the
// client negotiates again).
type sessions struct {
	name     string
	validity time.Duration
	domain   string
	path     string // "" : /PREFIX/TOPOLOGY of the request
	key      []byte
	topology string
	// secure: the public URL is https (TLS ends in front of the gateway),
	// so the cookie is Secure whatever the request came over.
	secure bool
}

func newSessions(ctx context.Context, c chain.Config, p *chain.Reader) (*sessions, error) {
	validity, err := p.Duration(ParamCookieValidity, DefaultCookieValidity, 0, maxCookieValidity)
	if err != nil {
		return nil, err
	}
	if validity == 0 {
		for _, k := range []string{ParamCookieName, ParamCookieDomain, ParamCookiePath, ParamSignatureSecret} {
			if p.Has(k) {
				return nil, p.Errorf(k, "has no effect with %s 0 (no session cookie)", ParamCookieValidity)
			}
		}
		return nil, nil
	}
	s := &sessions{validity: validity, topology: c.Topology, secure: strings.HasPrefix(c.Host.PublicOrigin, "https://")}
	if s.name, err = p.String(ParamCookieName, DefaultCookieName); err != nil {
		return nil, err
	}
	if !validCookieName(s.name) {
		return nil, p.Errorf(ParamCookieName, "%q is not a valid cookie name", s.name)
	}
	if s.domain, err = p.String(ParamCookieDomain, ""); err != nil {
		return nil, err
	}
	if strings.ContainsAny(s.domain, ";, \t\"") {
		return nil, p.Errorf(ParamCookieDomain, "%q is not a domain", s.domain)
	}
	if s.path, err = p.String(ParamCookiePath, ""); err != nil {
		return nil, err
	}
	if s.path != "" {
		// Knox writes it without the leading slash ("gateway/default").
		s.path = "/" + strings.TrimPrefix(s.path, "/")
		if strings.ContainsAny(s.path, ";, \t\"") {
			return nil, p.Errorf(ParamCookiePath, "%q is not a path", s.path)
		}
	}
	if p.Has(ParamSignatureSecret) {
		secret, err := p.Secret(ctx, ParamSignatureSecret, "")
		if err != nil {
			return nil, err
		}
		if len(secret) < minSecretLen {
			return nil, p.Errorf(ParamSignatureSecret, "must be at least %d bytes", minSecretLen)
		}
		s.key = []byte(secret)
	} else if s.key, err = randomKey(32); err != nil {
		return nil, err
	}
	return s, nil
}

func validCookieName(n string) bool {
	if n == "" {
		return false
	}
	for _, r := range n {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, r) {
			return false
		}
	}
	return true
}

// issue makes the cookie for user (principal) authenticated now, valid
// until ticketEnd at the latest.
func (s *sessions) issue(r *http.Request, user, principal string, now, ticketEnd time.Time) *http.Cookie {
	exp := now.Add(s.validity)
	if !ticketEnd.IsZero() && ticketEnd.Before(exp) {
		exp = ticketEnd
	}
	body := "u=" + url.QueryEscape(user) + "&p=" + url.QueryEscape(principal) + "&t=kerberos&e=" + strconv.FormatInt(exp.UnixMilli(), 10)
	return &http.Cookie{
		Name:     s.name,
		Value:    body + "&s=" + s.sign(body),
		Path:     s.cookiePath(r),
		Domain:   s.domain,
		Expires:  exp,
		Secure:   r.TLS != nil || s.secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
}

func (s *sessions) sign(body string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(s.topology))
	m.Write([]byte{0})
	m.Write([]byte(body))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// cookiePath is the configured path, else the first two segments of the
// request's canonical path: /PREFIX/TOPOLOGY.
func (s *sessions) cookiePath(r *http.Request) string {
	if s.path != "" {
		return s.path
	}
	p := r.URL.Path
	n := 0
	for i := 1; i < len(p); i++ {
		if p[i] == '/' {
			if n++; n == 2 {
				return p[:i]
			}
		}
	}
	return p
}

// verify returns the principal of a valid, unexpired session cookie in r,
// or nil.
func (s *sessions) verify(r *http.Request, now time.Time, consumed []identity.Credential) *identity.Principal {
	for _, c := range r.CookiesNamed(s.name) {
		body, sig, ok := strings.Cut(c.Value, "&s=")
		if !ok || !hmac.Equal([]byte(sig), []byte(s.sign(body))) {
			continue
		}
		v, err := url.ParseQuery(body)
		if err != nil || v.Get("t") != "kerberos" || v.Get("u") == "" {
			continue
		}
		ms, err := strconv.ParseInt(v.Get("e"), 10, 64)
		if err != nil {
			continue
		}
		exp := time.UnixMilli(ms)
		if !now.Before(exp) {
			continue
		}
		user := v.Get("u")
		return &identity.Principal{Name: user, AuthenticatedAs: user, Provider: Name, Consumed: consumed, Expires: exp}
	}
	return nil
}
