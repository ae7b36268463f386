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
//   - a Handler: for authentication and federation providers an
//     Authenticator (and never an Inbound); for the others one or more of
//     Inbound (acts on the client request and may answer it: 403, a
//     redirect), Outbound (edits the request to the backend),
//     ResponseModifier (edits the backend's response); any may add
//     IdentityHeaders and io.Closer.
//
// A handler keeps nothing of a request past its call: not the request, not
// its Header map. The lean front reads a connection's next request into the
// same map, and a header kept would show a later request's fields (another
// user's, behind a front proxy that shares connections).
//
// # Params
//
// Every provider reads its params with one reader, Config.Read: it takes
// the params the provider knows (P(name, aliases…): Knox's names are
// aliases, "main.ldapRealm.contextFactory.url" for "url") and matchers of
// dynamic names (Prefix("user."), Suffix(".acl")), refuses every unknown
// param in one error and a setting given under two of its names, and
// offers typed getters (String, Required, Bool, Int, Duration, List, and
// Secret, which resolves ${alias:NAME}). Errors are *ParamError naming the
// param as the topology gave it.
//
// # Authentication
//
// An Authenticator says what it found, and never writes the answer itself:
//
//   - NotMine (Pass, Redirect): no credential of its kind; the next
//     authenticator in chain order tries;
//   - Authenticated (Authenticate): the principal, with its groups, the
//     credential's expiry, the id to revoke it by and the credential it
//     consumed (identity.Principal), which the gateway removes from the
//     request before dispatch unless the service forwards credentials (as
//     it removes what every authenticator reads: CredentialReader);
//   - Refused (Refuse): a credential of its kind that is bad: the chain
//     answers at once (401 with the provider's challenge, or 503 when it
//     cannot check now), so a weaker provider later in the chain (such as
//     anonymous) never sees a request whose credential failed.
//
// When every authenticator passes, the chain answers one 401 carrying every
// challenge (WWW-Authenticate: Negotiate and Basic realm=… together), or a
// 302 to the first redirect asked for (an SSO login page). An authenticated
// principal whose credential expired (by Host.Clock) or was revoked
// (Host.Revocations) is refused with 401.
//
// # Host services
//
// Config.Host gives every factory the gateway's services: a clock, a token
// verifier, the revocation set, a replay cache (package replay and
// revocation hold the in-memory ones). Live state (revocations, signing
// keys) is swapped behind these interfaces and read without locks: a change
// never recompiles a topology.
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
//     static mapping); the management API's group lookup asks it;
//   - EndpointProvider: it serves endpoints of its own under
//     /{prefix}/{topology}/… (login and logout pages, a token endpoint, a
//     JWKS document): the proxy registers them beside its own (the group
//     API), reserves their first path segment, and serves them after the
//     chain, or without it when Public.
//
// Config.Logger (BuildWith's Options.Logger, with the topology and the
// provider as attributes) is where a handler logs what an operator must
// see, such as a refused impersonation; never a secret or token.
package chain
