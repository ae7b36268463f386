package topology

import (
	"strings"
	"testing"
)

// dispatch.forward_credentials survives every form a topology takes: the
// YAML document, the canonical JSON stored (topologypb tests the wire form).
func TestForwardCredentialsField(t *testing.T) {
	doc := `name: t
providers:
  - {role: authentication, name: anonymous}
services:
  - path: legacy
    urls: ["http://127.0.0.1:9"]
    dispatch:
      forward_credentials: true
`
	top, err := Parse([]byte(doc), 0, "t.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	if d := top.Services[0].Dispatch; d == nil || !d.ForwardCredentials {
		t.Fatalf("dispatch %+v", d)
	}
	js := canonical(t, top)
	if !strings.Contains(js, `"dispatch":{"forward_credentials":true}`) {
		t.Fatalf("canonical JSON %s", js)
	}
	back, err := FromCanonicalJSON([]byte(js))
	if err != nil || !back.Services[0].Dispatch.ForwardCredentials {
		t.Fatalf("from canonical JSON: %v %+v", err, back)
	}
	top.Services[0].Dispatch.ForwardCredentials = false
	if js := canonical(t, top); strings.Contains(js, "forward_credentials") || strings.Contains(js, `"dispatch"`) {
		t.Fatalf("off is the default and is not written: %s", js)
	}
}
