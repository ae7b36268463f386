package proxy

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/securegw/gateway/internal/fedsig"
	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy/identity"
)

// DefaultFederationHeader is Federation.Header's default (Knox's
// gateway.custom.federation.header.name).
const DefaultFederationHeader = "SM_USER"

// Federation configures the federation dispatch: services whose dispatch
// federates send the authenticated user to another gateway in these
// headers (seed 001), which its header-preauth provider reads.
type Federation struct {
	// Header carries the user's name; DefaultFederationHeader when "".
	// A service's dispatch.federation_header overrides it.
	Header string
	// GroupsHeader carries the user's groups, comma-separated; none when "".
	GroupsHeader string
}

// federator adds the federation headers to a federated service's backend
// requests (Knox's HeaderPreAuthFederationDispatch).
type federator struct {
	header, groups string // as sent
	// strip are the normalised names removed from the client's request
	// first, in every spelling: the identity, groups and signature headers.
	strip  []string
	signer *fedsig.Signer // nil: unsigned
	now    func() time.Time
}

// compileFederation builds the service's federator; nil when it does not
// federate.
func (p *Proxy) compileFederation(ctx context.Context, c *Compiled, path string, d *topology.Dispatch) (*federator, error) {
	if !d.Federate {
		return nil, nil
	}
	f := &federator{header: d.FederationHeader, groups: p.federation.GroupsHeader, now: p.host.Clock.Now}
	if f.header == "" {
		f.header = p.federation.Header
	}
	if f.header == "" {
		f.header = DefaultFederationHeader
	}
	f.header, f.groups = http.CanonicalHeaderKey(f.header), http.CanonicalHeaderKey(f.groups)
	for _, h := range []string{f.header, f.groups, fedsig.Header} {
		if h != "" {
			f.strip = append(f.strip, normHeader(h))
		}
	}
	if normHeader(f.header) == normHeader(f.groups) {
		return nil, fmt.Errorf("dispatch.federation_header %q is the gateway's federation groups header", f.header)
	}
	if d.FederationSecret == "" {
		c.warnings = append(c.warnings, fmt.Sprintf("service %q: federation without dispatch.federation_secret is not signed: the receiving gateway must trust this one by address or client certificate", path))
		return f, nil
	}
	secret, err := p.resolve(ctx, c.name, d.FederationSecret)
	if err != nil {
		return nil, fmt.Errorf("dispatch.federation_secret: alias %q: %w", d.FederationSecret, err)
	}
	if f.signer, err = fedsig.NewSigner(secret); err != nil {
		return nil, fmt.Errorf("dispatch.federation_secret: alias %q: %w", d.FederationSecret, err)
	}
	return f, nil
}

// rewrite is the federation hook of the backend request: it runs last,
// on out as it will be sent. It removes any client-sent copy of the
// federation headers, then sets them from the principal the chain
// established, and signs method, path, query, user and groups.
func (f *federator) rewrite(out, in *http.Request) {
	for k := range out.Header {
		for _, n := range f.strip {
			if normEqual(k, n) {
				delete(out.Header, k)
				break
			}
		}
	}
	who, ok := identity.FromContext(in.Context())
	if !ok {
		return // nobody to assert: the receiving gateway answers 401
	}
	out.Header[f.header] = []string{who.Name}
	var groups string
	if f.groups != "" && len(who.Groups) > 0 {
		groups = strings.Join(who.Groups, ",")
		out.Header[f.groups] = []string{groups}
	}
	if f.signer != nil {
		out.Header[fedsig.Header] = []string{f.signer.Sign(&fedsig.Request{
			Method: out.Method, Path: out.URL.Path, RawQuery: out.URL.RawQuery, User: who.Name, Groups: groups,
		}, f.now())}
	}
}
