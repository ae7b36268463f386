// Package benchgw builds the gateway's data path in process for the bench
// programs that profile it (profgw, idleprof): the bench topology's full
// chain (anonymous authentication, default identity assertion) in front
// of one backend, as scripts/bench.sh deploys it to gatewayd.
package benchgw

import (
	"context"
	"io"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy"
)

// Path is the bench service's path on the gateway.
const Path = "/gateway/bench/svc0/"

// New returns a proxy serving the bench topology, service svc0 on
// backend, logging (JSON, discarded) at level: slog.LevelInfo writes the
// access log.
func New(backend string, level slog.Level) (*proxy.Proxy, error) {
	p, err := proxy.New(proxy.Config{
		Logger:     slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: level})),
		Registerer: prometheus.NewRegistry(),
	})
	if err != nil {
		return nil, err
	}
	t := &topology.Topology{Name: "bench", Providers: []topology.Provider{
		{Role: "authentication", Name: "anonymous"}, {Role: "identity-assertion", Name: "default"}},
		Services: []topology.Service{{Path: "svc0", URLs: []string{backend}}}}
	c, err := p.Compile(context.Background(), t)
	if err != nil {
		p.Close()
		return nil, err
	}
	p.Apply(c)
	return p, nil
}
