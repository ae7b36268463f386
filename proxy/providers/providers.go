package providers

import (
	"context"
	"net/http"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/identity"

	// Providers in packages of their own register themselves too.
	_ "github.com/securegw/gateway/proxy/providers/acls"
	_ "github.com/securegw/gateway/proxy/providers/assertion"
	_ "github.com/securegw/gateway/proxy/providers/basic"
	_ "github.com/securegw/gateway/proxy/providers/clientcert"
	_ "github.com/securegw/gateway/proxy/providers/denymethods"
	_ "github.com/securegw/gateway/proxy/providers/ldap"
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

// Authenticate authenticates every request as the configured principal.
func (a anonymous) Authenticate(*http.Request) chain.Outcome { return chain.Authenticate(a.p) }

// setHeader sets one header on backend requests.
type setHeader struct {
	name, value string
}

var _ chain.Outbound = (*setHeader)(nil)

func newHeader(ctx context.Context, c chain.Config) (chain.Handler, error) {
	if err := c.Params.Allow("name", "value"); err != nil {
		return nil, err
	}
	name, err := c.Params.Required("name")
	if err != nil {
		return nil, err
	}
	if name, err = chain.HeaderName("name", name); err != nil {
		return nil, err
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
