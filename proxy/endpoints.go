package proxy

import (
	"fmt"
	"maps"
	"strings"

	"github.com/securegw/gateway/proxy/chain"
)

// registerEndpoints makes the gateway-served endpoints of a topology (the
// auth API, and those of the chain's handlers) routes of their own: one
// internal service per first path segment, which no backend service may
// use, holding its endpoints by the rest of their path. It returns those
// internal services' paths, in order.
func (c *Compiled) registerEndpoints(eps []chain.Endpoint) (reserved []string, err error) {
	for i := range eps {
		ep := &eps[i]
		if err := chain.CheckEndpointPath(ep.Path); err != nil {
			return nil, err
		}
		if ep.Handler == nil {
			return nil, fmt.Errorf("endpoint %q: no handler", ep.Path)
		}
		first, rest, nested := strings.Cut(ep.Path, "/")
		if nested {
			rest = "/" + rest
		}
		s := c.services[first]
		if s == nil {
			s = &service{topo: c, path: first, prefix: c.ctxPath + "/" + first, internal: true,
				endpoints: map[string]*chain.Endpoint{}}
			c.services[first] = s
			c.maxDepth = max(c.maxDepth, 1)
			reserved = append(reserved, first)
		}
		if _, dup := s.endpoints[rest]; dup {
			return nil, fmt.Errorf("endpoint %q: registered twice", ep.Path)
		}
		s.endpoints[rest] = ep
	}
	// An internal service holding just the auth API shares its index with
	// every other topology's: one map less per compiled topology.
	for _, first := range reserved {
		s := c.services[first]
		if maps.Equal(s.endpoints, authAPIIndex) {
			s.endpoints = authAPIIndex
		}
	}
	return reserved, nil
}

// endpoint is the gateway-served endpoint an internal service has at rest
// (the canonical path after its prefix), nil when none.
func (s *service) endpoint(rest string) *chain.Endpoint { return s.endpoints[rest] }
