package topology

import (
	"maps"
	"slices"
	"strings"
)

// ProviderID names a provider as a topology writes it: role and name, both
// lower case.
type ProviderID struct{ Role, Name string }

func (p ProviderID) String() string { return p.Role + "/" + p.Name }

// supportedProviders are the providers the gateway implements. The proxy's
// provider registry holds exactly these (a test in proxy/providers checks
// it), so that Validate, offline or on the server, refuses what the proxy
// could not build. Role "custom" holds handlers without a standard place in
// the chain.
var supportedProviders = []ProviderID{
	{"webappsec", "webappsec"},
	{"authentication", "anonymous"},
	{"authentication", "basic"},
	{"authentication", "client-cert"},
	{"authentication", "kerberos"},
	{"authentication", "ldap"},
	{"federation", "client-cert"},
	{"federation", "jwt"},
	{"federation", "sso-cookie"},
	{"federation", "header-preauth"},
	{"identity-assertion", "concat"},
	{"identity-assertion", "default"},
	{"identity-assertion", "hadoop-groups"},
	{"identity-assertion", "regex"},
	{"identity-assertion", "switch-case"},
	{"authorization", "acls"},
	{"hostmap", "static"},
	{"dispatch", "kerberos"},
	{"custom", "deny-methods"},
	{"custom", "header"},
}

// SupportedProviders lists the providers the gateway implements.
func SupportedProviders() []ProviderID { return slices.Clone(supportedProviders) }

// ProviderSupported reports whether the gateway implements the provider;
// role and name are lower case.
func ProviderSupported(role, name string) bool {
	return slices.Contains(supportedProviders, ProviderID{role, name})
}

// supportedNames lists the names supported for role, or the roles when
// role has none.
func supportedNames(role string) (names []string, roleKnown bool) {
	for _, p := range supportedProviders {
		if p.Role == role {
			names = append(names, p.Name)
		}
	}
	if len(names) > 0 {
		return names, true
	}
	for _, p := range supportedProviders {
		if !slices.Contains(names, p.Role) {
			names = append(names, p.Role)
		}
	}
	return names, false
}

// ServiceKind is how the gateway treats a service, decided by its role.
type ServiceKind int

const (
	// ServiceRouted services are proxied to their URLs (every role not
	// listed below, and services without a role).
	ServiceRouted ServiceKind = iota
	// ServiceNotRouted services are kept in the topology for service
	// discovery only, as Knox keeps NAMENODE and JOBTRACKER: their URLs are
	// RPC endpoints (hdfs://, rpc://) and a request to their path answers
	// 404.
	ServiceNotRouted
	// ServiceUnsupported services are served by Knox itself (its admin API,
	// SSO, token and session endpoints): the gateway has no equivalent yet.
	ServiceUnsupported
	// ServiceGateway services are served by the gateway itself, with no
	// backend: the token API (KNOXTOKEN), the SSO login and logout pages
	// (KNOXSSO, KNOXSSOUT). Their params configure them.
	ServiceGateway
)

// specialServiceRoles are the service roles that are not routed to their
// URLs. Roles compare case-insensitively.
var specialServiceRoles = map[string]ServiceKind{
	"NAMENODE":     ServiceNotRouted,
	"JOBTRACKER":   ServiceNotRouted,
	"KNOX":         ServiceUnsupported,
	"KNOXSSO":      ServiceGateway,
	"KNOXSSOUT":    ServiceGateway,
	"KNOXTOKEN":    ServiceGateway,
	"KNOX-SESSION": ServiceUnsupported,
}

// ServiceRoleKind tells how the gateway treats a service of role.
func ServiceRoleKind(role string) ServiceKind {
	return specialServiceRoles[strings.ToUpper(role)]
}

// Limits the proxy relies on; Validate enforces them.
const (
	// MaxServiceDepth is the most segments a service path may have.
	MaxServiceDepth = 16
	// MaxServiceURLs is the most backend URLs of one service.
	MaxServiceURLs = 64
	// ReservedPath is the first path segment no service may use: the
	// gateway answers its own API under /gateway/{topology}/auth/.
	ReservedPath = "auth"
)

// ServerChecks lists what Validate cannot check without the server, for a
// caller validating offline to say so: that the aliases and truststores t
// refers to exist, and that each provider accepts its parameters' values.
func ServerChecks(t *Topology) []string {
	if t == nil {
		return nil
	}
	var out []string
	if refs := AliasRefs(t); len(refs) > 0 {
		out = append(out, "aliases exist: "+strings.Join(refs, ", "))
	}
	var stores []string
	for _, p := range t.Providers {
		for _, k := range slices.Sorted(maps.Keys(p.Params)) {
			if v := strings.TrimSpace(p.Params[k]); strings.HasSuffix(k, "truststore") && v != "" && !slices.Contains(stores, v) {
				stores = append(stores, v)
			}
		}
	}
	for _, s := range t.Services {
		if s.Dispatch != nil && s.Dispatch.Truststore != "" && !slices.Contains(stores, s.Dispatch.Truststore) {
			stores = append(stores, s.Dispatch.Truststore)
		}
	}
	if len(stores) > 0 {
		out = append(out, "truststores exist: "+strings.Join(stores, ", "))
	}
	var provs []string
	for _, p := range t.Providers {
		if p.IsEnabled() && len(p.Params) > 0 {
			provs = append(provs, p.Role+"/"+p.Name)
		}
	}
	if len(provs) > 0 {
		out = append(out, "provider parameters are accepted by their provider: "+strings.Join(provs, ", "))
	}
	return out
}
