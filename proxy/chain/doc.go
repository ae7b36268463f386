// Package chain is the gateway's pluggable handler API (after Flink's
// inbound/outbound handler factories, without their random order).
//
// Providers register a Factory by role and name in init():
//
//	func init() {
//		chain.Register(chain.Factory{
//			Name: "ldap", Role: chain.RoleAuthentication, Priority: 0,
//			New: func(ctx context.Context, c chain.Config) (chain.Handler, error) { … },
//		})
//	}
//
// Register panics on an empty name, an empty role, a nil New or a duplicate
// (role, name); names and roles match case-insensitively, so Knox's
// "Anonymous" finds "anonymous".
//
// When a topology is compiled, Build asks each enabled provider's factory
// for a handler given the provider's params. A factory answers with one of:
//
//   - (nil, nil): nothing to do for this topology; no link is added;
//   - an error: the deploy fails, naming the provider (and the param, when the
//     error is a *ParamError);
//   - a Handler: a value implementing one or more of Inbound (acts on the
//     client request and may answer it: 401, 403, redirect), Outbound (edits
//     the request to the backend), ResponseModifier (edits the backend's
//     response), and optionally IdentityHeaders and io.Closer.
//
// The chain order is data, computed once per deploy and never per request:
// role rank (webappsec, then authentication and federation, then
// identity-assertion, authorization, then any other role), then priority
// (higher first), then name, then the provider's position in the topology.
// Inbound handlers run in that order; Outbound handlers in that order after
// the gateway set its own headers; ResponseModifiers in reverse order.
//
// The principal a handler establishes travels in the request context as
// one *identity.Principal (package proxy/identity); what the router decided
// (topology, service path and role, the client's source address) as one
// *route.Info (package proxy/route), set before the chain runs.
//
// Optional interfaces a handler may implement besides those:
//
//   - ServiceChecker: its params name services (an ACL per service); the
//     proxy gives it the topology's services at deploy time and an error
//     refuses the deploy;
//   - GroupLookup: it can tell a user's groups outside a request (LDAP, a
//     static mapping); the management API's group lookup asks it.
//
// Config.Logger (BuildWith's Options.Logger, with the topology and the
// provider as attributes) is where a handler logs what an operator must
// see, such as a refused impersonation; never a secret or token.
package chain
