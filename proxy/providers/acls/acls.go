package acls

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/identity"
	"github.com/securegw/gateway/proxy/providers/internal/match"
	"github.com/securegw/gateway/proxy/route"
)

// Name is the provider's name (Knox's AclsAuthz, as knox.go maps it).
const Name = "acls"

func init() {
	chain.Register(chain.Factory{Name: Name, Role: chain.RoleAuthorization, New: newACLs})
}

type mode int

const (
	modeAND mode = iota
	modeOR
)

// acl is the ACL of one service: users;groups;ips.
type acl struct {
	service string // as written in the param name, before ".acl"
	users   match.Names
	groups  match.Names
	ips     match.Addrs
	mode    mode
}

// handler authorizes requests by the ACL of their service.
type handler struct {
	acls        []*acl // sorted by service
	defaultDeny bool
}

var (
	_ chain.Inbound        = (*handler)(nil)
	_ chain.ServiceChecker = (*handler)(nil)
)

func newACLs(_ context.Context, c chain.Config) (chain.Handler, error) {
	p, err := c.Read([]chain.Param{chain.P("acl.mode"), chain.P("default")}, chain.Suffix(".acl"), chain.Suffix(".acl.mode"))
	if err != nil {
		return nil, err
	}
	h := &handler{}
	defMode := modeAND
	if v, ok := p.Raw("acl.mode"); ok {
		m, err := parseMode("acl.mode", v)
		if err != nil {
			return nil, err
		}
		defMode = m
	}
	if v, ok := p.Raw("default"); ok {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "allow":
		case "deny":
			h.defaultDeny = true
		default:
			return nil, p.Errorf("default", "%q: must be allow or deny", v)
		}
	}
	var modes [][2]string // service, its .acl.mode value: in param order
	for _, k := range p.Dynamic("") {
		v, _ := p.Raw(k)
		if strings.HasSuffix(k, ".acl.mode") {
			modes = append(modes, [2]string{strings.TrimSuffix(k, ".acl.mode"), v})
			continue
		}
		a, err := parseACL(k, v)
		if err != nil {
			return nil, err
		}
		a.service, a.mode = strings.TrimSuffix(k, ".acl"), defMode
		if prev := h.find(a.service, ""); prev != nil {
			return nil, &chain.ParamError{Param: k, Reason: "repeats " + prev.service + ".acl (service names are case-insensitive)"}
		}
		h.acls = append(h.acls, a)
	}
	for _, sv := range modes {
		svc, v := sv[0], sv[1]
		a := h.find(svc, "")
		if a == nil {
			return nil, &chain.ParamError{Param: svc + ".acl.mode", Reason: "there is no " + svc + ".acl"}
		}
		m, err := parseMode(svc+".acl.mode", v)
		if err != nil {
			return nil, err
		}
		a.mode = m
	}
	for _, a := range h.acls {
		if a.mode == modeOR && a.users.Any && a.groups.Any && a.ips.Any {
			// Knox reads * as "no condition" in OR mode: *;*;* would let nobody in.
			return nil, &chain.ParamError{Param: a.service + ".acl", Reason: "*;*;* in OR mode allows nobody: name users, groups or addresses, or use AND mode"}
		}
	}
	return h, nil
}

func parseMode(param, v string) (mode, error) {
	switch strings.ToUpper(strings.TrimSpace(v)) {
	case "AND":
		return modeAND, nil
	case "OR":
		return modeOR, nil
	}
	return 0, &chain.ParamError{Param: param, Reason: fmt.Sprintf("%q: must be AND or OR", v)}
}

// parseACL parses "users;groups;ips".
func parseACL(param, v string) (*acl, error) {
	parts := strings.Split(v, ";")
	if len(parts) != 3 {
		return nil, &chain.ParamError{Param: param, Reason: "must be users;groups;ips (three ;-separated lists, * for any)"}
	}
	a := &acl{}
	var err error
	if a.users, err = match.ParseNames(param, parts[0]); err != nil {
		return nil, err
	}
	if a.groups, err = match.ParseNames(param, parts[1]); err != nil {
		return nil, err
	}
	if a.ips, err = match.ParseAddrs(param, parts[2], true); err != nil {
		return nil, err
	}
	return a, nil
}

// CheckServices refuses an ACL that names no service of the topology (a
// typo would otherwise leave the service it meant unprotected).
func (h *handler) CheckServices(services []chain.Service) error {
	for _, a := range h.acls {
		found := false
		for _, s := range services {
			found = found || strings.EqualFold(a.service, s.Path) || s.Role != "" && strings.EqualFold(a.service, s.Role)
		}
		if !found {
			return &chain.ParamError{Param: a.service + ".acl", Reason: fmt.Sprintf("no service of the topology has the path or role %q", a.service)}
		}
	}
	return nil
}

// find returns the ACL of the service with path (matched first) or role,
// compared case-insensitively, or nil.
func (h *handler) find(path, role string) *acl {
	for _, a := range h.acls {
		if strings.EqualFold(a.service, path) {
			return a
		}
	}
	if role == "" {
		return nil
	}
	for _, a := range h.acls {
		if strings.EqualFold(a.service, role) {
			return a
		}
	}
	return nil
}

func (h *handler) ServeInbound(w http.ResponseWriter, r *http.Request) *http.Request {
	info, ok := route.FromContext(r.Context())
	if !ok {
		chain.WriteError(w, http.StatusForbidden, "access denied: the request has no service")
		return nil
	}
	a := h.find(info.Service, info.Role)
	if a == nil && !h.defaultDeny {
		return r
	}
	pr, ok := identity.FromContext(r.Context())
	if !ok {
		chain.WriteError(w, http.StatusUnauthorized, "unauthenticated")
		return nil
	}
	if a != nil && a.allows(pr, info.Client) {
		return r
	}
	chain.WriteError(w, http.StatusForbidden, "access denied: user "+pr.Name+" is not allowed to use service "+info.Service)
	return nil
}

// allows applies Knox's semantics: AND needs every part to match ("*"
// matches all); OR needs one part to match, a "*" part counting as no match.
func (a *acl) allows(pr *identity.Principal, client netip.Addr) bool {
	if a.mode == modeAND {
		return a.users.Contains(pr.Name) && a.groups.ContainsAny(pr.Groups) && a.ips.Contains(client)
	}
	return !a.users.Any && a.users.Contains(pr.Name) ||
		!a.groups.Any && a.groups.ContainsAny(pr.Groups) ||
		!a.ips.Any && a.ips.Contains(client)
}
