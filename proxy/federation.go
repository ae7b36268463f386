package proxy

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
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
func (p *Proxy) compileFederation(ctx context.Context, c *Compiled, ts *topology.Service, d *topology.Dispatch) (*federator, error) {
	if !d.Federate {
		return nil, nil
	}
	path := ts.Path
	// The signature covers the path: failing over from one URL to another
	// must not change it (several gateways serving the same topology).
	var first string
	for i, raw := range ts.URLs {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("url %q: %w", raw, err)
		}
		if p := strings.TrimRight(u.Path, "/"); i == 0 {
			first = p
		} else if p != first {
			return nil, fmt.Errorf("dispatch.federate: the urls of a federated service must share one path (the federation signature covers it): %q and %q differ", ts.URLs[0], raw)
		}
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
	if f.groups != "" && len(who.Groups) > 0 {
		out.Header[f.groups] = []string{strings.Join(who.Groups, ",")}
	}
	f.sign(out)
}

// sign (re)signs out with a fresh nonce: rewrite calls it, and so does a
// failover's second attempt, which another gateway of the cluster sharing
// the replay cache would otherwise refuse as a replay.
func (f *federator) sign(out *http.Request) {
	if f.signer == nil {
		return
	}
	user := out.Header[f.header]
	if len(user) != 1 {
		return
	}
	var groups string
	if g := out.Header[f.groups]; f.groups != "" && len(g) == 1 {
		groups = g[0]
	}
	out.Header[fedsig.Header] = []string{f.signer.Sign(&fedsig.Request{
		Method: out.Method, Path: out.URL.Path, RawQuery: out.URL.RawQuery, User: user[0], Groups: groups,
	}, f.now())}
}
