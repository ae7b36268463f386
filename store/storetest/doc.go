// Package storetest is the conformance suite of store.Store. Every backend
// runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return openFresh(t) })
//	}
//
// open must return a new, empty store for each call and arrange its
// cleanup (t.Cleanup); the suite closes stores itself in some tests, so a
// cleanup Close must ignore store.ErrClosed.
//
// Besides the comments of package store, the suite pins down these rules:
//
//   - The revision grows by exactly one per successful PutTopology,
//     DeleteTopology, PutObject, DeleteObject and PutMeta, and per
//     RewriteObjects that writes anything; it does not move on reads, on
//     AppendAudit, on a RewriteObjects that writes nothing, or on a refused
//     call.
//   - Compare-and-set (topologies, objects, meta): expect 0 on an existing record and any positive
//     expect that is not the current revision fail with
//     store.ErrRevisionMismatch, and the message names the current
//     revision. Deleting a missing record fails with store.ErrNotFound.
//   - A refused call (CAS failure, invalid input, unknown kind, canceled
//     context, an error from the RewriteObjects function) changes nothing:
//     revision, values, history, meta and audit stay as they were.
//   - TopologyHistory of a name never stored and GetTopologyRevision of a
//     revision not (or no longer) in the history fail with
//     store.ErrNotFound. A deletion is a history entry with Action
//     "delete" and an empty Spec, and GetTopologyRevision returns it.
//   - ListAudit's Limit defaults to 100 and is capped at 1000; Before > 0
//     returns sequences strictly below it.
//   - Byte slices passed in or handed out are never shared with the store.
//   - Timestamps come back in UTC with their nanoseconds.
//   - After Close every call, Close included, fails with store.ErrClosed.
//   - Watch reports each revision-bumping commit once, in revision order,
//     with its changes in the order written (RewriteObjects: objects by
//     kind in the order given and by key, then meta keys sorted), and nothing for audit appends
//     or refused calls. Watch from a revision above the current one, or
//     negative, fails. A reader that reads nothing does not block writers.
//     Ending ctx closes the channel without an error batch; Close sends an
//     ErrClosed batch, then closes it; no goroutine is left either way.
//     RunWatchCompaction checks ErrCompacted for backends with a retention.
package storetest
