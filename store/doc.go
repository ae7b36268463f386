// Package store defines the durable state of the gateway: the Store
// interface, its errors, and the records it keeps (topologies with their
// history, audit records, objects such as aliases and token policies, and
// small meta values). Implementations live in sub-packages (bolt: one
// gateway, one file; etcd: several gateways on one configuration) and must
// pass the conformance suite in storetest; package migrate copies a whole
// store between them (Porter).
//
// # Revisions and Watch
//
// Every commit that changes topologies, objects or meta values bumps one
// store-wide revision by exactly one. Watch streams those commits, one
// ChangeBatch per revision, in order and without gaps, from any revision
// the store still keeps changes for. A consumer (the reconciler) lists the
// state, watches from the listing's revision, and on ErrCompacted lists and
// watches again: it never misses a change and never needs the store to
// wait for it.
//
// # Stores with per-transaction limits
//
// The interface promises that each mutation is atomic: RewriteObjects
// either rewrites every object of its kinds and sets its meta values, or
// changes nothing, and readers never see a mix. bbolt does this in one
// transaction. A store with per-transaction limits (etcd: 128 operations
// and 1.5 MiB per transaction) cannot, and implements the large calls in
// stages, so that a crash at any point leaves either the old or the new
// state:
//
//  1. Stage: write the new records aside, under a staging prefix named by a
//     fresh generation (for example /gw/stage/<gen>/alias/<key>), in as many
//     small transactions as needed. Readers do not look there; a crash
//     leaves only garbage under the prefix.
//  2. Switch: one small transaction, guarded by compare-and-set on the
//     current generation pointer (/gw/gen/alias) and on the revisions the
//     rewrite read, moves the pointer to the new generation and writes the
//     meta values. This is the commit: it bumps the revision once and is the
//     one Watch batch of the call, naming every changed key. If the guard
//     fails (a concurrent write), the staged generation is abandoned and the
//     call fails with ErrRevisionMismatch, changing nothing.
//  3. Clean up: delete the records of the old generation and any abandoned
//     stage, in small transactions. Cleanup is idempotent and is also run at
//     start for generations no pointer names, so a crash during it only
//     delays it.
//
// Reads resolve a kind through its generation pointer, in the same
// snapshot (etcd: one revision), so a reader sees one generation whole.
// Objects of other kinds and topologies are written one key per
// transaction and need no staging. TopologyHistory and the audit log are
// bounded per key and per store and are trimmed in their own small
// transactions. The change log Watch reads is the store's native one
// (etcd's watch with its compaction revision mapped to ErrCompacted), but
// a staged call is reported as the one batch of its switch transaction,
// never as its staging writes.
package store
