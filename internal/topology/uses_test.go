package topology

import "testing"

func TestUses(t *testing.T) {
	topo := &Topology{
		Name: "t",
		Providers: []Provider{
			{Role: "authentication", Name: "ldap", Params: map[string]string{"bind_password": "${alias:bind}", "ca_alias": "ldap-ca", "realm": "other"}},
			{Role: "federation", Name: "header-preauth", Params: map[string]string{"truststore": "senders", "allowed_clients": "CN=x"}},
		},
		Services: []Service{
			{Path: "a", URLs: []string{"https://h"}, Dispatch: &Dispatch{Truststore: "backends", UseTwoWayTLS: true, ClientCertificate: "client"}},
			{Path: "b", URLs: []string{"https://cloud/gateway/aws/b"}, Dispatch: &Dispatch{Federate: true, FederationSecret: "fed-secret"}},
		},
	}
	for _, tc := range []struct {
		alias string
		want  bool
	}{{"bind", true}, {"ldap-ca", true}, {"client", true}, {"fed-secret", true}, {"other", false}, {"backends", false}, {"nope", false}} {
		if got := topo.UsesAlias(tc.alias); got != tc.want {
			t.Errorf("UsesAlias(%q) = %v, want %v", tc.alias, got, tc.want)
		}
	}
	// A truststore a provider verifies client certificates with counts too:
	// changing it recompiles the topology.
	if !topo.UsesTruststore("backends") || !topo.UsesTruststore("senders") || topo.UsesTruststore("bind") || topo.UsesTruststore("CN=x") {
		t.Error("UsesTruststore")
	}
}
