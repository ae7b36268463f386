package cli

import (
	"fmt"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/internal/topologypb"
	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

// This file is the CLI's only contact with internal/topology, the compiler
// gatewayd itself uses, and internal/topologypb, its API form.

// compileTopology parses and validates a document offline, exactly as
// gatewayd does. A validation error lists one problem per line, each with
// its field path and line.
func compileTopology(doc []byte, format gatewayv1.Format, sourceName, name string) (*topology.Topology, []string, error) {
	t, err := topology.Parse(doc, topologypb.Format(format), sourceName, name)
	if err != nil {
		return nil, nil, err
	}
	warnings, err := topology.Validate(t)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: invalid topology %q:\n%w", sourceName, t.Name, err)
	}
	return t, warnings, nil
}

// topologyDocument renders an API topology as its native YAML document, the
// form `topology deploy` reads back.
func topologyDocument(p *gatewayv1.Topology) ([]byte, error) {
	t, err := topologypb.FromProto(p)
	if err != nil {
		return nil, err
	}
	return topology.EncodeYAML(t)
}

// topologyProto converts a compiled topology to its API form.
func topologyProto(t *topology.Topology) *gatewayv1.Topology { return topologypb.ToProto(t) }

// serverChecks lists what an offline validation of t could not check.
func serverChecks(t *topology.Topology) []string { return topology.ServerChecks(t) }

// catalogueRole is one row of `topology roles`.
type catalogueRole struct {
	Role      string   `json:"role"`
	Path      string   `json:"path"`
	Backend   string   `json:"backend_path,omitempty"`
	Type      string   `json:"type"`
	WebSocket bool     `json:"websocket,omitempty"`
	Rewrite   string   `json:"rewrite"`
	Knox      []string `json:"knox_versions,omitempty"`
}

// catalogueRoles is the gateway's service catalogue.
func catalogueRoles() []catalogueRole {
	cat := topology.Catalogue()
	out := make([]catalogueRole, len(cat))
	for i, e := range cat {
		rw := string(e.Rewrite)
		if rw == "" {
			rw = "headers"
		}
		out[i] = catalogueRole{Role: e.Role, Path: e.Path, Backend: e.Backend, Type: string(e.Type), WebSocket: e.WebSocket, Rewrite: rw, Knox: e.KnoxVersions}
	}
	return out
}
