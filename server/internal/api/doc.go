// Package api implements gatewayd's gRPC management services over the store
// and the proxy: topology deployment with compare-and-set and hot swap,
// status, and audit. It owns the cross-cutting concerns of the API:
//
//   - Authorization, transport-neutral (auth.go): a Caller (principal,
//     roles, peer, how authenticated), one role table, Authorizer.Authorize
//     and Authorizer.Run, which authorizes, runs and audits a call. Every
//     mutating or refused call gets an audit record. The gRPC side
//     (grpc.go) only finds the Caller from the verified client certificate
//     of the TLS peer; a REST endpoint or web console would make its own
//     Caller and reuse Run.
//   - Errors: services return errors of the kinds of package apierr (or the
//     store's sentinels); errors.go maps them to gRPC status codes, and
//     nothing else makes a status. Errors without a kind are internal:
//     logged with their detail, answered with a generic message.
//   - Recovery: a handler that panics fails its call with an internal error
//     and is logged with its stack (key "stack"); the gateway keeps serving.
package api
