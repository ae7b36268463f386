// Package daemon wires gatewayd together: `init` creates a data directory
// (master-secret verifier, admin CA, TLS identity, admin client certificate,
// gatewayctl config), and Serve opens the store, unlocks the secrets, loads
// the routing table, and runs the proxy, management and metrics listeners
// until its context ends, then shuts down in order:
//
//  1. stop accepting on every listener and mark the gateway not ready;
//  2. drain in-flight HTTP requests (http.Server.Shutdown), bounded by
//     management.shutdown_timeout, then close upgraded connections
//     (WebSocket: hijacked, so Shutdown does not see them);
//  3. stop gRPC gracefully (GracefulStop) within the same deadline, then hard;
//  4. close the proxy (health checkers, idle backend connections);
//  5. close the store last, so that every acknowledged change is on disk.
package daemon
