package providers_test

import (
	"slices"
	"testing"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy/chain"
	_ "github.com/securegw/gateway/proxy/providers"
)

// The providers the proxy can build are exactly those internal/topology
// declares supported, so that Validate (offline in gatewayctl, and before
// every compile) refuses what the proxy could not build, and accepts what
// it can.
func TestRegistryMatchesSupportedProviders(t *testing.T) {
	var registered []topology.ProviderID
	for _, f := range chain.Registered() {
		registered = append(registered, topology.ProviderID{Role: string(f.Role), Name: f.Name})
	}
	supported := topology.SupportedProviders()
	for _, r := range registered {
		if !slices.Contains(supported, r) {
			t.Errorf("provider %s is registered but not in internal/topology's supportedProviders: Validate refuses it", r)
		}
	}
	for _, s := range supported {
		if !slices.Contains(registered, s) {
			t.Errorf("provider %s is in internal/topology's supportedProviders but not registered: Validate accepts what the proxy cannot build", s)
		}
	}
	if len(registered) < 10 {
		t.Fatalf("only %d providers registered", len(registered))
	}
}
