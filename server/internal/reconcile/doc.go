// Package reconcile keeps the routing table in step with the store: one
// Reconciler per gateway lists the stored topologies at a revision R,
// compiles them and loads the table, then follows the store's watch from R.
// For each batch of committed changes it compiles the topologies that
// changed and those that use a changed alias or truststore, withdraws the
// deleted ones and those that no longer compile (fail closed), publishes
// the result with one atomic swap, and only then records the batch's
// revision as applied. Batches already queued are applied together (one
// swap for a burst). When the watch reports that its revision was compacted
// away, the reconciler lists again and rebuilds the table. When it reports
// store.ErrUnavailable (a shared store without quorum or out of reach), the
// table keeps serving, Options.OnSync(false) tells the daemon (not ready,
// management calls refused), and the reconciler lists the store again until
// it answers, then OnSync(true) and it watches from the listing.
//
// The store is the only way a change reaches the data plane, so a change
// committed by any process sharing the store is applied. Management calls
// acknowledge a change once WaitFor reports that the reconciler of their
// gateway applied the revision of their commit.
//
// The reconciler keeps an index of which topologies use which alias and
// truststore, so a secret change costs the compilation of its users only,
// not a decode of every stored topology.
//
// # Several gateways on one store
//
// Within one process the management API holds a lock around "is this alias
// in use?" and its deletion, and around a deploy's alias check and commit,
// so a deploy cannot start using an alias that is being deleted. Gateways
// sharing a store (etcd) cannot share that lock: the check and the write
// must then be one transaction of the store (a compare on the revisions of
// the topologies that use the alias, or a lease-held lock key). Until then
// the reconciler's fail-closed rule bounds the damage: a topology whose
// alias disappeared is withdrawn, never served with a stale secret.
package reconcile
