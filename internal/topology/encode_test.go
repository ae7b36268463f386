package topology

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// roundTripInputs are the documents the round-trip tests start from.
func roundTripInputs(t *testing.T) map[string]*Topology {
	t.Helper()
	files, err := filepath.Glob("testdata/parse/*.*")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../../server/examples/topologies/sandbox.yaml", "../../server/examples/topologies/knox-sandbox.xml")
	out := map[string]*Topology{}
	for _, f := range files {
		if strings.HasSuffix(f, ".golden") {
			continue
		}
		top, err := Parse(readFile(t, f), 0, filepath.Base(f), "")
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = top
	}
	return out
}

// stripLines drops the source lines from a validation error, which no
// encoding carries.
func stripLines(err error) error {
	var ve *ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	c := &ValidationError{Errors: slices.Clone(ve.Errors)}
	for i := range c.Errors {
		c.Errors[i].Line = 0
	}
	return c
}

// clearLines zeroes the source lines, which no encoding carries.
func clearLines(top *Topology) *Topology {
	c := top.Clone()
	for i := range c.Providers {
		c.Providers[i].Line = 0
	}
	for i := range c.Services {
		c.Services[i].Line = 0
	}
	return c
}

func TestCanonicalJSONRoundTrip(t *testing.T) {
	for name, top := range roundTripInputs(t) {
		t.Run(name, func(t *testing.T) {
			b := []byte(canonical(t, top))
			back, err := FromCanonicalJSON(b)
			if err != nil {
				t.Fatal(err)
			}
			if want := clearLines(top); !reflect.DeepEqual(back, want) {
				t.Errorf("round trip changed the topology:\n got %+v\nwant %+v", back, want)
			}
			if again := canonical(t, back); again != string(b) {
				t.Errorf("canonical JSON not stable:\n%s\n%s", b, again)
			}
		})
	}
}

func TestCanonicalJSONDeterministic(t *testing.T) {
	build := func(keys []string) *Topology {
		top := validTopology()
		top.Providers[0].Params = map[string]string{}
		for _, k := range keys {
			top.Providers[0].Params[k] = "v-" + k
		}
		return top
	}
	keys := strings.Fields("q w e r t y u i o p a s d f g h j k l z x c v b n m")
	reversed := make([]string, len(keys))
	for i, k := range keys {
		reversed[len(keys)-1-i] = k
	}
	want := canonical(t, build(keys))
	for range 20 {
		if got := canonical(t, build(reversed)); got != want {
			t.Fatalf("canonical JSON depends on map order:\n%s\n%s", got, want)
		}
	}
	if !strings.Contains(want, `"a":"v-a","b":"v-b"`) {
		t.Errorf("keys not sorted: %s", want)
	}
	// Providers keep document order.
	if i, j := strings.Index(want, `"anonymous"`), strings.Index(want, `"default"`); i < 0 || i > j {
		t.Errorf("provider order lost: %s", want)
	}
}

func TestCanonicalJSONIsNormalized(t *testing.T) {
	top := validTopology()
	top.Services[0].Path = "/echo/"
	top.Providers[0].Enabled = new(true)
	top.Providers[0].Params = map[string]string{}
	top.Services[0].Dispatch = &Dispatch{}
	got := canonical(t, top)
	want := `{"name":"sandbox","providers":[{"role":"authentication","name":"anonymous"},{"role":"identity-assertion","name":"default"}],` +
		`"services":[{"role":"ECHO","path":"echo","urls":["http://127.0.0.1:18080"]},{"path":"echows","urls":["ws://127.0.0.1:18080/ws"],"websocket":true}]}`
	if got != want {
		t.Errorf("CanonicalJSON =\n%s\nwant\n%s", got, want)
	}
	if top.Services[0].Path != "/echo/" || top.Services[0].Dispatch == nil {
		t.Error("CanonicalJSON modified its receiver")
	}
}

func TestFromCanonicalJSONErrors(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"unknown field", `{"name":"a","services":[],"extra":1}`, `unknown field "extra"`},
		{"trailing data", `{"name":"a","services":[]} {}`, "unexpected data after the document"},
		{"bad duration", `{"name":"a","services":[{"path":"a","urls":[],"dispatch":{"dial_timeout":5}}]}`, "invalid duration 5"},
		{"not JSON", `name: a`, "decoding canonical topology JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FromCanonicalJSON([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestEncodeYAMLRoundTrip(t *testing.T) {
	for name, top := range roundTripInputs(t) {
		t.Run(name, func(t *testing.T) {
			y, err := EncodeYAML(top)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse(y, yamlF, "", "")
			if err != nil {
				t.Fatalf("Parse of EncodeYAML output: %v\n%s", err, y)
			}
			if got, want := canonical(t, back), canonical(t, top); got != want {
				t.Errorf("YAML round trip changed the topology:\n%s\n%s\nYAML:\n%s", got, want, y)
			}
			_, errBefore := Validate(top)
			if _, err := Validate(back); fmt.Sprint(stripLines(err)) != fmt.Sprint(stripLines(errBefore)) {
				t.Errorf("the round trip changed the verdict: %v, before %v", err, errBefore)
			}
		})
	}
}

// TestEncodeYAMLGolden shows what `gatewayctl topology get -o yaml` prints.
func TestEncodeYAMLGolden(t *testing.T) {
	top, err := Parse(readFile(t, "testdata/parse/full.yaml"), 0, "full.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	y, err := EncodeYAML(top)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "testdata/encode/full.yaml.golden", y)
}

func TestEncodeNil(t *testing.T) {
	var top *Topology
	if _, err := top.CanonicalJSON(); err == nil {
		t.Error("CanonicalJSON of nil succeeded")
	}
	if _, err := EncodeYAML(nil); err == nil {
		t.Error("EncodeYAML of nil succeeded")
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Topology)
		check  func(*Topology) bool
	}{
		{"leading and trailing slashes", func(tp *Topology) { tp.Services[0].Path = "//echo/v1/" },
			func(tp *Topology) bool { return tp.Services[0].Path == "echo/v1" }},
		{"inner slashes kept for Validate", func(tp *Topology) { tp.Services[0].Path = "/a//b/" },
			func(tp *Topology) bool { return tp.Services[0].Path == "a//b" }},
		{"only slashes", func(tp *Topology) { tp.Services[0].Path = "///" },
			func(tp *Topology) bool { return tp.Services[0].Path == "" }},
		{"enabled true dropped", func(tp *Topology) { tp.Providers[0].Enabled = new(true) },
			func(tp *Topology) bool { return tp.Providers[0].Enabled == nil }},
		{"enabled false kept", func(tp *Topology) { tp.Providers[0].Enabled = new(false) },
			func(tp *Topology) bool { return tp.Providers[0].Enabled != nil && !*tp.Providers[0].Enabled }},
		{"empty params dropped", func(tp *Topology) { tp.Services[0].Params = map[string]string{} },
			func(tp *Topology) bool { return tp.Services[0].Params == nil }},
		{"empty dispatch dropped", func(tp *Topology) { tp.Services[0].Dispatch = &Dispatch{} },
			func(tp *Topology) bool { return tp.Services[0].Dispatch == nil }},
		{"empty ha dropped", func(tp *Topology) { tp.Services[0].HA = &HA{FailoverStatuses: []int{}} },
			func(tp *Topology) bool { return tp.Services[0].HA == nil }},
		{"nil urls made empty", func(tp *Topology) { tp.Services[0].URLs = nil },
			func(tp *Topology) bool { return tp.Services[0].URLs != nil && len(tp.Services[0].URLs) == 0 }},
		{"nil services made empty", func(tp *Topology) { tp.Services = nil },
			func(tp *Topology) bool { return tp.Services != nil && len(tp.Services) == 0 }},
		{"empty providers dropped", func(tp *Topology) { tp.Providers = []Provider{} },
			func(tp *Topology) bool { return tp.Providers == nil }},
		// The header is left to the gateway's federation.header (Knox's
		// gateway.custom.federation.header.name), not fixed here.
		{"Knox federation dispatch federates", func(tp *Topology) {
			tp.Services[0].Dispatch = &Dispatch{Classname: "org.apache.knox.gateway.dispatch.HeaderPreAuthFederationDispatch"}
		}, func(tp *Topology) bool {
			d := tp.Services[0].Dispatch
			return d.Federate && d.FederationHeader == ""
		}},
		{"federation header kept and federates", func(tp *Topology) {
			tp.Services[0].Dispatch = &Dispatch{FederationHeader: "aws_header"}
		}, func(tp *Topology) bool {
			d := tp.Services[0].Dispatch
			return d.Federate && d.FederationHeader == "aws_header"
		}},
		{"federation secret federates", func(tp *Topology) { tp.Services[0].Dispatch = &Dispatch{FederationSecret: "fed"} },
			func(tp *Topology) bool { return tp.Services[0].Dispatch.Federate }},
		{"other dispatch does not federate", func(tp *Topology) { tp.Services[0].Dispatch = &Dispatch{Classname: "x.DefaultDispatch"} },
			func(tp *Topology) bool { return !tp.Services[0].Dispatch.Federate }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			top := validTopology()
			tt.mutate(top)
			Normalize(top)
			if !tt.check(top) {
				t.Errorf("after Normalize: %+v", top)
			}
			once := canonical(t, top)
			Normalize(top)
			if twice := canonical(t, top); twice != once {
				t.Errorf("Normalize not idempotent:\n%s\n%s", once, twice)
			}
		})
	}
	Normalize(nil) // must not panic
}

func TestClone(t *testing.T) {
	top, err := Parse(readFile(t, "testdata/parse/full.yaml"), 0, "full.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	c := top.Clone()
	if !reflect.DeepEqual(c, top) {
		t.Fatal("clone differs")
	}
	before := canonical(t, top)
	c.Providers[1].Params["x"] = "y"
	*c.Providers[2].Enabled = true
	c.Services[0].URLs[0] = "http://changed"
	c.Services[0].Dispatch.MaxBodyBytes = 7
	c.Services[0].HA.FailoverStatuses[0] = 500
	c.Services[1].Params = map[string]string{"a": "b"}
	if after := canonical(t, top); !bytes.Equal([]byte(before), []byte(after)) {
		t.Errorf("changing the clone changed the original:\n%s\n%s", before, after)
	}
}
