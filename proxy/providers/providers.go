package providers

import (
	"context"
	"net/http"

	"golang.org/x/net/http/httpguts"

	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/identity"

	// Providers in packages of their own register themselves too.
	_ "github.com/securegw/gateway/proxy/providers/acls"
	_ "github.com/securegw/gateway/proxy/providers/assertion"
	_ "github.com/securegw/gateway/proxy/providers/basic"
	_ "github.com/securegw/gateway/proxy/providers/clientcert"
	_ "github.com/securegw/gateway/proxy/providers/denymethods"
	_ "github.com/securegw/gateway/proxy/providers/hostmap"
	_ "github.com/securegw/gateway/proxy/providers/jwt"
	_ "github.com/securegw/gateway/proxy/providers/kerberos"
	_ "github.com/securegw/gateway/proxy/providers/ldap"
	_ "github.com/securegw/gateway/proxy/providers/preauth"
	_ "github.com/securegw/gateway/proxy/providers/webappsec"
)

func init() {
	chain.Register(chain.Factory{Name: "anonymous", Role: chain.RoleAuthentication, Priority: -1000, New: newAnonymous})
	chain.Register(chain.Factory{Name: "header", Role: chain.RoleCustom, New: newHeader})
}

// anonymous establishes a fixed principal.
type anonymous struct{ p *identity.Principal }

var _ chain.Authenticator = anonymous{}

func newAnonymous(_ context.Context, c chain.Config) (chain.Handler, error) {
	p, err := c.Read([]chain.Param{chain.P("principal")})
	if err != nil {
		return nil, err
	}
	name := "anonymous"
	if p.Has("principal") {
		if name, err = p.Required("principal"); err != nil {
			return nil, p.Errorf("principal", "must be a non-empty name without control characters")
		}
	}
	// One shared, immutable principal: no allocation per request for it.
	return anonymous{p: &identity.Principal{Name: name, AuthenticatedAs: name, Provider: "anonymous"}}, nil
}

// Authenticate authenticates every request as the configured principal.
func (a anonymous) Authenticate(*http.Request) chain.Outcome { return chain.Authenticate(a.p) }

// setHeader sets one header on backend requests.
type setHeader struct {
	name, value string
}

var _ chain.Outbound = (*setHeader)(nil)

func newHeader(ctx context.Context, c chain.Config) (chain.Handler, error) {
	p, err := c.Read([]chain.Param{chain.P("name"), chain.P("value")})
	if err != nil {
		return nil, err
	}
	name, err := p.Required("name")
	if err != nil {
		return nil, err
	}
	if name, err = chain.HeaderName("name", name); err != nil {
		return nil, err
	}
	if !p.Has("value") {
		return nil, p.Errorf("value", "is required")
	}
	value, err := p.Secret(ctx, "value", "")
	if err != nil {
		return nil, err
	}
	if !httpguts.ValidHeaderFieldValue(value) {
		// Do not quote the value: it may hold a resolved secret.
		return nil, p.Errorf("value", "is not a valid header value (control characters or line breaks)")
	}
	return &setHeader{name: name, value: value}, nil
}

func (h *setHeader) RewriteOutbound(out, _ *http.Request) { out.Header.Set(h.name, h.value) }
