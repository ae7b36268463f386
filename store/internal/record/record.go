// Package record is the stored format both stores share (store/bolt and
// store/etcd): topology, object and audit records, framed as a JSON header,
// a newline, then the opaque payload (Spec or Value) as raw bytes —
// encoding/json never writes a raw newline, so the first one ends the
// header — and the checks of keys, kinds and expected revisions. One copy,
// so that `gatewayd store migrate` moves payloads byte for byte and both
// stores refuse the same input. A change here needs a schema migration.
package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/securegw/gateway/store"
)

type Topology struct {
	Name           string    `json:"name"`
	Spec           []byte    `json:"-"` // payload
	Revision       int64     `json:"rev"`
	CreateRevision int64     `json:"create_rev"`
	UpdatedAt      time.Time `json:"updated_at"`
	UpdatedBy      string    `json:"updated_by,omitempty"`
	Action         string    `json:"action"`
}

func (r Topology) Topology() store.Topology {
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

type Object struct {
	Value          []byte    `json:"-"` // payload
	Revision       int64     `json:"rev"`
	CreateRevision int64     `json:"create_rev"`
	UpdatedAt      time.Time `json:"updated_at"`
}

func (r Object) Object(kind, key string) store.Object {
	return store.Object{
		Kind:           kind,
		Key:            key,
		Value:          r.Value,
		Revision:       r.Revision,
		CreateRevision: r.CreateRevision,
		UpdatedAt:      r.UpdatedAt,
	}
}

type Audit struct {
	Time      time.Time `json:"time"`
	Principal string    `json:"principal,omitempty"`
	Method    string    `json:"method,omitempty"`
	Target    string    `json:"target,omitempty"`
	Outcome   string    `json:"outcome,omitempty"`
	Detail    string    `json:"detail,omitempty"`
	Peer      string    `json:"peer,omitempty"`
}

// EncodeAudit encodes r as both stores keep an audit record: its time in
// UTC, now when r has none.
func EncodeAudit(r store.AuditRecord, now time.Time) ([]byte, error) {
	rec := Audit{
		Time:      r.Time.UTC(),
		Principal: r.Principal,
		Method:    r.Method,
		Target:    r.Target,
		Outcome:   r.Outcome,
		Detail:    r.Detail,
		Peer:      r.Peer,
	}
	if r.Time.IsZero() {
		rec.Time = now
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encoding record: %w", err)
	}
	return data, nil
}

func (r Audit) Audit(seq int64) store.AuditRecord {
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

// Decode unmarshals a value read in a transaction. The result shares no
// memory with v (encoding/json copies), so it outlives the transaction.
func Decode[T any](v []byte) (T, error) {
	var r T
	if err := json.Unmarshal(v, &r); err != nil {
		return r, fmt.Errorf("decoding stored record: %w", err)
	}
	return r, nil
}

// EncodeTopology and the functions below frame a record as described at
// the top of this file.
func EncodeTopology(r Topology) ([]byte, error) { return encodeFramed(r, r.Spec) }

func DecodeTopology(v []byte) (Topology, error) {
	r, payload, err := decodeFramed[Topology](v)
	r.Spec = payload
	return r, err
}

func EncodeObject(r Object) ([]byte, error) { return encodeFramed(r, r.Value) }

func DecodeObject(v []byte) (Object, error) {
	r, payload, err := decodeFramed[Object](v)
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
	h, err := Decode[T](v[:i])
	var payload []byte
	if len(v) > i+1 {
		payload = bytes.Clone(v[i+1:])
	}
	return h, payload, err
}

// Actions of topology versions.
// MaxKeyLen bounds names and keys well below bbolt's key limit.
const MaxKeyLen = 1024

func CheckKey(what, key string) error {
	if key == "" {
		return fmt.Errorf("empty %s", what)
	}
	if len(key) > MaxKeyLen {
		return fmt.Errorf("%s longer than %d bytes", what, MaxKeyLen)
	}
	return nil
}

func CheckKind(kind string) error {
	if !slices.Contains(store.Kinds, kind) {
		return fmt.Errorf("unknown kind %q (known: %q)", kind, store.Kinds)
	}
	return nil
}

// CheckExpect applies the compare-and-set rule: NoRevisionCheck passes, 0
// requires that the record does not exist, anything else must equal the
// current revision (cur, meaningful when exists).
func CheckExpect(expect int64, exists bool, cur int64) error {
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
