package topologypb

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/securegw/gateway/internal/topology"
	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

// roundTripInputs are the model's test documents and the examples.
func roundTripInputs(t *testing.T) map[string]*topology.Topology {
	t.Helper()
	files, err := filepath.Glob("../topology/testdata/parse/*.*")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../../server/examples/topologies/sandbox.yaml", "../../server/examples/topologies/knox-sandbox.xml")
	out := map[string]*topology.Topology{}
	for _, f := range files {
		if strings.HasSuffix(f, ".golden") {
			continue
		}
		top, err := topology.Parse(readFile(t, f), topology.FormatUnspecified, filepath.Base(f), "")
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = top
	}
	if len(out) < 4 {
		t.Fatalf("only %d inputs", len(out))
	}
	return out
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// clearLines zeroes the source lines, which no encoding carries.
func clearLines(top *topology.Topology) *topology.Topology {
	c := top.Clone()
	for i := range c.Providers {
		c.Providers[i].Line = 0
	}
	for i := range c.Services {
		c.Services[i].Line = 0
	}
	return c
}

func canonical(t *testing.T, top *topology.Topology) string {
	t.Helper()
	b, err := top.CanonicalJSON()
	if err != nil {
		t.Fatalf("CanonicalJSON: %v", err)
	}
	return string(b)
}

func TestFormat(t *testing.T) {
	for in, want := range map[gatewayv1.Format]topology.Format{
		gatewayv1.Format_FORMAT_UNSPECIFIED: topology.FormatUnspecified,
		gatewayv1.Format_FORMAT_YAML:        topology.FormatYAML,
		gatewayv1.Format_FORMAT_JSON:        topology.FormatJSON,
		gatewayv1.Format_FORMAT_KNOX_XML:    topology.FormatKnoxXML,
		gatewayv1.Format(99):                topology.FormatUnspecified,
	} {
		if got := Format(in); got != want {
			t.Errorf("Format(%v) = %v, want %v", in, got, want)
		}
	}
}

func TestProtoRoundTrip(t *testing.T) {
	for name, top := range roundTripInputs(t) {
		t.Run(name, func(t *testing.T) {
			pt := ToProto(top)
			back, err := FromProto(pt)
			if err != nil {
				t.Fatal(err)
			}
			if want := clearLines(top); !reflect.DeepEqual(back, want) {
				t.Errorf("model → proto → model changed the topology:\n got %+v\nwant %+v", back, want)
			}
			if again := ToProto(back); !proto.Equal(again, pt) {
				t.Errorf("proto → model → proto changed the message:\n got %v\nwant %v", again, pt)
			}
		})
	}
}

func TestToProtoFields(t *testing.T) {
	top, err := topology.Parse(readFile(t, "../topology/testdata/parse/full.yaml"), topology.FormatUnspecified, "full.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	pt := ToProto(top)
	if got := pt.GetProviders()[2]; got.GetEnabled() || got.GetName() != "anonymous" {
		t.Errorf("disabled provider = %v", got)
	}
	if got := pt.GetProviders()[3]; !got.GetEnabled() {
		t.Errorf("default provider not enabled: %v", got)
	}
	d := pt.GetServices()[0].GetDispatch()
	if d.GetResponseHeaderTimeout().AsDuration() != time.Minute || d.GetIdleTimeout().AsDuration() != 90*time.Minute || !d.GetUseTwoWayTls() {
		t.Errorf("dispatch = %v", d)
	}
	if pt.GetServices()[1].GetDispatch().GetDialTimeout() != nil {
		t.Error("zero duration not left absent")
	}
	ha := pt.GetServices()[0].GetHa()
	if ha.GetCooloff().AsDuration() != 30*time.Second || len(ha.GetFailoverStatuses()) != 2 || ha.GetMaxFailures() != 3 {
		t.Errorf("ha = %v", ha)
	}
	if ToProto(nil) != nil {
		t.Error("ToProto(nil) not nil")
	}
}

func TestFromProtoErrors(t *testing.T) {
	tests := []struct {
		name string
		pt   *gatewayv1.Topology
		want string
	}{
		{"nil", nil, "nil topology"},
		{"nil provider", &gatewayv1.Topology{Name: "x", Providers: []*gatewayv1.Provider{nil}}, `topology "x" from the API: providers[0] is null`},
		{"nil service", &gatewayv1.Topology{Name: "x", Services: []*gatewayv1.Service{{}, nil}}, "services[1] is null"},
		{"invalid duration", &gatewayv1.Topology{Services: []*gatewayv1.Service{{Dispatch: &gatewayv1.Dispatch{
			DialTimeout: &durationpb.Duration{Seconds: 1, Nanos: -1}}}}}, "services[0].dispatch.dial_timeout"},
		{"duration out of range", &gatewayv1.Topology{Services: []*gatewayv1.Service{{Ha: &gatewayv1.HighAvailability{
			Cooloff: &durationpb.Duration{Seconds: 315576000000}}}}}, "services[0].ha.cooloff: duration 315576000000s is out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FromProto(tt.pt)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestFromProtoNormalizes(t *testing.T) {
	top, err := FromProto(&gatewayv1.Topology{
		Name:      "x",
		Providers: []*gatewayv1.Provider{{Role: "authentication", Name: "anonymous", Enabled: true, Params: map[string]string{}}},
		Services:  []*gatewayv1.Service{{Path: "/echo/", Urls: []string{"http://h"}, Dispatch: &gatewayv1.Dispatch{}, Ha: &gatewayv1.HighAvailability{}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"x","providers":[{"role":"authentication","name":"anonymous"}],"services":[{"path":"echo","urls":["http://h"]}]}`
	if got := canonical(t, top); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if top.Providers[0].Enabled != nil || top.Services[0].Dispatch != nil || top.Services[0].HA != nil {
		t.Errorf("not normalized: %+v", top)
	}
}

func TestChangesToProto(t *testing.T) {
	cs := []topology.Change{{Kind: topology.ChangeChanged, Path: "echo", Details: []string{"websocket: false → true"}}, {Kind: topology.ChangeRemoved, Path: "x"}}
	got := ChangesToProto(cs)
	if len(got) != 2 || got[0].GetKind() != gatewayv1.ServiceChange_KIND_CHANGED || got[0].GetPath() != "echo" || got[0].GetDetails()[0] != "websocket: false → true" ||
		got[1].GetKind() != gatewayv1.ServiceChange_KIND_REMOVED || len(got[1].GetDetails()) != 0 {
		t.Errorf("ChangesToProto = %v", got)
	}
	cs[0].Details[0] = "mutated"
	if got[0].GetDetails()[0] != "websocket: false → true" {
		t.Error("ChangesToProto shares the details slice")
	}
	if got := ChangesToProto(nil); got == nil || len(got) != 0 {
		t.Errorf("ChangesToProto(nil) = %v", got)
	}
}

// FuzzProtoRoundTrip checks that whatever parses and validates survives the
// round trip through the API form unchanged.
func FuzzProtoRoundTrip(f *testing.F) {
	seeds, _ := filepath.Glob("../topology/testdata/parse/*.*")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil && !strings.HasSuffix(s, ".golden") {
			f.Add(b)
		}
	}
	f.Add([]byte("name: x\nservices: [{path: /a/, urls: ['http://h:1/p'], dispatch: {dial_timeout: 1m}, ha: {failover_statuses: [503]}}]\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		top, err := topology.Parse(doc, topology.FormatUnspecified, "", "")
		if err != nil {
			return
		}
		if _, err := topology.Validate(top); err != nil {
			return
		}
		want := canonical(t, top)
		back, err := FromProto(ToProto(top))
		if err != nil {
			t.Fatalf("FromProto: %v", err)
		}
		if got := canonical(t, back); got != want {
			t.Fatalf("proto round trip:\n%s\n%s", got, want)
		}
	})
}

// dispatch.forward_credentials survives the wire form.
func TestForwardCredentialsOnTheWire(t *testing.T) {
	top := &topology.Topology{Name: "t", Services: []topology.Service{{Path: "legacy", URLs: []string{"http://127.0.0.1:9"},
		Dispatch: &topology.Dispatch{ForwardCredentials: true}}}}
	if !ToProto(top).GetServices()[0].GetDispatch().GetForwardCredentials() {
		t.Fatal("ToProto lost forward_credentials")
	}
	wire, err := FromProto(ToProto(top))
	if err != nil || !wire.Services[0].Dispatch.ForwardCredentials {
		t.Fatalf("FromProto: %v %+v", err, wire)
	}
}

// dispatch.allow_trace survives the wire form.
func TestAllowTraceOnTheWire(t *testing.T) {
	top := &topology.Topology{Name: "t", Services: []topology.Service{{Path: "diag", URLs: []string{"http://127.0.0.1:9"},
		Dispatch: &topology.Dispatch{AllowTrace: true}}}}
	if !ToProto(top).GetServices()[0].GetDispatch().GetAllowTrace() {
		t.Fatal("ToProto lost allow_trace")
	}
	wire, err := FromProto(ToProto(top))
	if err != nil || !wire.Services[0].Dispatch.AllowTrace {
		t.Fatalf("FromProto: %v %+v", err, wire)
	}
}

// The WebHDFS HA settings (a Knox HaProvider's) survive the wire form.
func TestWebHDFSHAOnTheWire(t *testing.T) {
	ha := &topology.HA{FailoverOnStandby: true, SafeModeRetries: 3, SafeModeRetrySleep: topology.Duration(250 * time.Millisecond)}
	top := &topology.Topology{Name: "t", Services: []topology.Service{{Path: "webhdfs", Role: "WEBHDFS",
		URLs: []string{"http://nn1:9870/webhdfs", "http://nn2:9870/webhdfs"}, HA: ha}}}
	ph := ToProto(top).GetServices()[0].GetHa()
	if !ph.GetFailoverOnStandby() || ph.GetSafeModeRetries() != 3 || ph.GetSafeModeRetrySleep().AsDuration() != 250*time.Millisecond {
		t.Fatalf("ToProto: %v", ph)
	}
	wire, err := FromProto(ToProto(top))
	if err != nil || !reflect.DeepEqual(wire.Services[0].HA, ha) {
		t.Fatalf("FromProto: %v %+v, want %+v", err, wire.Services[0].HA, ha)
	}
}
