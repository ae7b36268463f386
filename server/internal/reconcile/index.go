package reconcile

import (
	"strings"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/store"
)

// ref names a secret a topology may use: an alias or a truststore.
type ref struct{ kind, name string }

// index maps each alias and truststore name to the stored topologies that
// use it, those that do not compile included (a new alias may fix them).
type index struct {
	users map[ref]map[string]struct{}
	refs  map[string][]ref // topology → what it uses
}

func newIndex() index {
	return index{users: map[ref]map[string]struct{}{}, refs: map[string][]ref{}}
}

// set records what t uses, replacing what its previous version used.
func (x index) set(t *topology.Topology) {
	x.remove(t.Name)
	var refs []ref
	seen := map[ref]bool{}
	add := func(r ref) {
		if !seen[r] {
			seen[r] = true
			refs = append(refs, r)
		}
	}
	// Candidates over-approximate; topology's own rules decide.
	for _, name := range aliasCandidates(t) {
		if t.UsesAlias(name) {
			add(ref{store.KindAlias, name})
		}
	}
	for _, s := range t.Services {
		if s.Dispatch != nil && s.Dispatch.Truststore != "" && t.UsesTruststore(s.Dispatch.Truststore) {
			add(ref{store.KindTruststore, s.Dispatch.Truststore})
		}
	}
	for _, r := range refs {
		m := x.users[r]
		if m == nil {
			m = map[string]struct{}{}
			x.users[r] = m
		}
		m[t.Name] = struct{}{}
	}
	if len(refs) > 0 {
		x.refs[t.Name] = refs
	}
}

// remove forgets a topology.
func (x index) remove(name string) {
	for _, r := range x.refs[name] {
		delete(x.users[r], name)
		if len(x.users[r]) == 0 {
			delete(x.users, r)
		}
	}
	delete(x.refs, name)
}

// usersOf returns the topologies that use r.
func (x index) usersOf(r ref) []string {
	return sorted(x.users[r])
}

// aliasUsers returns the topologies that resolve the alias a: every user of
// its name for a gateway-scope alias, the topology itself for a topology's
// own alias.
func (x index) aliasUsers(a aliasRef) []string {
	m := x.users[ref{store.KindAlias, a.name}]
	if a.topology == "" {
		return sorted(m)
	}
	if _, ok := m[a.topology]; ok {
		return []string{a.topology}
	}
	return nil
}

// aliasCandidates lists every string of t that may name an alias: the
// ${alias:…} references and the provider param values.
func aliasCandidates(t *topology.Topology) []string {
	out := topology.AliasRefs(t)
	for _, p := range t.Providers {
		for _, v := range p.Params {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

// aliasRef is an alias of one scope: topology "" is the gateway scope.
type aliasRef struct{ topology, name string }

// gatewayAliasScope is the gateway scope in alias store keys; a topology's
// aliases are kept under its name ("SCOPE/NAME", see secretsvc).
const gatewayAliasScope = "@gateway"

// parseAliasKey reads an alias store key.
func parseAliasKey(key string) (aliasRef, bool) {
	scope, name, ok := strings.Cut(key, "/")
	if !ok || scope == "" || name == "" {
		return aliasRef{}, false
	}
	if scope == gatewayAliasScope {
		scope = ""
	}
	return aliasRef{topology: scope, name: name}, true
}
