package reconcile

import (
	"bytes"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy"
)

// offer is a route the topology service compiled to check a document it
// then stored: the reconciler publishes it instead of compiling the same
// document again, when it is still what the store holds and no secret it
// may use changed since it was compiled.
type offer struct {
	spec  []byte // canonical JSON the route was compiled from
	topo  *topology.Topology
	route *proxy.Compiled
	at    int64 // store revision read before compiling: its secrets are those of at
	rev   int64 // revision of the commit that stored spec
}

// Offer hands the reconciler route, compiled from t (canonical JSON spec)
// with the aliases and truststores of store revision at, and stored by the
// commit of revision rev. The reconciler owns route from here: it publishes
// it when it applies rev and finds spec stored with no alias or truststore
// changed after at, and discards it otherwise. Offering is an optimisation:
// without it the reconciler compiles the stored document itself.
func (r *Reconciler) Offer(t *topology.Topology, spec []byte, route *proxy.Compiled, at, rev int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-r.stopped:
		route.Discard()
		return
	default:
	}
	if r.applied >= rev { // applied without it meanwhile
		route.Discard()
		return
	}
	if prev, ok := r.offers[t.Name]; ok {
		prev.route.Discard()
	}
	r.offers[t.Name] = offer{spec: spec, topo: t, route: route, at: at, rev: rev}
}

// takeOffer removes and returns the offer for name.
func (r *Reconciler) takeOffer(name string) (offer, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o, ok := r.offers[name]
	if ok {
		delete(r.offers, name)
	}
	return o, ok
}

// usable reports whether o can be published for the stored spec: the same
// document, compiled after the last alias or truststore change applied.
func (r *Reconciler) usable(o offer, spec []byte) bool {
	return o.at >= r.secretsRev && bytes.Equal(o.spec, spec)
}

// dropOffers discards every offer (the reconciler stops or lists again).
func (r *Reconciler) dropOffers() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, o := range r.offers {
		o.route.Discard()
		delete(r.offers, name)
	}
}
