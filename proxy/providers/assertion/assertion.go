package assertion

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/identity"
	"github.com/securegw/gateway/proxy/providers/internal/match"
	"github.com/securegw/gateway/proxy/route"
)

// The identity-assertion providers: Knox's names, lower-cased as
// internal/topology/knox.go maps them.
const (
	Default      = "default"       // Knox Default (and Pseudo)
	Concat       = "concat"        // Knox Concat
	Regex        = "regex"         // Knox Regex
	SwitchCase   = "switch-case"   // Knox SwitchCase
	HadoopGroups = "hadoop-groups" // Knox HadoopGroupProvider, static mapping only
)

func init() {
	for _, name := range []string{Default, Concat, Regex, SwitchCase, HadoopGroups} {
		chain.Register(chain.Factory{Name: name, Role: chain.RoleIdentityAssertion, New: newFactory(name)})
	}
}

// Params every variant accepts (besides hadoop.proxyuser.* and hadoop.proxygroup.*).
var commonParams = []chain.Param{chain.P("principal.mapping"), chain.P("group.principal.mapping"), chain.P(paramEnabled),
	chain.P("header"), chain.P("groups_header"), chain.P("query_param")}

// Params of one variant.
var variantParams = map[string][]chain.Param{
	Default:      nil,
	Concat:       {chain.P("concat.prefix"), chain.P("concat.suffix")},
	Regex:        {chain.P("input"), chain.P("output"), chain.P("lookup"), chain.P("use.original.on.lookup.failure")},
	SwitchCase:   {chain.P("principal.case"), chain.P("group.principal.case")},
	HadoopGroups: {chain.P("hadoop.user.group.static.mapping.overrides")},
}

// maxTargetLen bounds a doAs value.
const maxTargetLen = 256

// asserter is one identity-assertion handler.
type asserter struct {
	log          *slog.Logger
	principal    principalMapping
	hasPrincipal bool
	groups       groupMapping
	transform    func(string) string // concat, regex, switch-case; nil: none
	groupCase    func(string) string // switch-case; nil: none
	imp          impersonation
	header       string // asserted user to the backend
	groupsHeader string // asserted groups to the backend (comma-separated)
	queryParam   string // doAs or user.name, set to the asserted user
}

// withGroups is an asserter whose static group mapping is a group source
// for the management plane's group lookup.
type withGroups struct{ *asserter }

var (
	_ chain.Inbound         = (*asserter)(nil)
	_ chain.Outbound        = (*asserter)(nil)
	_ chain.IdentityHeaders = (*asserter)(nil)
	_ chain.GroupLookup     = withGroups{}
)

func newFactory(variant string) func(context.Context, chain.Config) (chain.Handler, error) {
	return func(_ context.Context, c chain.Config) (chain.Handler, error) {
		a, err := parse(variant, c)
		if err != nil {
			return nil, err
		}
		if !a.groups.empty() {
			return withGroups{a}, nil
		}
		return a, nil
	}
}

func parse(variant string, c chain.Config) (*asserter, error) {
	a := &asserter{
		log: c.Logger,
		imp: impersonation{enabled: true, byUser: map[string]*proxyRule{}, byGroup: map[string]*proxyRule{}},
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	for k := range c.Params {
		if strings.HasPrefix(k, "hadoop.security.group.mapping") || k == "CENTRAL_GROUP_CONFIG_PREFIX" {
			return nil, &chain.ParamError{Param: k, Reason: "Hadoop group mapping services are not available: use hadoop.user.group.static.mapping.overrides, or an ldap provider's group lookup"}
		}
	}
	p, err := c.Read(append(slices.Clone(commonParams), variantParams[variant]...),
		chain.Prefix(proxyUserPrefix), chain.Prefix(proxyGroupPrefix))
	if err != nil {
		return nil, err
	}
	for _, k := range p.Dynamic("hadoop.proxy") {
		v, _ := p.Raw(k)
		ok, err := a.imp.parseProxyParam(k, v)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, &chain.ParamError{Param: k, Reason: "is not a parameter of this provider"}
		}
	}
	if err := a.imp.finish(); err != nil {
		return nil, err
	}
	if a.imp.enabled, err = p.Bool(paramEnabled, true); err != nil {
		return nil, err
	}
	if v, ok := p.Raw("principal.mapping"); ok {
		if a.principal, err = parsePrincipalMapping("principal.mapping", v); err != nil {
			return nil, err
		}
		a.hasPrincipal = true
	}
	if v, ok := p.Raw("group.principal.mapping"); ok {
		if err := a.groups.parse("group.principal.mapping", v, false); err != nil {
			return nil, err
		}
	}
	if err := a.parseVariant(variant, p); err != nil {
		return nil, err
	}
	for _, h := range []struct {
		param string
		dst   *string
	}{{"header", &a.header}, {"groups_header", &a.groupsHeader}} {
		if v, ok := p.Raw(h.param); ok {
			if *h.dst, err = chain.HeaderName(h.param, v); err != nil {
				return nil, err
			}
		}
	}
	if a.header != "" && strings.EqualFold(a.header, a.groupsHeader) {
		return nil, &chain.ParamError{Param: "groups_header", Reason: "must differ from header"}
	}
	if v, ok := p.Raw("query_param"); ok {
		if !identity.IsImpersonationParam(v) || strings.ContainsAny(v, "%+") {
			return nil, &chain.ParamError{Param: "query_param", Reason: `must be "doAs" or "user.name"`}
		}
		a.queryParam = v
	}
	return a, nil
}

func (a *asserter) parseVariant(variant string, p *chain.Reader) error {
	// A required param is taken as given (a regex, a template): not trimmed.
	required := func(name string) (string, error) {
		if v, _ := p.Raw(name); v != "" {
			return v, nil
		}
		return "", p.Errorf(name, "is required")
	}
	switch variant {
	case Concat:
		prefix, _ := p.Raw("concat.prefix")
		suffix, _ := p.Raw("concat.suffix")
		if match.HasControl(prefix + suffix) {
			return &chain.ParamError{Param: "concat.prefix", Reason: "control characters in concat.prefix or concat.suffix"}
		}
		if prefix != "" || suffix != "" {
			a.transform = func(n string) string { return prefix + n + suffix }
		}
	case Regex:
		input, err := required("input")
		if err != nil {
			return err
		}
		output, err := required("output")
		if err != nil {
			return err
		}
		keep, err := p.Bool("use.original.on.lookup.failure", false)
		if err != nil {
			return err
		}
		lookup, _ := p.Raw("lookup")
		t, err := parseRegexTemplate(input, output, lookup, keep)
		if err != nil {
			return err
		}
		a.transform = t.apply
	case SwitchCase:
		pc, ok := p.Raw("principal.case")
		if !ok {
			pc = "lower" // Knox's default
		}
		f, err := caseFunc("principal.case", pc)
		if err != nil {
			return err
		}
		a.transform, a.groupCase = f, f
		if gc, ok := p.Raw("group.principal.case"); ok {
			if a.groupCase, err = caseFunc("group.principal.case", gc); err != nil {
				return err
			}
		}
	case HadoopGroups:
		v, err := required("hadoop.user.group.static.mapping.overrides")
		if err != nil {
			return err
		}
		if err := a.groups.parse("hadoop.user.group.static.mapping.overrides", v, true); err != nil {
			return err
		}
	}
	return nil
}

// IdentityHeaders: the client's copies of the headers this handler sets
// never reach the backend.
func (a *asserter) IdentityHeaders() []string {
	var out []string
	for _, h := range []string{a.header, a.groupsHeader} {
		if h != "" {
			out = append(out, h)
		}
	}
	return out
}

// ServeInbound applies impersonation, then principal mapping, then the
// variant's mapping, then group mapping, and carries the result in a new
// principal (the request is returned unchanged when nothing applies).
func (a *asserter) ServeInbound(w http.ResponseWriter, r *http.Request) *http.Request {
	pr, ok := identity.FromContext(r.Context())
	if !ok {
		chain.WriteError(w, http.StatusUnauthorized, "unauthenticated")
		return nil
	}
	name, groups := pr.Name, pr.Groups
	changed := false
	if r.URL.RawQuery != "" {
		target, status, msg := a.impersonate(r, pr)
		if status != 0 {
			chain.WriteError(w, status, msg)
			return nil
		}
		if target != "" {
			name, groups, changed = target, nil, true
		}
	}
	if a.hasPrincipal {
		if m := a.principal.apply(name); m != name {
			name, changed = m, true
		}
	}
	if a.transform != nil {
		if m := a.transform(name); m != name {
			name, changed = m, true
		}
	}
	if name == "" || match.HasControl(name) {
		a.log.Warn("identity assertion: the mapped principal is empty or has control characters", "authenticated", pr.Name)
		chain.WriteError(w, http.StatusForbidden, "identity assertion produced no usable principal")
		return nil
	}
	if ng, gchanged := a.mapGroups(name, groups); gchanged {
		groups, changed = ng, true
	}
	if !changed {
		return r
	}
	authAs := pr.AuthenticatedAs
	if authAs == "" {
		authAs = pr.Name
	}
	np := *pr // what the authentication established (consumed credentials, …) is kept
	np.Name, np.Groups, np.AuthenticatedAs = name, groups, authAs
	return identity.WithPrincipal(r, &np)
}

// mapGroups returns groups plus the groups mapped to name, with the group
// case applied; changed is false (and groups returned as is) when that is
// groups itself.
func (a *asserter) mapGroups(name string, groups []string) ([]string, bool) {
	own, all := a.groups.of(name)
	changed := false
	if len(own)+len(all) > 0 {
		out := slices.Clip(groups)
		out = appendNew(out, own...)
		out = appendNew(out, all...)
		changed = len(out) != len(groups)
		groups = out
	}
	if a.groupCase != nil {
		for i, g := range groups {
			if c := a.groupCase(g); c != g {
				if !changed {
					groups, changed = slices.Clone(groups), true
				}
				groups[i] = c
			}
		}
	}
	return groups, changed
}

// impersonate reads the client's doAs/user.name parameters. It returns the
// user to act as ("" for none), or a status and message to answer with.
func (a *asserter) impersonate(r *http.Request, pr *identity.Principal) (target string, status int, msg string) {
	conflict, bad := false, false
	identity.ImpersonationValues(r.URL.RawQuery, func(_, v string) {
		switch {
		case v == "" || v == pr.Name:
			// empty, or the caller itself: nothing to impersonate
		case len(v) > maxTargetLen || match.HasControl(v):
			bad = true
		case target == "":
			target = v
		case v != target:
			conflict = true
		}
	})
	switch {
	case bad:
		return "", http.StatusBadRequest, "invalid doAs or user.name parameter"
	case conflict:
		return "", http.StatusBadRequest, "conflicting doAs or user.name parameters"
	case target == "":
		return "", 0, ""
	}
	var client netip.Addr // invalid unless routed: matches no hosts rule but *
	if info, ok := route.FromContext(r.Context()); ok {
		client = info.Client
	}
	if !a.imp.enabled {
		a.log.Warn("identity assertion: impersonation is disabled; doAs/user.name removed",
			"caller", pr.Name, "requested", target, "client", client.String())
		return "", 0, ""
	}
	own, all := a.groups.of(target)
	targetGroups := appendNew(slices.Clip(own), all...)
	switch a.imp.check(pr.Name, pr.Groups, target, targetGroups, client) {
	case allowed:
		a.log.Info("identity assertion: impersonation", "caller", pr.Name, "as", target, "client", client.String())
		return target, 0, ""
	case refused:
		a.log.Warn("identity assertion: impersonation refused", "caller", pr.Name, "requested", target, "client", client.String())
		return "", http.StatusForbidden, "impersonation of the requested user is not allowed"
	default:
		a.log.Warn("identity assertion: doAs/user.name from a caller without proxy-user rules removed",
			"caller", pr.Name, "requested", target, "client", client.String())
		return "", 0, ""
	}
}

// RewriteOutbound asserts the principal to the backend as configured.
func (a *asserter) RewriteOutbound(out, in *http.Request) {
	pr, ok := identity.FromContext(in.Context())
	if !ok {
		return
	}
	if a.header != "" {
		out.Header[a.header] = []string{pr.Name}
	}
	if a.groupsHeader != "" && len(pr.Groups) > 0 {
		out.Header[a.groupsHeader] = []string{strings.Join(pr.Groups, ",")}
	}
	if a.queryParam != "" {
		sep := "&"
		if out.URL.RawQuery == "" {
			sep = ""
		}
		out.URL.RawQuery = out.URL.RawQuery + sep + a.queryParam + "=" + url.QueryEscape(pr.Name) // one allocation
	}
}

// LookupGroups returns the groups the static mapping gives user (as the
// asserted principal's name), for the group lookup API.
func (g withGroups) LookupGroups(_ context.Context, user string) ([]string, error) {
	out, _ := g.mapGroups(user, nil)
	return slices.Clone(out), nil
}
