// Package etcd is the etcd implementation of store.Store: the state of
// several gateways, shared through an etcd cluster (client v3 API; etcd
// 3.4 or later). It passes the same conformance suite (store/storetest) as
// the bbolt store.
//
// # Layout
//
// Every key lives under Options.Prefix (default /gatewayd/), so several
// gateway clusters can share one etcd:
//
//	rev                     store-wide revision (decimal)
//	log/<rev>               changes of that revision (JSON), for Watch
//	topo/<name>             current version of a topology (framed)
//	hist/<name>/<rev>       a version in the topology's history (framed)
//	gen/<kind>              current generation of the kind's objects
//	obj/<kind>/<gen>/<key>  an object of that generation (framed)
//	meta/<key>              a meta value (framed)
//	auditseq, audit/<seq>   audit log (JSON), not revisioned
//	genseq                  allocator of generations
//	members/<id>            gateways, registered with a lease (package member)
//	claim/<sha256>          replay-cache keys the gateways share (Claim), each
//	                        under a lease ending shortly after the key's validity
//
// Numbers in keys are 16 hex digits, so key order is numeric order. Records
// are framed as in the bbolt store (a JSON header, a newline, the opaque
// payload). Values are whatever the gateway stores: aliases and keys are
// sealed with the master secret before they reach the store.
//
// # Commits
//
// The store revision is not etcd's revision (etcd's also moves on audit
// appends, staging and trimming): it is the value of the rev key. Every
// mutation reads what it changes at one etcd revision and commits in one
// transaction guarded by the mod revision of the rev key, which puts rev+1,
// the log entry of rev+1 and the data (and drops the log entry that falls
// out of Options.WatchRetention). When another commit got in between, the
// mutation reads again, so compare-and-set on topologies, objects and meta
// is decided on current data and two gateways deploying the same topology
// with the same expected revision cannot both win.
//
// # Staged rewrites
//
// RewriteObjects (master secret rotation over every alias) may touch more
// objects than one etcd transaction may hold (128 operations, 1.5 MiB by
// default). It follows the staged design of package store: the records of
// each changed kind are written under a new generation (obj/<kind>/<new>/)
// in transactions of at most MaxTxnOps operations and MaxTxnBytes bytes;
// one commit transaction switches gen/<kind> to it and writes the meta
// values; then the old generation is deleted with one range delete. Reads
// resolve a kind through gen/<kind> at the same etcd revision, so a reader
// sees one generation whole. A crash before the switch leaves garbage above
// the current generation (removed by the next switch), after it leaves the
// old generation (removed at the next Open).
//
// # Watch
//
// A watcher reads log/ in pages from its own position and waits for the
// next commit on an etcd watch of the rev key. A log entry trimmed before
// the watcher read it gives store.ErrCompacted. While etcd cannot be
// reached the watcher keeps trying; the channel stays open.
//
// # Unavailability
//
// Every call is bounded by Options.RequestTimeout; a call etcd does not
// answer in time (no quorum, no connection) fails with an error wrapping
// store.ErrUnavailable, which the management API maps to
// codes.Unavailable. Within that bound each etcd request is tried with a
// short deadline and sent again, so that a member that hangs (paused, cut
// off) costs a retry on another member rather than a failed call. The
// commit transaction is not sent twice: when it gets no answer, its log
// entry (which carries a random commit ID) says whether it was applied.
// A try without an answer also makes the store ask every member a read
// it answers by itself; when some answer and others hang, it closes its
// connections to those (see steering), so that the calls after it, the
// watch and the lease go to the others at once instead of every third try
// waiting on the hung member until gRPC's keepalive gives up on it (10 s
// and more). gRPC connects again at once, and the member is used again as
// soon as it answers.
//
// # Membership
//
// Register keeps a gateway's entry (addresses, version, applied revision,
// readiness) under members/<id> with a lease it renews; Members lists
// them for gatewayctl status. A gateway paused longer than the lease drops
// out and registers again when it is back.
package etcd
