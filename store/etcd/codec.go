package etcd

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/securegw/gateway/store"
	"github.com/securegw/gateway/store/internal/record"
)

// The records below are the stored format, the same framing as the bbolt
// store's (a JSON header, a newline, then the opaque payload), so that
// `gatewayd store migrate` copies payloads byte for byte.

// The stored records and their framing are package record's, shared with
// the other store.
type (
	topologyRecord = record.Topology
	objectRecord   = record.Object
	auditRecord    = record.Audit
)

var (
	encodeTopology = record.EncodeTopology
	decodeTopology = record.DecodeTopology
	encodeObject   = record.EncodeObject
	decodeObject   = record.DecodeObject
	encodeAudit    = record.EncodeAudit
	checkKey       = record.CheckKey
	checkKind      = record.CheckKind
	checkExpect    = record.CheckExpect
)

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
	e, err := record.Decode[logEntry](v)
	if err != nil {
		return "", nil, err
	}
	out := make([]store.Change, len(e.Changes))
	for i, r := range e.Changes {
		out[i] = store.Change(r)
	}
	return e.Commit, out, nil
}

// Actions of topology versions.
const (
	actionDeploy   = "deploy"
	actionRollback = "rollback"
	actionDelete   = "delete"
)

var errNilFunc = errors.New("nil rewrite function")
