package chain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy/identity"
)

// Link is one handler of a compiled chain, for display and tests.
type Link struct {
	Role     Role
	Name     string
	Priority int
}

func (l Link) String() string { return string(l.Role) + "/" + l.Name }

type link struct {
	Link
	index int
	h     Handler
}

// Chain is one topology's compiled handler chain. It is immutable and safe
// for concurrent use.
type Chain struct {
	links     []link
	inbound   []Inbound
	outbound  []Outbound
	responses []ResponseModifier // reverse chain order
	identity  []string
	authn     bool
	creds     []identity.Credential // read by the chain's authenticators
	host      Host
	log       *slog.Logger
}

// Options are what BuildWith passes on to every factory.
type Options struct {
	// Resolve resolves the topology's credential aliases (Config.Resolve).
	Resolve func(ctx context.Context, alias string) ([]byte, error)
	// Logger is given to factories (Config.Logger); nil: discard.
	Logger *slog.Logger
	// Host are the gateway's services given to factories (Config.Host);
	// a nil Clock is the system clock.
	Host Host
	// Truststore returns a named truststore's PEM (Config.Truststore).
	Truststore func(ctx context.Context, name string) ([]byte, error)
}

// Build compiles the chain of topology from its providers. Disabled
// providers are skipped. On error, handlers already built are closed.
func Build(ctx context.Context, topologyName string, providers []topology.Provider,
	resolve func(ctx context.Context, alias string) ([]byte, error)) (*Chain, error) {
	return BuildWith(ctx, topologyName, providers, Options{Resolve: resolve})
}

// BuildWith is Build with a logger for the handlers.
func BuildWith(ctx context.Context, topologyName string, providers []topology.Provider, o Options) (*Chain, error) {
	lg := o.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	if o.Host.Clock == nil {
		o.Host.Clock = SystemClock{}
	}
	c := &Chain{host: o.Host, log: lg}
	for i, pr := range providers {
		if !pr.IsEnabled() {
			continue
		}
		role := Role(strings.ToLower(pr.Role))
		f, ok := Lookup(role, pr.Name)
		if !ok {
			c.Close()
			return nil, fmt.Errorf("provider %q (role %q) is not supported", pr.Name, pr.Role)
		}
		h, err := f.New(ctx, Config{
			Topology:   topologyName,
			Provider:   f.Name,
			Role:       f.Role,
			Params:     Params(pr.Params),
			Resolve:    o.Resolve,
			Truststore: o.Truststore,
			Logger:     lg.With("topology", topologyName, "provider", f.Name),
			Host:       o.Host,
		})
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("provider %q (role %q): %w", pr.Name, pr.Role, err)
		}
		if h == nil {
			continue
		}
		l := link{Link: Link{Role: f.Role, Name: f.Name, Priority: f.Priority}, index: i, h: h}
		c.links = append(c.links, l)
		_, in := h.(Inbound)
		_, out := h.(Outbound)
		_, resp := h.(ResponseModifier)
		_, authn := h.(Authenticator)
		_, hm := h.(HostMap)
		switch {
		case f.Role.Authenticates() && (!authn || in):
			c.Close()
			return nil, fmt.Errorf("provider %q (role %q): handler %T of an authentication or federation provider must implement Authenticator, and not Inbound", pr.Name, pr.Role, h)
		case !f.Role.Authenticates() && authn:
			c.Close()
			return nil, fmt.Errorf("provider %q (role %q): handler %T implements Authenticator outside the authentication and federation roles", pr.Name, pr.Role, h)
		case !in && !out && !resp && !authn && !hm:
			c.Close()
			return nil, fmt.Errorf("provider %q (role %q): handler %T implements none of Inbound, Outbound, ResponseModifier, HostMap", pr.Name, pr.Role, h)
		}
	}
	slices.SortStableFunc(c.links, func(a, b link) int {
		switch {
		case a.Role.Rank() != b.Role.Rank():
			return a.Role.Rank() - b.Role.Rank()
		case a.Priority != b.Priority:
			return b.Priority - a.Priority
		case a.Name != b.Name:
			return strings.Compare(a.Name, b.Name)
		default:
			return a.index - b.index
		}
	})
	var stage *authStage
	for _, l := range c.links {
		if a, ok := l.h.(Authenticator); ok {
			if stage == nil { // the links of one rank are adjacent: one stage
				stage = &authStage{c: c}
				c.inbound = append(c.inbound, stage)
				c.authn = true
			}
			stage.auth = append(stage.auth, a)
			stage.names = append(stage.names, l.Name)
			if cr, ok := a.(CredentialReader); ok {
				for _, cred := range cr.Credentials() {
					if !slices.Contains(c.creds, cred) {
						c.creds = append(c.creds, cred)
					}
				}
			}
		}
		if in, ok := l.h.(Inbound); ok {
			c.inbound = append(c.inbound, in)
		}
		if out, ok := l.h.(Outbound); ok {
			c.outbound = append(c.outbound, out)
		}
		if rm, ok := l.h.(ResponseModifier); ok {
			c.responses = append(c.responses, rm)
		}
		if ih, ok := l.h.(IdentityHeaders); ok {
			c.identity = append(c.identity, ih.IdentityHeaders()...)
		}
	}
	slices.Reverse(c.responses)
	return c, nil
}

// Links returns the chain's links in order.
func (c *Chain) Links() []Link {
	out := make([]Link, len(c.links))
	for i, l := range c.links {
		out[i] = l.Link
	}
	return out
}

// Handlers returns the chain's handlers, in the order of Links.
func (c *Chain) Handlers() []Handler {
	out := make([]Handler, len(c.links))
	for i, l := range c.links {
		out[i] = l.h
	}
	return out
}

// CheckServices gives the topology's services to the handlers implementing
// ServiceChecker, in chain order; the first error is returned, naming the
// provider.
func (c *Chain) CheckServices(services []Service) error {
	for _, l := range c.links {
		if sc, ok := l.h.(ServiceChecker); ok {
			if err := sc.CheckServices(services); err != nil {
				return fmt.Errorf("provider %q (role %q): %w", l.Name, l.Role, err)
			}
		}
	}
	return nil
}

// Authenticates reports whether the chain has an authenticator (a handler
// of role authentication or federation).
func (c *Chain) Authenticates() bool { return c.authn }

// Credentials lists the credentials the chain's authenticators read
// (CredentialReader): the gateway removes them from requests to backends.
func (c *Chain) Credentials() []identity.Credential { return c.creds }

// IdentityHeaders lists the headers the chain's handlers read identity from.
func (c *Chain) IdentityHeaders() []string { return c.identity }

// ServeInbound runs the inbound handlers in order. It returns the request
// to dispatch, or nil when a handler answered the request.
func (c *Chain) ServeInbound(w http.ResponseWriter, r *http.Request) *http.Request {
	for _, h := range c.inbound {
		if r = h.ServeInbound(w, r); r == nil {
			return nil
		}
	}
	return r
}

// RewriteOutbound runs the outbound handlers in order.
func (c *Chain) RewriteOutbound(out, in *http.Request) {
	for _, h := range c.outbound {
		h.RewriteOutbound(out, in)
	}
}

// ModifyResponse runs the response modifiers in reverse chain order.
func (c *Chain) ModifyResponse(resp *http.Response) error {
	for _, h := range c.responses {
		if err := h.ModifyResponse(resp); err != nil {
			return err
		}
	}
	return nil
}

// Close closes the handlers that hold resources. The proxy calls it once no
// request uses the chain any more.
func (c *Chain) Close() error {
	var errs []error
	for _, l := range c.links {
		if cl, ok := l.h.(io.Closer); ok {
			errs = append(errs, cl.Close())
		}
	}
	return errors.Join(errs...)
}

// WriteError answers with status and a small JSON body {"error": msg}.
// msg must not echo client input unescaped: it is JSON-escaped here, but it
// should say what went wrong, not repeat what was sent.
func WriteError(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, `{"error":`+quoteJSON(msg)+"}\n")
}

func quoteJSON(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == '<' || r == '>' || r == '&' || r == 0x2028 || r == 0x2029:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
