// Package daemon wires gatewayd together: `init` creates a data directory
// (master-secret verifier, admin CA, TLS identity, admin client certificate,
// gatewayctl config), and Serve runs the gateway.
//
// Serve is build, then run. build assembles a gateway value from the
// configuration, in dependency order: the store (store.backend), the
// secrets service, the TLS identity, the proxy, the reconciler (which lists
// the store and loads the routing table), the listeners (a port in use
// fails before anything is served) and the proxy, management and metrics
// servers. On any error it closes what it opened. Callbacks handed to the
// services are methods of the gateway value, which exists before any of
// them: no closure sees a field before build set it.
//
// run starts the reconciler's watch and the servers, reports ready, and
// when its context ends (or a listener or the reconciler fails) shuts down
// in this order, bounded by management.shutdown_timeout:
//
//  1. mark the gateway not ready (/readyz and gRPC health say so);
//  2. stop accepting proxy connections and drain in-flight HTTP requests
//     (http.Server.Shutdown; the metrics server too), then close what is left;
//  3. close upgraded connections (WebSockets), which Shutdown does not track;
//  4. stop gRPC gracefully: in-flight management calls finish, and since
//     the reconciler still runs, the changes they wait for go live;
//  5. stop the reconciler;
//  6. close the proxy (health checkers, idle backend connections), the
//     keyring, and the store last, so that every acknowledged change is on
//     disk.
//
// On a shared store (etcd) the gateway registers itself under a lease with
// the revision it applied, the id of its data key and the state of its
// master secret: every 2 s it follows a data key rotated through another
// gateway and checks whether the master secret it would restart with
// (--master-secret-file, read again each time; hashed to skip the KDF when
// neither the file nor the stored verifier changed) still opens the store:
// "current", "stale" (a master rotation happened elsewhere: write the new
// secret to the file before the next restart) or "unknown" (the secret came
// from the environment or a prompt and the verifier changed since start).
// gatewayctl status shows it per gateway.
package daemon
