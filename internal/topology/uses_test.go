package topology

import "testing"

func TestUses(t *testing.T) {
	topo := &Topology{
		Name: "t",
		Providers: []Provider{
			{Role: "authentication", Name: "ldap", Params: map[string]string{"bind_password": "${alias:bind}", "ca_alias": "ldap-ca", "realm": "other"}},
		},
		Services: []Service{
			{Path: "a", URLs: []string{"https://h"}, Dispatch: &Dispatch{Truststore: "backends", UseTwoWayTLS: true, ClientCertificate: "client"}},
		},
	}
	for _, tc := range []struct {
		alias string
		want  bool
	}{{"bind", true}, {"ldap-ca", true}, {"client", true}, {"other", false}, {"backends", false}, {"nope", false}} {
		if got := topo.UsesAlias(tc.alias); got != tc.want {
			t.Errorf("UsesAlias(%q) = %v, want %v", tc.alias, got, tc.want)
		}
	}
	if !topo.UsesTruststore("backends") || topo.UsesTruststore("bind") {
		t.Error("UsesTruststore")
	}
}
