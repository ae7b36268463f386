package daemon

import (
	"context"
	"os"

	"google.golang.org/protobuf/types/known/timestamppb"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
	"github.com/securegw/gateway/store/etcd"
)

// register publishes this gateway on a shared store (etcd), under a lease,
// with the revision it has applied, until the returned stop is called.
// With another store it does nothing.
func (g *gateway) register(addrs Addrs) (stop func()) {
	es, ok := g.st.(*etcd.Store)
	if !ok {
		return func() {}
	}
	host, _ := os.Hostname()
	reg := es.Register(etcd.Member{
		ID:                host + "/" + addrs.Management,
		ProxyAddress:      addrs.Proxy,
		ManagementAddress: addrs.Management,
		Version:           g.version,
		StartedAt:         g.started.UTC(),
		AppliedRevision:   g.rec.AppliedRevision(),
		Ready:             g.ready.Load(),
	}, g.cfg.Store.Etcd.LeaseTTL.D())
	g.registration.Store(reg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	masterDone := make(chan struct{})
	go func() {
		defer close(masterDone)
		g.master.run(ctx, reg.UpdateMaster)
	}()
	go func() {
		defer close(done)
		for applied := g.rec.AppliedRevision(); ; {
			if err := g.rec.WaitFor(ctx, applied+1); err != nil {
				return
			}
			applied = g.rec.AppliedRevision()
			reg.Update(applied, g.ready.Load())
		}
	}()
	return func() {
		cancel()
		<-done
		<-masterDone
		g.registration.Store(nil)
		reg.Close()
	}
}

// gateways lists the gateways registered on the shared store, for status.
func (g *gateway) gateways(ctx context.Context) ([]*gatewayv1.GatewayMember, error) {
	es, ok := g.st.(*etcd.Store)
	if !ok {
		return nil, nil
	}
	ms, err := es.Members(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*gatewayv1.GatewayMember, 0, len(ms))
	for _, m := range ms {
		out = append(out, &gatewayv1.GatewayMember{
			Id:                m.ID,
			ProxyAddress:      m.ProxyAddress,
			ManagementAddress: m.ManagementAddress,
			Version:           m.Version,
			StartedAt:         timestamppb.New(m.StartedAt),
			AppliedRevision:   m.AppliedRevision,
			Ready:             m.Ready,
			UpdatedAt:         timestamppb.New(m.UpdatedAt),
			KeyId:             m.KeyID,
			Master:            m.Master,
		})
	}
	return out, nil
}
