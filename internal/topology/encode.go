package topology

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"
)

// CanonicalJSON encodes a normalized copy of t as compact JSON: map keys
// sorted, providers and services in document order, durations as strings,
// defaults omitted, no HTML escaping. Equal topologies give equal bytes, so
// the result can be stored and compared.
func (t *Topology) CanonicalJSON() ([]byte, error) {
	if t == nil {
		return nil, errors.New("encoding topology as JSON: nil topology")
	}
	c := t.Clone()
	Normalize(c)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("encoding topology %q as JSON: %w", t.Name, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// FromCanonicalJSON decodes the output of CanonicalJSON (or any JSON form of
// the model) strictly and normalizes it. Lines are not recorded.
func FromCanonicalJSON(b []byte) (*Topology, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var t Topology
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("decoding canonical topology JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("decoding canonical topology JSON: unexpected data after the document")
	}
	Normalize(&t)
	return &t, nil
}

// EncodeYAML encodes a normalized copy of t as a native YAML document that
// Parse reads back to the same topology.
func EncodeYAML(t *Topology) ([]byte, error) {
	if t == nil {
		return nil, errors.New("encoding topology as YAML: nil topology")
	}
	c := t.Clone()
	Normalize(c)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("encoding topology %q as YAML: %w", t.Name, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding topology %q as YAML: %w", t.Name, err)
	}
	return buf.Bytes(), nil
}
