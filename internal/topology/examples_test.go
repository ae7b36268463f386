package topology

import (
	"path/filepath"
	"testing"
)

const examplesDir = "../../server/examples/topologies"

// TestExamples parses the shipped examples, validates them, and checks that
// the Knox form says the same as the native one.
func TestExamples(t *testing.T) {
	tests := []struct {
		file, wantName string
	}{
		{"sandbox.yaml", "sandbox"},
		{"knox-sandbox.xml", "knox-sandbox"},
	}
	parsed := map[string]*Topology{}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join(examplesDir, tt.file)
			top, err := Parse(readFile(t, path), 0, path, "")
			if err != nil {
				t.Fatal(err)
			}
			if top.Name != tt.wantName {
				t.Errorf("name = %q, want %q", top.Name, tt.wantName)
			}
			warnings, err := Validate(top)
			if err != nil || len(warnings) > 0 {
				t.Fatalf("Validate = %v, %v", warnings, err)
			}
			if len(top.Services) != 2 || top.Services[0].Path != "echo" || top.Services[1].Path != "echows" || !top.Services[1].WebSocket {
				t.Errorf("services = %+v", top.Services)
			}
			parsed[tt.file] = top
		})
	}
	native, knox := parsed["sandbox.yaml"], parsed["knox-sandbox.xml"]
	if native == nil || knox == nil {
		t.Fatal("an example failed to parse")
	}
	knox = knox.Clone()
	knox.Name, knox.Description = native.Name, native.Description
	// The Knox form also puts the user in the query, as Knox does.
	for i, p := range knox.Providers {
		if p.Role == "identity-assertion" {
			if p.Params["query_param"] != "user.name" {
				t.Errorf("Knox identity assertion's query_param = %q, want user.name (Knox's)", p.Params["query_param"])
			}
			delete(knox.Providers[i].Params, "query_param")
			if len(knox.Providers[i].Params) == 0 {
				knox.Providers[i].Params = nil
			}
		}
	}
	if a, b := canonical(t, native), canonical(t, knox); a != b {
		t.Errorf("the examples differ:\n%s\n%s", a, b)
	}
}
