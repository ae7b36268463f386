package providers

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/identity"
)

func init() {
	chain.Register(chain.Factory{Name: "anonymous", Role: chain.RoleAuthentication, Priority: -1000, New: newAnonymous})
	chain.Register(chain.Factory{Name: "default", Role: chain.RoleIdentityAssertion, New: newDefaultIdentity})
	chain.Register(chain.Factory{Name: "header", Role: chain.RoleCustom, New: newHeader})
}

// anonymous establishes a fixed principal.
type anonymous struct{ p *identity.Principal }

var _ chain.Inbound = anonymous{}

func newAnonymous(_ context.Context, c chain.Config) (chain.Handler, error) {
	if err := c.Params.Allow("principal"); err != nil {
		return nil, err
	}
	name := "anonymous"
	if v, ok := c.Params["principal"]; ok {
		if v == "" || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return nil, &chain.ParamError{Param: "principal", Reason: "must be a non-empty name without control characters"}
		}
		name = v
	}
	// One shared, immutable principal: no allocation per request for it.
	return anonymous{p: &identity.Principal{Name: name, AuthenticatedAs: name, Provider: "anonymous"}}, nil
}

func (a anonymous) ServeInbound(_ http.ResponseWriter, r *http.Request) *http.Request {
	if _, ok := identity.FromContext(r.Context()); ok {
		return r
	}
	return identity.WithPrincipal(r, a.p)
}

// defaultIdentity passes the authenticated principal through.
type defaultIdentity struct{}

var _ chain.Inbound = defaultIdentity{}

func newDefaultIdentity(_ context.Context, c chain.Config) (chain.Handler, error) {
	if err := c.Params.Allow(); err != nil {
		return nil, err
	}
	return defaultIdentity{}, nil
}

func (defaultIdentity) ServeInbound(w http.ResponseWriter, r *http.Request) *http.Request {
	if _, ok := identity.FromContext(r.Context()); !ok {
		chain.WriteError(w, http.StatusUnauthorized, "unauthenticated")
		return nil
	}
	return r
}

// setHeader sets one header on backend requests.
type setHeader struct {
	name, value string
}

var _ chain.Outbound = (*setHeader)(nil)

// reservedHeaders are managed by the gateway or by HTTP framing.
var reservedHeaders = []string{
	"Host", "Content-Length", "Transfer-Encoding", "Connection", "Upgrade", "Te", "Trailer",
	"Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "Proxy-Authenticate",
	"X-Request-Id", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
	"X-Forwarded-Port", "X-Forwarded-Context", "Forwarded",
}

func newHeader(ctx context.Context, c chain.Config) (chain.Handler, error) {
	if err := c.Params.Allow("name", "value"); err != nil {
		return nil, err
	}
	name, err := c.Params.Required("name")
	if err != nil {
		return nil, err
	}
	if !httpguts.ValidHeaderFieldName(name) {
		return nil, &chain.ParamError{Param: "name", Reason: fmt.Sprintf("%q is not a valid header name", name)}
	}
	name = http.CanonicalHeaderKey(name)
	for _, r := range reservedHeaders {
		if strings.EqualFold(r, name) {
			return nil, &chain.ParamError{Param: "name", Reason: fmt.Sprintf("header %q is managed by the gateway", name)}
		}
	}
	raw, ok := c.Params["value"]
	if !ok {
		return nil, &chain.ParamError{Param: "value", Reason: "is required"}
	}
	value, err := c.Expand(ctx, "value", raw)
	if err != nil {
		return nil, err
	}
	if !httpguts.ValidHeaderFieldValue(value) {
		// Do not quote the value: it may hold a resolved secret.
		return nil, &chain.ParamError{Param: "value", Reason: "is not a valid header value (control characters or line breaks)"}
	}
	return &setHeader{name: name, value: value}, nil
}

func (h *setHeader) RewriteOutbound(out, _ *http.Request) { out.Header.Set(h.name, h.value) }
