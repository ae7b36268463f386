package topology

import (
	"reflect"
	"strings"
	"testing"
	"time"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

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
	top, err := Parse(readFile(t, "testdata/parse/full.yaml"), 0, "full.yaml", "")
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
