package etcd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/securegw/gateway/store"
)

// The records below are the stored format, the same framing as the bbolt
// store's (a JSON header, a newline, then the opaque payload), so that
// `gatewayd store migrate` copies payloads byte for byte.

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

// logEntry is the change log entry of one revision: its changes and the
// commit's random ID, by which a writer whose commit got no answer (a
// member died) learns whether it was applied.
type logEntry struct {
	Commit  string         `json:"commit"`
	Changes []changeRecord `json:"changes"`
}

// changeRecord is one change in the change log.
type changeRecord struct {
	Kind   string `json:"kind"`
	Key    string `json:"key"`
	Delete bool   `json:"del,omitempty"`
}

func encodeChanges(commit string, changes []store.Change) ([]byte, error) {
	recs := make([]changeRecord, len(changes))
	for i, c := range changes {
		recs[i] = changeRecord(c)
	}
	data, err := json.Marshal(logEntry{Commit: commit, Changes: recs})
	if err != nil {
		return nil, fmt.Errorf("encoding change log entry: %w", err)
	}
	return data, nil
}

func decodeChanges(v []byte) (string, []store.Change, error) {
	e, err := decode[logEntry](v)
	if err != nil {
		return "", nil, err
	}
	out := make([]store.Change, len(e.Changes))
	for i, r := range e.Changes {
		out[i] = store.Change(r)
	}
	return e.Commit, out, nil
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

var errNilFunc = errors.New("nil rewrite function")
