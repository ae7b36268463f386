package topology

import (
	"fmt"
	"strings"
	"testing"
)

func showChanges(cs []Change) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "%s %s", strings.ToUpper(c.Kind.String()), c.Path)
		for _, d := range c.Details {
			fmt.Fprintf(&b, "\n  %s", d)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name     string
		old, new func() *Topology // nil: no topology
		mutate   func(*Topology)  // applied to new
		want     string
	}{
		{"equal", validTopology, validTopology, nil, ""},
		{"lines do not matter", validTopology, validTopology, func(tp *Topology) { tp.Services[0].Line = 99 }, ""},
		{"provider order does not matter", validTopology, validTopology, func(tp *Topology) {
			tp.Providers[0], tp.Providers[1] = tp.Providers[1], tp.Providers[0]
		}, ""},
		{"new topology", nil, validTopology, nil,
			"ADDED (providers)\n  added authentication/anonymous\n  added identity-assertion/default\nADDED echo\nADDED echows\n"},
		{"deleted topology", validTopology, nil, nil,
			"REMOVED (providers)\n  removed authentication/anonymous\n  removed identity-assertion/default\nREMOVED echo\nREMOVED echows\n"},
		{"service added and removed", validTopology, validTopology, func(tp *Topology) {
			tp.Services[1].Path = "zz"
			tp.Services = append(tp.Services, Service{Path: "a", URLs: []string{"http://a"}})
		}, "ADDED a\nREMOVED echows\nADDED zz\n"},
		{"urls", validTopology, validTopology, func(tp *Topology) {
			tp.Services[0].URLs = []string{"http://a", "http://b"}
		}, "CHANGED echo\n  urls: [http://127.0.0.1:18080] → [http://a http://b]\n"},
		{"websocket and role", validTopology, validTopology, func(tp *Topology) {
			tp.Services[0].WebSocket = true
			tp.Services[0].Role = "ECHOWS"
		}, "CHANGED echo\n  role: \"ECHO\" → \"ECHOWS\"\n  websocket: false → true\n"},
		{"service params", validTopology, validTopology, func(tp *Topology) {
			tp.Services[0].Params = map[string]string{"b": "2", "a": "1"}
		}, "CHANGED echo\n  params changed: a, b\n"},
		{"dispatch and ha", validTopology, validTopology, func(tp *Topology) {
			tp.Services[0].Dispatch = &Dispatch{DialTimeout: Duration(30e9), Truststore: "t"}
			tp.Services[0].HA = &HA{FailoverStatuses: []int{503}}
		}, "CHANGED echo\n  dispatch.truststore: \"\" → \"t\"\n  dispatch.dial_timeout: 0s → 30s\n  ha.failover_statuses: [] → [503]\n"},
		{"providers", validTopology, validTopology, func(tp *Topology) {
			tp.Providers[0].Enabled = new(false)
			tp.Providers[1].Params = map[string]string{"k": "v"}
			tp.Providers = append(tp.Providers, Provider{Role: "authorization", Name: "acls"})
		}, "CHANGED (providers)\n  authentication/anonymous: enabled true → false\n  identity-assertion/default: params changed: k\n  added authorization/acls\n"},
		{"provider replaced", validTopology, validTopology, func(tp *Topology) {
			tp.Providers[0].Name = "ldap"
		}, "CHANGED (providers)\n  removed authentication/anonymous\n  added authentication/ldap\n"},
		{"description", validTopology, validTopology, func(tp *Topology) { tp.Description = "new" },
			"CHANGED (topology)\n  description changed\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var old, new *Topology
			if tt.old != nil {
				old = tt.old()
			}
			if tt.new != nil {
				new = tt.new()
			}
			if tt.mutate != nil {
				tt.mutate(new)
			}
			if got := showChanges(Diff(old, new)); got != tt.want {
				t.Errorf("Diff =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestDiffNeverShowsParamValues(t *testing.T) {
	old, new := validTopology(), validTopology()
	old.Providers[0].Params = map[string]string{"password": "old-s3cret", "same": "kept-s3cret"}
	new.Providers[0].Params = map[string]string{"password": "new-s3cret", "same": "kept-s3cret", "added": "added-s3cret"}
	old.Services[0].Params = map[string]string{"token": "svc-old-s3cret"}
	new.Services[0].Params = map[string]string{"token": "svc-new-s3cret"}
	got := showChanges(Diff(old, new))
	if strings.Contains(got, "s3cret") {
		t.Errorf("diff shows a parameter value:\n%s", got)
	}
	if !strings.Contains(got, "params changed: added, password") || !strings.Contains(got, "params changed: token") {
		t.Errorf("diff does not name the changed keys:\n%s", got)
	}
}
