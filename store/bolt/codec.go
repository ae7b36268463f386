package bolt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/securegw/gateway/store"
)

// The records below are the on-disk format. They are private so that a
// change to the exported store types cannot silently change the file; a
// change here needs a schema migration.
//
// Topologies and objects are stored as a JSON header, a newline, then the
// payload (Spec or Value) as raw bytes: encoding/json never writes a raw
// newline, so the first one ends the header. This keeps opaque payloads
// out of base64 and out of the JSON scanner (ListTopologies of 10k
// topologies decodes several times faster than with the payload inside the
// JSON). Audit records are plain JSON.

type topologyRecord struct {
	Name           string    `json:"name"`
	Spec           []byte    `json:"-"` // payload
	Revision       int64     `json:"rev"`
	CreateRevision int64     `json:"create_rev"`
	UpdatedAt      time.Time `json:"updated_at"`
	UpdatedBy      string    `json:"updated_by,omitempty"`
	Action         string    `json:"action"`
}

func (r topologyRecord) topology() store.Topology {
	return store.Topology{
		Name:           r.Name,
		Spec:           r.Spec,
		Revision:       r.Revision,
		CreateRevision: r.CreateRevision,
		UpdatedAt:      r.UpdatedAt,
		UpdatedBy:      r.UpdatedBy,
		Action:         r.Action,
	}
}

type objectRecord struct {
	Value          []byte    `json:"-"` // payload
	Revision       int64     `json:"rev"`
	CreateRevision int64     `json:"create_rev"`
	UpdatedAt      time.Time `json:"updated_at"`
}

func (r objectRecord) object(kind, key string) store.Object {
	return store.Object{
		Kind:           kind,
		Key:            key,
		Value:          r.Value,
		Revision:       r.Revision,
		CreateRevision: r.CreateRevision,
		UpdatedAt:      r.UpdatedAt,
	}
}

type auditRecord struct {
	Time      time.Time `json:"time"`
	Principal string    `json:"principal,omitempty"`
	Method    string    `json:"method,omitempty"`
	Target    string    `json:"target,omitempty"`
	Outcome   string    `json:"outcome,omitempty"`
	Detail    string    `json:"detail,omitempty"`
	Peer      string    `json:"peer,omitempty"`
}

func (r auditRecord) audit(seq int64) store.AuditRecord {
	return store.AuditRecord{
		Sequence:  seq,
		Time:      r.Time,
		Principal: r.Principal,
		Method:    r.Method,
		Target:    r.Target,
		Outcome:   r.Outcome,
		Detail:    r.Detail,
		Peer:      r.Peer,
	}
}

// changeRecord is one change in the change log; a log entry is the JSON
// array of the changes of one revision.
type changeRecord struct {
	Kind   string `json:"kind"`
	Key    string `json:"key"`
	Delete bool   `json:"del,omitempty"`
}

func encodeChanges(changes []store.Change) ([]byte, error) {
	recs := make([]changeRecord, len(changes))
	for i, c := range changes {
		recs[i] = changeRecord(c)
	}
	data, err := json.Marshal(recs)
	if err != nil {
		return nil, fmt.Errorf("encoding change log entry: %w", err)
	}
	return data, nil
}

func decodeChanges(v []byte) ([]store.Change, error) {
	recs, err := decode[[]changeRecord](v)
	if err != nil {
		return nil, err
	}
	out := make([]store.Change, len(recs))
	for i, r := range recs {
		out[i] = store.Change(r)
	}
	return out, nil
}

// decode unmarshals a value read in a transaction. The result shares no
// memory with v (encoding/json copies), so it outlives the transaction.
func decode[T any](v []byte) (T, error) {
	var r T
	if err := json.Unmarshal(v, &r); err != nil {
		return r, fmt.Errorf("decoding stored record: %w", err)
	}
	return r, nil
}

// encodeTopology and the functions below frame a record as described at
// the top of this file.
func encodeTopology(r topologyRecord) ([]byte, error) { return encodeFramed(r, r.Spec) }

func decodeTopology(v []byte) (topologyRecord, error) {
	r, payload, err := decodeFramed[topologyRecord](v)
	r.Spec = payload
	return r, err
}

func encodeObject(r objectRecord) ([]byte, error) { return encodeFramed(r, r.Value) }

func decodeObject(v []byte) (objectRecord, error) {
	r, payload, err := decodeFramed[objectRecord](v)
	r.Value = payload
	return r, err
}

func encodeFramed(header any, payload []byte) ([]byte, error) {
	h, err := json.Marshal(header)
	if err != nil {
		return nil, fmt.Errorf("encoding record: %w", err)
	}
	out := make([]byte, 0, len(h)+1+len(payload))
	out = append(out, h...)
	out = append(out, '\n')
	return append(out, payload...), nil
}

// decodeFramed splits and decodes a framed record read in a transaction.
// The header and payload share no memory with v.
func decodeFramed[T any](v []byte) (T, []byte, error) {
	i := bytes.IndexByte(v, '\n')
	if i < 0 {
		var zero T
		return zero, nil, errors.New("decoding stored record: no header separator")
	}
	h, err := decode[T](v[:i])
	var payload []byte
	if len(v) > i+1 {
		payload = bytes.Clone(v[i+1:])
	}
	return h, payload, err
}

// Actions of topology versions.
const (
	actionDeploy   = "deploy"
	actionRollback = "rollback"
	actionDelete   = "delete"
)

// maxKeyLen bounds names and keys well below bbolt's key limit.
const maxKeyLen = 1024

func checkKey(what, key string) error {
	if key == "" {
		return fmt.Errorf("empty %s", what)
	}
	if len(key) > maxKeyLen {
		return fmt.Errorf("%s longer than %d bytes", what, maxKeyLen)
	}
	return nil
}

func checkKind(kind string) error {
	if !slices.Contains(store.Kinds, kind) {
		return fmt.Errorf("unknown kind %q (known: %q)", kind, store.Kinds)
	}
	return nil
}

// checkExpect applies the compare-and-set rule: NoRevisionCheck passes, 0
// requires that the record does not exist, anything else must equal the
// current revision (cur, meaningful when exists).
func checkExpect(expect int64, exists bool, cur int64) error {
	switch {
	case expect == store.NoRevisionCheck:
		return nil
	case expect < 0:
		return fmt.Errorf("invalid expected revision %d", expect)
	case expect == 0 && exists:
		return fmt.Errorf("%w: expected it not to exist, but it exists at revision %d", store.ErrRevisionMismatch, cur)
	case expect == 0:
		return nil
	case !exists:
		return fmt.Errorf("%w: expected revision %d, but it does not exist", store.ErrRevisionMismatch, expect)
	case cur != expect:
		return fmt.Errorf("%w: expected revision %d, current revision is %d", store.ErrRevisionMismatch, expect, cur)
	}
	return nil
}

// bucket returns a top-level bucket that migrate guarantees; a missing one
// means a damaged file.
func bucket(tx *bolt.Tx, name []byte) (*bolt.Bucket, error) {
	b := tx.Bucket(name)
	if b == nil {
		return nil, fmt.Errorf("bucket %q missing: damaged data file", name)
	}
	return b, nil
}

var errNilFunc = errors.New("nil rewrite function")
