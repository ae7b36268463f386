package route

import (
	"context"
	"net/netip"
	"strings"
)

// Info is what the router decided about one request.
type Info struct {
	// Topology is the topology's name.
	Topology string
	// Service is the matched service's path ("webhdfs", "a/b"); "auth" for
	// the gateway's own auth API (/gateway/{t}/auth/api/v1/…).
	Service string
	// Role is the service's role in the topology ("WEBHDFS"), "" when it has none.
	Role string
	// Peer is the TCP peer's address (invalid when RemoteAddr is not an
	// IP:port, e.g. a test request).
	Peer netip.Addr
	// Client is the request's source address: Peer, or taken from
	// X-Forwarded-For when Peer is a trusted proxy. Invalid when it cannot
	// be known; an invalid address matches no IP rule.
	Client netip.Addr
	// ViaTrustedProxy reports that Peer is a trusted proxy.
	ViaTrustedProxy bool
}

type ctxKey struct{}

// NewContext returns a copy of ctx carrying info.
func NewContext(ctx context.Context, info *Info) context.Context {
	return context.WithValue(ctx, ctxKey{}, info)
}

// IsContextKey reports whether key is the one route information is
// carried under: a context type of the proxy's own may answer Value for it
// with its *Info instead of wrapping itself in NewContext (one allocation
// less per request).
func IsContextKey(key any) bool {
	_, ok := key.(ctxKey)
	return ok
}

// FromContext returns the route information carried by ctx, if any.
func FromContext(ctx context.Context) (*Info, bool) {
	i, ok := ctx.Value(ctxKey{}).(*Info)
	return i, ok && i != nil
}

// SourceAddr returns the peer's address (remoteAddr, "ip:port") and the
// client's: the peer itself unless trusted(peer); then the right-most
// address of the X-Forwarded-For values xff that trusted does not accept,
// or the left-most one when every hop is trusted. Addresses are unmapped
// (::ffff:10.0.0.1 is 10.0.0.1). It does not allocate.
func SourceAddr(remoteAddr string, xff []string, trusted func(netip.Addr) bool) (peer, client netip.Addr, viaProxy bool) {
	peer = parseAddr(remoteAddr)
	if !peer.IsValid() || !trusted(peer) {
		return peer, peer, false
	}
	client = peer
	for i := len(xff) - 1; i >= 0; i-- {
		v := xff[i]
		for v != "" {
			var tok string
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				tok, v = v[j+1:], v[:j]
			} else {
				tok, v = v, ""
			}
			tok = strings.TrimSpace(tok)
			if tok == "" {
				continue
			}
			a := parseAddr(tok)
			if !a.IsValid() {
				return peer, netip.Addr{}, true
			}
			client = a
			if !trusted(a) {
				return peer, client, true
			}
		}
	}
	return peer, client, true
}

// parseAddr parses "ip", "ip:port", "[ipv6]" or "[ipv6]:port"; zones are
// refused. The common forms are parsed without a failed attempt (an error
// allocates).
func parseAddr(s string) netip.Addr {
	var a netip.Addr
	var err error
	switch {
	case strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]"):
		a, err = netip.ParseAddr(s[1 : len(s)-1])
	case strings.HasPrefix(s, "["), strings.Count(s, ":") == 1:
		var ap netip.AddrPort
		ap, err = netip.ParseAddrPort(s)
		a = ap.Addr()
	default:
		a, err = netip.ParseAddr(s)
	}
	if err != nil || a.Zone() != "" {
		return netip.Addr{}
	}
	return a.Unmap()
}
