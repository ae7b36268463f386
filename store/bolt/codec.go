package bolt

import (
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/securegw/gateway/store"
	"github.com/securegw/gateway/store/internal/record"
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
	recs, err := record.Decode[[]changeRecord](v)
	if err != nil {
		return nil, err
	}
	out := make([]store.Change, len(recs))
	for i, r := range recs {
		out[i] = store.Change(r)
	}
	return out, nil
}

// Actions of topology versions.
const (
	actionDeploy   = "deploy"
	actionRollback = "rollback"
	actionDelete   = "delete"
)

func bucket(tx *bolt.Tx, name []byte) (*bolt.Bucket, error) {
	b := tx.Bucket(name)
	if b == nil {
		return nil, fmt.Errorf("bucket %q missing: damaged data file", name)
	}
	return b, nil
}

var errNilFunc = errors.New("nil rewrite function")
