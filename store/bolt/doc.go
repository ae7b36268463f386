// Package bolt is the bbolt implementation of store.Store: the gateway's
// state in one local data file, opened by one process at a time.
//
// # Layout
//
// Every bucket is created when the file is opened, in one transaction that
// also applies schema migrations:
//
//	meta        schema version and store-wide revision (uint64, big-endian)
//	topologies  name → current version (framed)
//	history     name → nested bucket: revision (uint64, big-endian) → version (framed)
//	objects     kind → nested bucket: key → object (framed)
//	audit       sequence (uint64, big-endian) → record (JSON)
//	usermeta    key → meta value (framed, like an object)
//	changes     revision (uint64, big-endian) → changes of that commit (JSON)
//
// Records are small private structs encoded with encoding/json, so the file
// format does not depend on the exported store types. A framed record is
// that JSON header, a newline, then the opaque payload (a topology's Spec,
// an object's Value) as raw bytes. Timestamps are stored in UTC with
// nanoseconds (RFC 3339).
//
// # Revisions
//
// Every successful mutation of topologies, objects or meta values runs in
// one bbolt Update that also bumps the store-wide revision by exactly one;
// the call returns once the transaction is committed and fsynced. A refused
// write (compare-and-set failure, invalid input, canceled context) changes
// nothing. Audit records are a log, not state: they have their own sequence
// and do not bump the revision. RewriteObjects bumps the revision once when
// it changes anything, and not at all when it changes nothing.
//
// Token state and audit records, written at issuance rates, share commits
// (group commit): a write that finds no commit under way commits at once;
// writes arriving meanwhile wait and go together in the next one, one
// fsync for all. Each still bumps the revision by one (or takes its own
// audit sequence), returns once durable, and fails alone: a refused write
// in a group is run again by itself and the others commit without it.
//
// Compare-and-set follows the store contract; expect 0 on an existing
// record fails with store.ErrRevisionMismatch ("exists at revision N").
// Deleting a record that does not exist fails with store.ErrNotFound
// whatever the expected revision.
//
// # Watch
//
// bumpRevision writes the changes of a commit under its revision in the
// changes bucket, in the same transaction, and drops entries older than the
// last Options.WatchRetention revisions: the log has no gaps and is never
// ahead of or behind the data. After each commit the store closes a
// broadcast channel that wakes idle watchers; each watcher is one goroutine
// reading the log from its own cursor in short read transactions, so a
// slow watcher never holds up a writer. A watcher whose next revision was
// trimmed gets store.ErrCompacted. Close ends every watcher with
// store.ErrClosed. A file migrated from schema version 1 starts with an
// empty log: watching starts at its revision.
//
// # History and audit bounds
//
// Each topology keeps at most Options.HistoryLimit versions, a deletion
// included; older versions are dropped in the transaction that adds a new
// one. The audit log keeps at most Options.AuditLimit records, oldest
// dropped first.
//
// # Files and locking
//
// The data file is created with mode 0600 (its directory, when Open creates
// it, with 0700). An existing data file readable or writable by group or
// others is tightened to 0600 when opened, and a warning is logged: the
// gateway owns its data file, and refusing to start would only push
// operators to loosen things further. A second Open of a file that is
// already open, in this process or another, fails with store.ErrLocked
// after Options.LockTimeout.
//
// A file whose schema version is newer than this binary knows is refused
// with ErrUnsupportedSchema; older files are migrated in place when opened.
package bolt
