package identity

import (
	"context"
	"net/http"
	"slices"
	"time"
)

// Principal is who a request acts as. A Principal in a context is never
// modified: a handler that changes it (identity assertion mapping a name,
// group lookup) stores a modified copy with NewContext.
type Principal struct {
	// Name is the identity asserted to backends.
	Name string
	// Groups the principal belongs to, as found by the providers.
	Groups []string
	// AuthenticatedAs is the name the authentication or federation provider
	// established; it differs from Name only after identity assertion mapped it.
	AuthenticatedAs string
	// Provider names the provider that authenticated the request ("anonymous", …).
	Provider string
	// Consumed are the credentials the provider authenticated the request
	// with (an Authorization header, a session cookie, a token parameter):
	// the gateway removes them from the request to the backend unless the
	// service forwards credentials. Shared and never modified.
	Consumed []Credential
	// Expires is when the credential stops being valid (a token's exp);
	// zero when it does not say. The chain refuses an expired one.
	Expires time.Time
	// CredentialID names the credential for revocation (a token's jti, a
	// session id); "" when it cannot be revoked. The chain refuses a
	// request whose credential was revoked.
	CredentialID string
	// Actors is the RFC 8693 act chain of the token that authenticated the
	// request, outermost first: who acts for Name. A token issued to this
	// principal on behalf of someone else nests it. Nil when none.
	Actors []string
}

// InGroup reports whether the principal is in group g.
func (p *Principal) InGroup(g string) bool { return slices.Contains(p.Groups, g) }

type ctxKey struct{}

// NewContext returns a copy of ctx carrying p.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// A Carrier is a request's context that can take the request's principal
// itself (the proxy's per-request context, on the heap anyway):
// authenticating the request then allocates neither a context nor a copy
// of the request.
type Carrier interface {
	context.Context
	// CarryPrincipal makes the context carry p from now on (its Value is p
	// for the principal's key, IsContextKey) and reports true, when r is
	// the request the context was made for and it carries no principal
	// yet; otherwise it changes nothing and reports false. Another request
	// sharing the context (a sign-in page running the chain on the
	// credentials it was sent) never gives its principal to it.
	CarryPrincipal(r *http.Request, p *Principal) bool
}

// IsContextKey reports whether key is the one a principal is carried
// under (for a Carrier's context).
func IsContextKey(key any) bool {
	_, ok := key.(ctxKey)
	return ok
}

// FromContext returns the principal carried by ctx, if any.
func FromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(*Principal)
	return p, ok && p != nil
}

// WithPrincipal returns r carrying p: r itself when its context is a
// Carrier that took p for it, else a shallow copy of r whose context
// carries p (over any principal carried before: identity assertion mapping
// the name).
func WithPrincipal(r *http.Request, p *Principal) *http.Request {
	if c, ok := r.Context().(Carrier); ok && c.CarryPrincipal(r, p) {
		return r
	}
	return r.WithContext(NewContext(r.Context(), p))
}
