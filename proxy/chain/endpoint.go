package chain

import (
	"fmt"
	"net/http"
	"strings"
)

// Endpoint is a handler the gateway serves itself, under
// /{prefix}/{topology}/{Path}, instead of dispatching to a backend: the
// group API today; token, JWKS, login and logout pages next.
type Endpoint struct {
	// Path under the topology, without a leading slash, matched exactly:
	// "auth/api/v1/groups". Its first segment is reserved: no service of
	// the topology may use it.
	Path string
	// Public endpoints (a JWKS document, a login page) are served without
	// the chain; the others after the whole inbound chain, with the
	// principal in the request's context (identity.FromContext).
	Public bool
	// Handler answers the request.
	Handler http.Handler
}

// EndpointProvider is implemented by handlers that serve endpoints of
// their own (an SSO provider's login and logout pages, a token provider's
// token endpoint). The proxy registers them when it compiles the topology.
type EndpointProvider interface {
	Endpoints() []Endpoint
}

// Endpoints returns the endpoints of the chain's handlers, in chain order.
func (c *Chain) Endpoints() []Endpoint {
	var out []Endpoint
	for _, l := range c.links {
		if ep, ok := l.h.(EndpointProvider); ok {
			out = append(out, ep.Endpoints()...)
		}
	}
	return out
}

// CheckEndpointPath checks an Endpoint's Path: non-empty segments without
// dot segments or characters that the canonical path never holds.
func CheckEndpointPath(path string) error {
	if path == "" || strings.HasPrefix(path, "/") || strings.HasSuffix(path, "/") {
		return fmt.Errorf("endpoint path %q: must be segments without a leading or trailing slash", path)
	}
	for seg := range strings.SplitSeq(path, "/") {
		if seg == "" || seg == "." || seg == ".." || strings.ContainsAny(seg, "?#%\\;") {
			return fmt.Errorf("endpoint path %q: bad segment %q", path, seg)
		}
	}
	return nil
}
