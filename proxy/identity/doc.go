// Package identity carries the authenticated principal of a proxied request
// in its context, as one typed value set by the topology's authentication or
// federation provider and read by identity assertion, authorization,
// outbound handlers and the access log. The principal also says what the
// credential was: when it expires, the id to revoke it by, and the
// Credentials the provider consumed (a header, a cookie or a query
// parameter by name), which Credential.Strip removes from the request to
// the backend.
//
// It also knows the query parameters that ask a Hadoop-style backend to act
// as someone else, doAs and user.name, matched as backends match them (any
// case, percent-decoded names): the proxy strips them from every backend
// request (StripImpersonation), and identity assertion decides whether the
// client's request for impersonation is honoured (ImpersonationValues).
package identity
