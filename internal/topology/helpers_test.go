package topology

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with the golden file, or rewrites it under -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// canonical returns t's canonical JSON, failing the test on error.
func canonical(t *testing.T, top *Topology) string {
	t.Helper()
	b, err := top.CanonicalJSON()
	if err != nil {
		t.Fatalf("CanonicalJSON: %v", err)
	}
	return string(b)
}

// indented re-indents canonical JSON for golden files.
func indented(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatal(err)
	}
	out.WriteByte('\n')
	return out.Bytes()
}

func readFileOK(path string) ([]byte, error) { return os.ReadFile(path) }

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mustParse parses a document whose format is guessed from its content.
func mustParse(t *testing.T, doc string) *Topology {
	t.Helper()
	top, err := Parse([]byte(doc), 0, "", "")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return top
}

// knoxValidated parses a Knox topology document and validates it: the
// converted topology and Validate's warnings.
func knoxValidated(t *testing.T, doc string) (*Topology, []string) {
	t.Helper()
	top, err := Parse([]byte(doc), xmlF, "t.xml", "")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	warnings, err := Validate(top)
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return top, warnings
}

// validTopology returns a small topology that passes Validate.
func validTopology() *Topology {
	return &Topology{
		Name: "sandbox",
		Providers: []Provider{
			{Role: "authentication", Name: "anonymous", Line: 3},
			{Role: "identity-assertion", Name: "default", Line: 5},
		},
		Services: []Service{
			{Path: "echo", Role: "ECHO", URLs: []string{"http://127.0.0.1:18080"}, Line: 8},
			{Path: "echows", WebSocket: true, URLs: []string{"ws://127.0.0.1:18080/ws"}, Line: 11},
		},
	}
}
