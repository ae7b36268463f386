package proxy

import (
	"context"
	"fmt"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy/chain"
	_ "github.com/securegw/gateway/proxy/services" // gateway-served services register themselves
)

// gatewayServiceEndpoints builds the endpoints of the topology's services
// that the gateway serves itself (topology.ServiceGateway: the token API,
// the SSO pages), with the topology's chain.
func (p *Proxy) gatewayServiceEndpoints(ctx context.Context, t *topology.Topology, ch *chain.Chain, resolve func(context.Context, string) ([]byte, error)) ([]chain.Endpoint, error) {
	var out []chain.Endpoint
	for i := range t.Services {
		ts := &t.Services[i]
		if topology.ServiceRoleKind(ts.Role) != topology.ServiceGateway {
			continue
		}
		f, ok := chain.LookupService(ts.Role)
		if !ok {
			return nil, fmt.Errorf("service %q: role %s is not served by this gateway", ts.Path, ts.Role)
		}
		eps, err := f.New(ctx, chain.ServiceConfig{
			Config: chain.Config{Topology: t.Name, Provider: ts.Role, Params: chain.Params(ts.Params),
				Resolve: resolve, Logger: p.log.With("topology", t.Name, "service", ts.Path), Host: p.host},
			Path:    ts.Path,
			Inbound: ch.ServeInbound,
		})
		if err != nil {
			return nil, fmt.Errorf("service %q (role %s): %w", ts.Path, ts.Role, err)
		}
		out = append(out, eps...)
	}
	return out, nil
}
