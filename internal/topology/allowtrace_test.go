package topology

import (
	"strings"
	"testing"
)

// dispatch.allow_trace is read from YAML and JSON and kept by the
// canonical form the store holds; absent, it is omitted.
func TestAllowTraceRoundTrip(t *testing.T) {
	for _, doc := range []string{
		"name: x\nservices:\n- path: a\n  urls: [http://h]\n  dispatch: {allow_trace: true}\n",
		`{"name": "x", "services": [{"path": "a", "urls": ["http://h"], "dispatch": {"allow_trace": true}}]}`,
	} {
		js, err := mustParse(t, doc).CanonicalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(js), `"dispatch":{"allow_trace":true}`) {
			t.Fatalf("canonical JSON: %s", js)
		}
		back, err := FromCanonicalJSON(js)
		if err != nil || back.Services[0].Dispatch == nil || !back.Services[0].Dispatch.AllowTrace {
			t.Fatalf("round trip lost allow_trace: %v", err)
		}
	}
	js, err := mustParse(t, "name: x\nservices:\n- path: a\n  urls: [http://h]\n").CanonicalJSON()
	if err != nil || strings.Contains(string(js), "allow_trace") {
		t.Fatalf("default written out: %s %v", js, err)
	}
}
