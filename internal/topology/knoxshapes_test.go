package topology

import (
	"path/filepath"
	"strings"
	"testing"
)

// Documents in the shape of Knox's shipped topologies (sandbox, admin,
// knoxsso, manager; written here, not copied) either validate or are
// refused with every unsupported item named in one answer. The golden
// files hold the verdict `gatewayctl topology validate` prints: problems,
// warnings, and what only the server checks. proxy/knox_test.go compiles
// the same documents on the server's path.
func TestKnoxShapes(t *testing.T) {
	want := map[string]bool{"sandbox.xml": true, "admin.xml": false, "knoxsso.xml": false, "manager.xml": false}
	inputs, err := filepath.Glob("testdata/knox/*.xml")
	if err != nil || len(inputs) != len(want) {
		t.Fatalf("inputs %v: %v", inputs, err)
	}
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			top, err := Parse(readFile(t, in), FormatUnspecified, filepath.Base(in), "")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			warnings, err := Validate(top)
			if valid := err == nil; valid != want[filepath.Base(in)] {
				t.Errorf("valid = %t, want %t: %v", valid, !valid, err)
			}
			var b strings.Builder
			if err != nil {
				b.WriteString(err.Error() + "\n")
			} else {
				b.WriteString("valid\n")
			}
			for _, w := range warnings {
				b.WriteString("warning: " + w + "\n")
			}
			for _, c := range ServerChecks(top) {
				b.WriteString("server checks: " + c + "\n")
			}
			golden(t, strings.TrimSuffix(in, ".xml")+".golden", []byte(b.String()))
		})
	}
}
