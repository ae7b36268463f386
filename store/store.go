package store

import (
	"context"
	"errors"
	"time"
)

// Errors returned by every Store implementation. Callers test them with
// errors.Is; the management API maps them to gRPC codes in one place.
var (
	// ErrNotFound: the named object (or revision) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrRevisionMismatch: a compare-and-set precondition failed.
	ErrRevisionMismatch = errors.New("revision mismatch")
	// ErrAlreadyExists: a create-only operation found an existing object.
	// Stores report a failed "must not exist" compare-and-set as
	// ErrRevisionMismatch; services use this one for their own create-only calls.
	ErrAlreadyExists = errors.New("already exists")
	// ErrLocked: another process holds the store.
	ErrLocked = errors.New("store is locked by another process")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store is closed")
	// ErrCompacted: the requested revision is older than the history a Store
	// keeps; re-list and watch again from the listing's revision.
	ErrCompacted = errors.New("revision compacted")
	// ErrUnavailable: a shared store (etcd) did not answer in time (no
	// quorum, no connection). Nothing was changed, or the change's outcome
	// is unknown; a watch ends with it and the watcher lists again once the
	// store is back.
	ErrUnavailable = errors.New("store unavailable")
)

// NoRevisionCheck as an expected revision disables compare-and-set.
const NoRevisionCheck int64 = -1

// Topology is a stored topology document at one revision.
type Topology struct {
	Name string
	// Spec is the canonical JSON of the compiled topology; opaque to the store.
	Spec []byte
	// Revision is the store revision of this version (its mod revision).
	Revision int64
	// CreateRevision is the store revision at which the topology was created.
	CreateRevision int64
	UpdatedAt      time.Time
	UpdatedBy      string
	// Action that produced this version: "deploy", "rollback" or "delete".
	Action string
}

// Kinds of objects a Store keeps besides topologies.
const (
	KindAlias       = "alias"
	KindTruststore  = "truststore"
	KindTokenPolicy = "token-policy"
	KindToken       = "token"
)

// Kinds lists every object kind; a Store refuses others.
var Kinds = []string{KindAlias, KindTruststore, KindTokenPolicy, KindToken}

// Object is a named value of one kind.
type Object struct {
	Kind           string
	Key            string
	Value          []byte
	Revision       int64
	CreateRevision int64
	UpdatedAt      time.Time
}

// KindTopology names topologies in a Change; KindMeta names meta keys.
const (
	KindTopology = "topology"
	KindMeta     = "meta"
)

// Change is one committed change of one key.
type Change struct {
	Kind   string // KindTopology, KindMeta or one of Kinds
	Key    string // topology name, object key or meta key
	Delete bool
}

// ChangeBatch is everything one commit changed, in the order written.
// A batch with Err set is the last one on its channel (ErrCompacted: the
// watcher fell behind the history the store keeps; ErrClosed: the store
// closed); the channel is then closed. When ctx ends the channel is closed
// without an error batch.
type ChangeBatch struct {
	Revision int64
	Changes  []Change
	Err      error
}

// AuditRecord is one audited management call.
type AuditRecord struct {
	// Sequence is assigned by the store; ignored on append.
	Sequence  int64
	Time      time.Time
	Principal string
	Method    string
	Target    string
	Outcome   string
	Detail    string
	Peer      string
}

// AuditFilter selects audit records, newest first.
type AuditFilter struct {
	Limit        int
	Before       int64
	Principal    string
	TargetPrefix string
}

// Store is the durable state of the gateway. Every mutation of topologies,
// objects and meta values is one commit that bumps the store-wide revision
// by one and is seen by Watch; it returns only once the change is durable.
// Audit appends are a log, not state: they do not bump the revision.
// Implementations are safe for concurrent use.
type Store interface {
	// Revision returns the store-wide revision, which only grows.
	Revision(ctx context.Context) (int64, error)

	// PutTopology stores a new version of a topology. expect is the
	// topology's current revision (0: must not exist, else
	// ErrRevisionMismatch; NoRevisionCheck: any). A refused write changes
	// nothing. The returned record carries the new revision.
	PutTopology(ctx context.Context, t Topology, expect int64) (Topology, error)
	// GetTopology returns the current version of a topology.
	GetTopology(ctx context.Context, name string) (Topology, error)
	// GetTopologyRevision returns the version stored at a revision, from history.
	GetTopologyRevision(ctx context.Context, name string, revision int64) (Topology, error)
	// ListTopologies returns every current topology, sorted by name, and the
	// store revision they were read at.
	ListTopologies(ctx context.Context) ([]Topology, int64, error)
	// DeleteTopology removes a topology (history keeps a "delete" entry)
	// and returns the revision of the deletion; a missing topology is
	// ErrNotFound whatever expect is.
	DeleteTopology(ctx context.Context, name, by string, expect int64) (int64, error)
	// TopologyHistory returns the stored versions of a topology, newest first.
	TopologyHistory(ctx context.Context, name string) ([]Topology, error)

	// AppendAudit appends an audit record and returns its sequence number.
	AppendAudit(ctx context.Context, r AuditRecord) (int64, error)
	// ListAudit returns audit records matching f, newest first.
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditRecord, error)

	// Objects are other named values kept by kind (see the Kind constants):
	// aliases, truststores, token policies, tokens. expect follows the same
	// compare-and-set rule as topologies.
	PutObject(ctx context.Context, o Object, expect int64) (Object, error)
	GetObject(ctx context.Context, kind, key string) (Object, error)
	// ListObjects returns the objects of a kind whose key starts with prefix, sorted by key.
	ListObjects(ctx context.Context, kind, prefix string) ([]Object, error)
	DeleteObject(ctx context.Context, kind, key string, expect int64) (int64, error)
	// PutTopologyIf and DeleteObjectIf are PutTopology and DeleteObject
	// guarded by check, which reads the state the write commits on, in the
	// same transaction: if check fails, nothing is written and its error is
	// returned (wrapped). So a condition across keys (the aliases a topology
	// uses exist; no topology uses an alias) holds for every process sharing
	// the store. check may run more than once (a commit another got ahead
	// of is built again) and must read only through r.
	PutTopologyIf(ctx context.Context, t Topology, expect int64, check Check) (Topology, error)
	DeleteObjectIf(ctx context.Context, kind, key string, expect int64, check Check) (int64, error)
	// RewriteObjects replaces, as one commit, the value of every object of
	// the given kinds with fn's result, and sets the given meta values. If fn
	// fails for any object nothing is written. It returns how many objects changed
	// (fn returning the same bytes leaves an object unchanged).
	RewriteObjects(ctx context.Context, kinds []string, fn func(Object) ([]byte, error), meta map[string][]byte) (int, error)
	// RewriteObjectsIf is RewriteObjects guarded by check, which reads the
	// state the rewrite commits on, in the same commit: if check fails,
	// nothing is written and its error is returned (wrapped). Meta values
	// computed from values read before the call stay valid only while
	// check finds those values unchanged. check may run more than once and
	// must read only through r.
	RewriteObjectsIf(ctx context.Context, kinds []string, fn func(Object) ([]byte, error), meta map[string][]byte, check Check) (int, error)

	// GetMeta, GetMetaRevision and PutMeta keep small named values
	// (master-secret verifier, CA, settings) that belong to the gateway, not
	// to a topology. GetMetaRevision also returns the revision of the
	// value's last write, the expect of a later PutMeta. PutMeta follows the
	// same compare-and-set rule as topologies and returns the new revision.
	GetMeta(ctx context.Context, key string) ([]byte, error)
	GetMetaRevision(ctx context.Context, key string) ([]byte, int64, error)
	PutMeta(ctx context.Context, key string, value []byte, expect int64) (int64, error)

	// Watch streams, in revision order and with no gaps, every commit after
	// fromRevision (fromRevision may be the current revision: only future
	// commits). It returns ErrCompacted at once when fromRevision is older
	// than the kept history. Every revision-bumping commit appears exactly
	// once. The caller reads the channel until it is closed or cancels ctx;
	// a slow reader never blocks writers (it may get ErrCompacted instead).
	Watch(ctx context.Context, fromRevision int64) (<-chan ChangeBatch, error)

	Close() error
}

// Check is the condition of a guarded write (Store.PutTopologyIf,
// Store.DeleteObjectIf).
type Check func(ctx context.Context, r Reader) error

// Reader reads the state a guarded write commits on. A Store is a Reader of
// its current state.
type Reader interface {
	ListTopologies(ctx context.Context) ([]Topology, int64, error)
	ListObjects(ctx context.Context, kind, prefix string) ([]Object, error)
	// GetMeta returns a meta value, or an error wrapping ErrNotFound.
	GetMeta(ctx context.Context, key string) ([]byte, error)
}

// Dump is everything a store holds, for moving it to another backend
// (gatewayd store migrate). The change log is not part of it: a store
// imported at revision R is watched from R.
type Dump struct {
	Revision   int64
	Topologies []Topology // current versions, by name
	// History is every kept version of every topology (deleted ones
	// included), by name, oldest first.
	History []Topology
	Objects []Object // by kind, then key
	// Meta are the meta values as objects of kind KindMeta.
	Meta  []Object
	Audit []AuditRecord // oldest first, with their sequences
}

// Porter is a Store that can export and import everything.
type Porter interface {
	// Export reads the whole store at one revision.
	Export(ctx context.Context) (Dump, error)
	// Import writes d into an empty store, keeping every revision,
	// sequence and timestamp; a store that holds anything is refused.
	Import(ctx context.Context, d Dump) error
}
