// Package archtest holds the module's one import-rule test: the dependency
// rules of ARCHITECTURE.md, checked on what `go list` reports (direct and
// transitive dependencies, inside and outside the module).
//
//   - The data plane (proxy/...) depends on neither the server, the store,
//     the CLI nor the wire API: no package of its dependency graph (tests
//     included) is under server/, store/, gatewayctl/ or proto/, or is
//     google.golang.org/grpc.
//   - gatewayctl imports, from this module, only its own packages, the
//     generated API (proto/gateway/v1), the topology model
//     (internal/topology) and its API form (internal/topologypb).
package archtest
