// Package api implements gatewayd's gRPC management services over the store
// and the proxy: topology deployment with compare-and-set and hot swap,
// status, and audit. It owns the two cross-cutting concerns of the API:
// authorization of every call by the caller's role (from its client
// certificate), with an audit record for every mutating or refused call, and
// the mapping of errors to gRPC status codes, which happens in errors.go and
// nowhere else.
package api
