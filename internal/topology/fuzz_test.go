package topology

import (
	"path/filepath"
	"testing"
)

// FuzzParse checks that Parse never panics, and that whatever parses and
// validates survives the round trips through canonical JSON and YAML
// unchanged (topologypb fuzzes the API form).
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/parse/*.*")
	seeds = append(seeds, filepath.Join(examplesDir, "sandbox.yaml"), filepath.Join(examplesDir, "knox-sandbox.xml"), "testdata/invalid/many.yaml")
	for _, s := range seeds {
		if b, err := readFileOK(s); err == nil {
			f.Add(b, uint8(0))
		}
	}
	f.Add([]byte("name: x\nservices: [{path: /a/, urls: ['http://h:1/p'], dispatch: {dial_timeout: 1m}}]\n"), uint8(1))
	f.Add([]byte(`{"name":"x","services":[{"path":"a","urls":["ws://h"],"websocket":true,"ha":{"failover_statuses":[503]}}]}`), uint8(2))
	f.Add([]byte(`<topology><service><role>ECHO</role><url>http://h</url><param><name>p</name><value>${ALIAS=a}</value></param></service></topology>`), uint8(3))
	f.Add([]byte(`<!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]><topology>&x;</topology>`), uint8(3))
	f.Add([]byte("a: &a [x]\nb: *a\n"), uint8(1))

	sources := []string{"", "fuzz.yaml", "fuzz.json", "fuzz.xml"}
	f.Fuzz(func(t *testing.T, doc []byte, format uint8) {
		fm := Format(format % 4)
		top, err := Parse(doc, fm, sources[format/4%4], "")
		if err != nil {
			return
		}
		if _, err := Validate(top); err != nil {
			return
		}
		want, err := top.CanonicalJSON()
		if err != nil {
			t.Fatalf("CanonicalJSON: %v", err)
		}
		back, err := FromCanonicalJSON(want)
		if err != nil {
			t.Fatalf("FromCanonicalJSON(%s): %v", want, err)
		}
		if got, _ := back.CanonicalJSON(); string(got) != string(want) {
			t.Fatalf("canonical JSON round trip:\n%s\n%s", got, want)
		}
		if _, err := Validate(back); err != nil {
			t.Fatalf("round-tripped topology invalid: %v\n%s", err, want)
		}
		y, err := EncodeYAML(top)
		if err != nil {
			t.Fatalf("EncodeYAML: %v", err)
		}
		fromYAML, err := Parse(y, FormatYAML, "", "")
		if err != nil {
			t.Fatalf("Parse(EncodeYAML): %v\n%s", err, y)
		}
		if got, _ := fromYAML.CanonicalJSON(); string(got) != string(want) {
			t.Fatalf("YAML round trip:\n%s\n%s", got, want)
		}
	})
}
