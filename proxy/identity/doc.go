// Package identity carries the authenticated principal of a proxied request
// in its context, as one typed value set by the topology's authentication or
// federation provider and read by identity assertion, authorization,
// outbound handlers and the access log.
package identity
