package identity

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// CredentialKind says where in a request a credential travelled.
type CredentialKind uint8

// The places a credential can travel in.
const (
	// CredentialHeader: a whole request header (Authorization, a pre-auth
	// signature header). Its name is matched case-insensitively.
	CredentialHeader CredentialKind = iota + 1
	// CredentialCookie: one cookie of the Cookie header, by its exact name;
	// the request's other cookies are kept.
	CredentialCookie
	// CredentialQuery: one query parameter, by its exact (decoded) name;
	// the other parameters are kept as sent.
	CredentialQuery
)

func (k CredentialKind) String() string {
	switch k {
	case CredentialHeader:
		return "header"
	case CredentialCookie:
		return "cookie"
	case CredentialQuery:
		return "query parameter"
	}
	return "unknown"
}

// Credential names a credential an authentication provider consumed: the
// gateway removes it from the request before dispatch, so that a backend
// never sees a user's password, token or session cookie, unless the service
// asks for it (dispatch.forward_credentials).
type Credential struct {
	Kind CredentialKind
	Name string
}

// HeaderCredential is the credential carried by the request header name.
func HeaderCredential(name string) Credential {
	return Credential{Kind: CredentialHeader, Name: http.CanonicalHeaderKey(name)}
}

// CookieCredential is the credential carried by the cookie name.
func CookieCredential(name string) Credential { return Credential{Kind: CredentialCookie, Name: name} }

// QueryCredential is the credential carried by the query parameter name.
func QueryCredential(name string) Credential { return Credential{Kind: CredentialQuery, Name: name} }

// Authorization is the credential of HTTP authentication schemes (Basic,
// Bearer, Negotiate).
var Authorization = HeaderCredential("Authorization")

func (c Credential) String() string { return c.Kind.String() + " " + c.Name }

// Strip removes the credential from r, the request about to be sent to a
// backend: every value of the header, every cookie of that name (the Cookie
// header is dropped when none is left), every query parameter of that name.
// It does not allocate when r does not carry the credential.
func (c Credential) Strip(r *http.Request) {
	if c.Name == "" {
		return
	}
	switch c.Kind {
	case CredentialHeader:
		r.Header.Del(c.Name)
	case CredentialCookie:
		stripCookie(r.Header, c.Name)
	case CredentialQuery:
		if r.URL != nil {
			r.URL.RawQuery = stripQueryParam(r.URL.RawQuery, c.Name)
		}
	}
}

// stripCookie removes the cookies called name from every Cookie header
// value, keeping the other cookies byte for byte.
func stripCookie(h http.Header, name string) {
	vals := h["Cookie"]
	if !slices.ContainsFunc(vals, func(v string) bool { return strings.Contains(v, name) }) {
		return
	}
	out := make([]string, 0, len(vals))
	changed := false
	for _, v := range vals {
		if !strings.Contains(v, name) {
			out = append(out, v)
			continue
		}
		var b strings.Builder
		for part := range strings.SplitSeq(v, ";") {
			p := strings.TrimSpace(part)
			n, _, _ := strings.Cut(p, "=")
			if strings.TrimSpace(n) == name {
				changed = true
				continue
			}
			if p == "" {
				continue
			}
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			b.WriteString(p)
		}
		if b.Len() > 0 {
			out = append(out, b.String())
		}
	}
	switch {
	case !changed:
	case len(out) == 0:
		delete(h, "Cookie")
	default:
		h["Cookie"] = out
	}
}

// stripQueryParam returns rawQuery without the parameters whose decoded
// name is name; the others are kept as sent.
func stripQueryParam(rawQuery, name string) string {
	if rawQuery == "" || (!strings.Contains(rawQuery, name) && !strings.ContainsAny(rawQuery, "%+")) {
		return rawQuery
	}
	q, _ := dropParams(rawQuery, func(key string) bool {
		if strings.ContainsAny(key, "%+") {
			if k, err := url.QueryUnescape(key); err == nil {
				key = k
			}
		}
		return key == name
	})
	return q
}
