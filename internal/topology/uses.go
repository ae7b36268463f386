package topology

import (
	"slices"
	"strings"
)

// UsesAlias reports whether t references the alias name: as ${alias:NAME}
// in a param value, as a service's client certificate, or as the value of a
// provider param whose key names an alias (such as ldap's ca_alias).
func (t *Topology) UsesAlias(name string) bool {
	if slices.Contains(AliasRefs(t), name) {
		return true
	}
	for _, p := range t.Providers {
		for k, v := range p.Params {
			if strings.TrimSpace(v) == name && strings.HasSuffix(k, "alias") {
				return true
			}
		}
	}
	return false
}

// UsesTruststore reports whether a service of t verifies its backend with
// the named truststore, or a provider verifies client certificates with it
// (a param whose key ends in "truststore", such as header-preauth's).
func (t *Topology) UsesTruststore(name string) bool {
	for _, p := range t.Providers {
		for k, v := range p.Params {
			if strings.TrimSpace(v) == name && strings.HasSuffix(k, "truststore") {
				return true
			}
		}
	}
	for _, s := range t.Services {
		if s.Dispatch != nil && s.Dispatch.Truststore == name {
			return true
		}
	}
	return false
}
