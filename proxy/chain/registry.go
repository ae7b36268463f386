package chain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
)

// Role is the place of a provider in the chain.
type Role string

// The roles known to the gateway, in chain order. Any other role is a custom
// role and runs after authorization.
const (
	RoleWebAppSec         Role = "webappsec"
	RoleAuthentication    Role = "authentication"
	RoleFederation        Role = "federation"
	RoleIdentityAssertion Role = "identity-assertion"
	RoleAuthorization     Role = "authorization"
	RoleCustom            Role = "custom"
)

// Rank is the role's position in the chain: lower runs first.
// Authentication and federation share a rank.
func (r Role) Rank() int {
	switch Role(strings.ToLower(string(r))) {
	case RoleWebAppSec:
		return 0
	case RoleAuthentication, RoleFederation:
		return 1
	case RoleIdentityAssertion:
		return 2
	case RoleAuthorization:
		return 3
	default:
		return 4
	}
}

// Authenticates reports whether handlers of this role establish the principal.
func (r Role) Authenticates() bool { return r.Rank() == 1 }

// Handler is what a factory builds for one topology: a value implementing
// Authenticator (authentication and federation providers: only those, and
// never Inbound), or at least one of Inbound, Outbound and
// ResponseModifier.
type Handler any

// Inbound handlers act on the client request before dispatch.
type Inbound interface {
	// ServeInbound returns the request to continue with: r itself, or a
	// shallow copy carrying a new context (identity.WithPrincipal). After
	// answering the request itself through w (401, 403, a redirect) it
	// returns nil and the chain stops. It must not change r.URL.Path:
	// routing, policy and the backend all see the one canonical path.
	// Nothing may keep r or its Header past the request: the lean front
	// reads the connection's next request into the same header map.
	ServeInbound(w http.ResponseWriter, r *http.Request) *http.Request
}

// Outbound handlers edit the request to the backend.
type Outbound interface {
	// RewriteOutbound edits out, the request about to be sent to the backend.
	// It runs after the gateway stripped client identity headers and set
	// X-Forwarded-* and X-Request-Id, so what it sets is sent as is. in is
	// the client request after the inbound chain (the principal is in its
	// context); it must not be modified.
	RewriteOutbound(out, in *http.Request)
}

// ResponseModifier handlers edit the backend's response before it is
// copied to the client. An error answers the client with 502.
type ResponseModifier interface {
	ModifyResponse(resp *http.Response) error
}

// IdentityHeaders is implemented by handlers that read identity from a
// request header (a pre-auth header such as SM_USER): the gateway strips
// those headers, in any case and with '_' or '.' for '-', from the client's
// request before it is forwarded, so only what an Outbound handler sets
// reaches the backend.
type IdentityHeaders interface {
	IdentityHeaders() []string
}

// HostMap is implemented by handlers that tell the host names backends give
// themselves (internal) from the names the topology's URLs use (external),
// as Knox's hostmap provider does. The proxy applies it when it maps URLs in
// response headers to the gateway; a HostMap handler need implement nothing
// else.
type HostMap interface {
	// ExternalHosts maps lower-case internal host names to external ones.
	// The proxy reads it once per compile and does not modify it.
	ExternalHosts() map[string]string
}

// Service is one service of the topology being compiled, as ServiceChecker
// handlers see it.
type Service struct {
	Path string // "a/b", as routed under /gateway/{topology}/
	Role string // the service's role in the topology ("WEBHDFS"), "" when none
}

// ServiceChecker is implemented by handlers whose params name services (an
// ACL per service): the proxy calls CheckServices once per deploy with the
// topology's services, before the topology goes live, and an error refuses
// the deploy. A handler does not keep the slice.
type ServiceChecker interface {
	CheckServices(services []Service) error
}

// GroupLookup is implemented by handlers that can tell a user's groups
// outside of a request (an LDAP directory, a static mapping): the group
// lookup API of the management plane asks them.
type GroupLookup interface {
	// LookupGroups errors that wrap ErrSourceUnavailable mean the source
	// could not answer (a directory down): callers may retry.
	LookupGroups(ctx context.Context, user string) ([]string, error)
}

// ErrSourceUnavailable is wrapped by errors of an identity or group source
// that cannot answer right now (a directory down or slow).
var ErrSourceUnavailable = errors.New("source unavailable")

// Config is what a factory is given for one provider of one topology.
type Config struct {
	Topology string
	Provider string
	Role     Role
	Params   Params
	// Resolve returns the secret stored under alias for this topology. What
	// it returns must never be logged or put in an error.
	Resolve func(ctx context.Context, alias string) ([]byte, error)
	// Truststore returns the certificates (PEM) of a truststore the
	// gateway holds (gatewayctl truststore add); nil when it holds none.
	Truststore func(ctx context.Context, name string) ([]byte, error)
	// Logger carries the topology and provider names; never nil when the
	// chain is built by Build or BuildWith. Never log a secret or token.
	Logger *slog.Logger
	// Host are the gateway's services (clock, token verifier, revocations,
	// replay cache); its Clock is never nil when the chain is built by
	// Build or BuildWith.
	Host Host
}

// Factory builds a provider's handler for a topology.
type Factory struct {
	Name     string
	Role     Role
	Priority int // higher runs earlier within the role
	// New returns the handler, (nil, nil) when there is nothing to do, or a
	// configuration error (preferably a *ParamError).
	New func(ctx context.Context, c Config) (Handler, error)
}

var (
	regMu    sync.RWMutex
	registry = map[string]Factory{}
)

func regKey(role Role, name string) string {
	return strings.ToLower(string(role)) + "\x00" + strings.ToLower(name)
}

// Register adds f to the registry. It panics on an empty name or role, a
// nil New, or a second factory with the same role and name.
func Register(f Factory) {
	if f.Name == "" || f.Role == "" || f.New == nil {
		panic(fmt.Sprintf("chain: Register: factory %q (role %q) needs a name, a role and New", f.Name, f.Role))
	}
	regMu.Lock()
	defer regMu.Unlock()
	k := regKey(f.Role, f.Name)
	if _, dup := registry[k]; dup {
		panic(fmt.Sprintf("chain: Register: duplicate provider %q (role %q)", f.Name, f.Role))
	}
	registry[k] = f
}

// Lookup finds the factory registered for role and name.
func Lookup(role Role, name string) (Factory, bool) {
	regMu.RLock()
	defer regMu.RUnlock()
	f, ok := registry[regKey(role, name)]
	return f, ok
}

// Registered lists the registered factories in chain order.
func Registered() []Factory {
	regMu.RLock()
	out := make([]Factory, 0, len(registry))
	for _, f := range registry {
		out = append(out, f)
	}
	regMu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Role.Rank() != b.Role.Rank() {
			return a.Role.Rank() < b.Role.Rank()
		}
		if a.Priority != b.Priority {
			return a.Priority > b.Priority
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Role < b.Role
	})
	return out
}

var _ io.Closer = (*Chain)(nil)
