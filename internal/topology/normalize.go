package topology

import (
	"maps"
	"slices"
	"strings"
)

// Normalize puts t in canonical form, in place; it is idempotent and is
// applied by Parse, topologypb.FromProto and FromCanonicalJSON. It:
//   - strips leading and trailing slashes from service paths ("/echo/" is
//     "echo"); inner empty, "." and ".." segments are left for Validate;
//   - drops enabled: true (the default), empty params, providers and
//     failover_statuses, and empty dispatch and ha sections, and makes nil
//     services and urls empty, so that equal topologies encode equally;
//   - sets dispatch.federate for Knox's HeaderPreAuthFederationDispatch,
//     and when a federation header or secret is given (the header is the
//     gateway's federation.header unless the service names one).
func Normalize(t *Topology) {
	if t == nil {
		return
	}
	if len(t.Providers) == 0 {
		t.Providers = nil
	}
	for i := range t.Providers {
		p := &t.Providers[i]
		if p.Enabled != nil && *p.Enabled {
			p.Enabled = nil
		}
		p.Params = nilIfEmpty(p.Params)
	}
	if t.Services == nil {
		t.Services = []Service{} // services and urls are always written
	}
	for i := range t.Services {
		s := &t.Services[i]
		s.Path = strings.Trim(s.Path, "/")
		if s.URLs == nil {
			s.URLs = []string{}
		}
		s.Params = nilIfEmpty(s.Params)
		if d := s.Dispatch; d != nil {
			if strings.HasSuffix(d.Classname, federationDispatch) || d.FederationHeader != "" || d.FederationSecret != "" {
				d.Federate = true
			}
			if *d == (Dispatch{}) {
				s.Dispatch = nil
			}
		}
		if h := s.HA; h != nil {
			if len(h.FailoverStatuses) == 0 {
				h.FailoverStatuses = nil
			}
			if h.FailoverStatuses == nil && h.MaxFailures == 0 && h.Cooloff == 0 &&
				h.HealthCheckPath == "" && h.HealthCheckInterval == 0 && !h.FailoverOnStandby &&
				h.SafeModeRetries == 0 && h.SafeModeRetrySleep == 0 {
				s.HA = nil
			}
		}
	}
}

func nilIfEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// Clone returns a deep copy of t.
func (t *Topology) Clone() *Topology {
	if t == nil {
		return nil
	}
	c := *t
	c.Providers = slices.Clone(t.Providers)
	for i := range c.Providers {
		p := &c.Providers[i]
		if p.Enabled != nil {
			b := *p.Enabled
			p.Enabled = &b
		}
		p.Params = maps.Clone(p.Params)
	}
	c.Services = slices.Clone(t.Services)
	for i := range c.Services {
		s := &c.Services[i]
		s.URLs = slices.Clone(s.URLs)
		s.Params = maps.Clone(s.Params)
		if s.Dispatch != nil {
			d := *s.Dispatch
			s.Dispatch = &d
		}
		if s.HA != nil {
			h := *s.HA
			h.FailoverStatuses = slices.Clone(h.FailoverStatuses)
			s.HA = &h
		}
	}
	return &c
}
