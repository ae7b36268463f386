// Package route carries, in a proxied request's context, what the router
// decided before the handler chain runs: the topology, the matched service
// (its path and role) and the client's source address. The proxy puts one
// *Info in the context of every routed request; handlers read it with
// FromContext and must not modify it.
//
// The source address is the TCP peer, unless the peer is one of the
// proxy's TrustedProxies: then X-Forwarded-For is walked from the right,
// skipping trusted proxies, and the first address that is not one is the
// client (SourceAddr). Entries left of that address were written by the
// client itself and are never believed; an unparsable entry where the walk
// stops makes the address invalid, which matches no IP rule.
package route
