package assertion

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/providers/internal/match"
)

// Hadoop proxy-user rules, as Knox 2 reads them from identity-assertion
// params:
//
//	hadoop.proxyuser.{caller}.users   users the caller may act as
//	hadoop.proxyuser.{caller}.groups  groups whose members the caller may act as
//	hadoop.proxyuser.{caller}.hosts   addresses the caller may do so from
//	hadoop.proxygroup.{group}.users|groups|hosts  the same for every member of {group}
//
// A request is allowed when the client address is in hosts and the target is
// in users or in one of groups (Hadoop's DefaultImpersonationProvider).
// Rules of the caller itself take precedence over those of its groups.
const (
	proxyUserPrefix  = "hadoop.proxyuser."
	proxyGroupPrefix = "hadoop.proxygroup."
	paramEnabled     = "hadoop.proxyuser.impersonation.enabled"
)

type proxyRule struct {
	users, groups match.Names
	hosts         match.Addrs
	set           [3]bool // users, groups, hosts given
}

type impersonation struct {
	enabled bool
	byUser  map[string]*proxyRule
	byGroup map[string]*proxyRule
	groups  []string // byGroup's keys, sorted: a deterministic order
}

// parseProxyParam reads one hadoop.proxyuser/proxygroup param; ok is false
// when name is not one.
func (im *impersonation) parseProxyParam(name, value string) (ok bool, err error) {
	var rules map[string]*proxyRule
	var rest string
	switch {
	case strings.HasPrefix(name, proxyUserPrefix):
		rules, rest = im.byUser, name[len(proxyUserPrefix):]
	case strings.HasPrefix(name, proxyGroupPrefix):
		rules, rest = im.byGroup, name[len(proxyGroupPrefix):]
	default:
		return false, nil
	}
	i := strings.LastIndexByte(rest, '.')
	if i <= 0 {
		return false, nil
	}
	who, kind := rest[:i], rest[i+1:]
	r := rules[who]
	if r == nil {
		r = &proxyRule{}
	}
	switch kind {
	case "users":
		r.users, err = parseNamesOrNone(name, value)
		r.set[0] = true
	case "groups":
		r.groups, err = parseNamesOrNone(name, value)
		r.set[1] = true
	case "hosts":
		if strings.TrimSpace(value) != "" {
			r.hosts, err = match.ParseAddrs(name, value, false)
		}
		r.set[2] = true
	default:
		return false, nil
	}
	if err != nil {
		return true, err
	}
	rules[who] = r
	return true, nil
}

// parseNamesOrNone is ParseNames where an empty value means nobody (Hadoop's default).
func parseNamesOrNone(param, v string) (match.Names, error) {
	if strings.TrimSpace(v) == "" {
		return match.Names{}, nil
	}
	return match.ParseNames(param, v)
}

func (im *impersonation) finish() error {
	for _, set := range []struct {
		prefix string
		rules  map[string]*proxyRule
	}{{proxyUserPrefix, im.byUser}, {proxyGroupPrefix, im.byGroup}} {
		names := make([]string, 0, len(set.rules))
		for who := range set.rules {
			names = append(names, who)
		}
		slices.Sort(names)
		for _, who := range names {
			r := set.rules[who]
			switch {
			case !r.set[2]:
				return &chain.ParamError{Param: set.prefix + who + ".hosts",
					Reason: "is required (the addresses impersonation is allowed from, * for any)"}
			case !r.set[0] && !r.set[1]:
				return &chain.ParamError{Param: set.prefix + who + ".users",
					Reason: "is required, or " + set.prefix + who + ".groups (whom the rule lets " + who + " act as)"}
			}
		}
		if set.prefix == proxyGroupPrefix {
			im.groups = names
		}
	}
	return nil
}

// verdict of an impersonation request.
type verdict int

const (
	noRules verdict = iota // the caller may not impersonate anyone: the parameter is dropped
	allowed
	refused // the caller is a proxy user, but not for this target or address
)

// check decides whether caller (in callerGroups), from client, may act as
// target, whose groups are targetGroups.
func (im *impersonation) check(caller string, callerGroups []string, target string, targetGroups []string, client netip.Addr) verdict {
	if r := im.byUser[caller]; r != nil {
		return r.allows(target, targetGroups, client)
	}
	v := noRules
	for _, g := range im.groups {
		if !slices.Contains(callerGroups, g) {
			continue
		}
		if im.byGroup[g].allows(target, targetGroups, client) == allowed {
			return allowed
		}
		v = refused
	}
	return v
}

func (r *proxyRule) allows(target string, targetGroups []string, client netip.Addr) verdict {
	if !r.hosts.Contains(client) {
		return refused
	}
	if r.users.Contains(target) || r.groups.ContainsAny(targetGroups) {
		return allowed
	}
	return refused
}
