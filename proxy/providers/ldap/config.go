package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/securegw/gateway/proxy/chain"
)

// Defaults.
const (
	DefaultUserSearchFilter = "(&(objectClass=person)(uid={0}))"
	DefaultTimeout          = 5 * time.Second
	DefaultPoolSize         = 4
	DefaultCacheTTL         = 60 * time.Second

	defaultUserObjectClass  = "person"
	defaultGroupObjectClass = "groupOfNames"
	defaultMemberAttribute  = "member"
	defaultGroupName        = "cn"
)

// Limits on params.
const (
	maxTimeout  = 5 * time.Minute
	maxPoolSize = 64
	maxCacheTTL = 24 * time.Hour
)

// param is one setting: our short name and, when Knox has one, the name
// Knox's ShiroProvider (KnoxLdapRealm) gives it.
type param struct{ name, knox string }

var (
	pURL                = param{"url", "main.ldapRealm.contextFactory.url"}
	pUserDNTemplate     = param{"user_dn_template", "main.ldapRealm.userDnTemplate"}
	pBindDN             = param{"bind_dn", "main.ldapRealm.contextFactory.systemUsername"}
	pBindPassword       = param{"bind_password", "main.ldapRealm.contextFactory.systemPassword"}
	pAllowPlaintext     = param{"allow_plaintext_bind_password", ""}
	pSearchBase         = param{"search_base", "main.ldapRealm.searchBase"}
	pUserSearchBase     = param{"user_search_base", "main.ldapRealm.userSearchBase"}
	pUserSearchFilter   = param{"user_search_filter", "main.ldapRealm.userSearchFilter"}
	pUserSearchAttr     = param{"user_search_attribute", "main.ldapRealm.userSearchAttributeName"}
	pUserObjectClass    = param{"user_object_class", "main.ldapRealm.userObjectClass"}
	pLookupGroups       = param{"lookup_groups", "main.ldapRealm.authorizationEnabled"}
	pGroupSearchBase    = param{"group_search_base", "main.ldapRealm.groupSearchBase"}
	pGroupFilter        = param{"group_filter", "main.ldapRealm.groupSearchFilter"}
	pGroupObjectClass   = param{"group_object_class", "main.ldapRealm.groupObjectClass"}
	pMemberAttribute    = param{"member_attribute", "main.ldapRealm.memberAttribute"}
	pMemberTemplate     = param{"member_value_template", "main.ldapRealm.memberAttributeValueTemplate"}
	pGroupNameAttribute = param{"group_name_attribute", "main.ldapRealm.groupIdAttribute"}
	pMemberOfAttribute  = param{"member_of_attribute", ""}
	pStartTLS           = param{"start_tls", ""}
	pCAAlias            = param{"ca_alias", ""}
	pTruststore         = param{"truststore", ""}
	pTimeout            = param{"timeout", ""}
	pPoolSize           = param{"pool_size", ""}
	pCacheTTL           = param{"cache_ttl", ""}
	pCaching            = param{"", "main.ldapRealm.authenticationCachingEnabled"}
	pRealm              = param{"realm", ""}

	allParams = []param{
		pURL, pUserDNTemplate, pBindDN, pBindPassword, pAllowPlaintext, pSearchBase,
		pUserSearchBase, pUserSearchFilter, pUserSearchAttr, pUserObjectClass, pLookupGroups,
		pGroupSearchBase, pGroupFilter, pGroupObjectClass, pMemberAttribute, pMemberTemplate,
		pGroupNameAttribute, pMemberOfAttribute, pStartTLS, pCAAlias, pTruststore, pTimeout,
		pPoolSize, pCacheTTL, pCaching, pRealm,
	}
)

// knoxPlumbing are Knox ShiroProvider params that wire Shiro's classes
// together. They carry no setting of ours; where a value would ask for
// something else than an LDAP realm with simple binds over HTTP Basic, it
// is refused rather than silently ignored. An empty list accepts any value.
var knoxPlumbing = map[string][]string{
	"main.ldapRealm": {
		"org.apache.knox.gateway.shirorealm.KnoxLdapRealm",
		"org.apache.hadoop.gateway.shirorealm.KnoxLdapRealm",
		"org.apache.shiro.realm.ldap.JndiLdapRealm",
	},
	"main.ldapContextFactory": {
		"org.apache.knox.gateway.shirorealm.KnoxLdapContextFactory",
		"org.apache.hadoop.gateway.shirorealm.KnoxLdapContextFactory",
		"org.apache.shiro.realm.ldap.JndiLdapContextFactory",
	},
	"main.ldapRealm.contextFactory":                               {"$ldapContextFactory"},
	"main.ldapRealm.contextFactory.authenticationMechanism":       {"simple"},
	"main.ldapRealm.contextFactory.systemAuthenticationMechanism": {"simple"},
	"urls./**":                            {"authcBasic"},
	"sessionTimeout":                      nil, // we keep no server-side session
	"main.cacheManager":                   nil, // caching is cache_ttl
	"main.securityManager.cacheManager":   nil,
	"main.securityManager.sessionManager": nil,
	"main.securityManager.sessionManager.sessionIdCookieEnabled": nil,
	"main.ldapRealm.contextFactory.clusterName":                  nil,
}

// config is the compiled, validated configuration.
type config struct {
	url       *url.URL
	tls       *tls.Config // nil for plain ldap:// without StartTLS
	startTLS  bool
	timeout   time.Duration
	poolSize  int
	cacheTTL  time.Duration
	realm     string
	plaintext bool // the bind password was given in plain text

	// Exactly one of userDNTemplate and userSearchFilter is set.
	userDNTemplate   string
	userSearchBase   string
	userSearchFilter string
	// nameAttribute holds the user's name in its entry ("uid"): the
	// principal is its stored value, not the spelling typed at login.
	// Empty when the template or filter does not say.
	nameAttribute string

	bindDN, bindPassword string

	// Groups: by search when groupFilter is set, by the user's memberOf
	// values when memberOfAttribute is set; neither when both are empty.
	groupSearchBase    string
	groupFilter        string
	memberTemplate     string
	groupNameAttribute string
	memberOfAttribute  string
}

func (c *config) searchMode() bool  { return c.userSearchFilter != "" }
func (c *config) hasService() bool  { return c.bindDN != "" }
func (c *config) groupsOn() bool    { return c.groupFilter != "" || c.memberOfAttribute != "" }
func (c *config) encrypted() bool   { return c.tls != nil }
func (c *config) plaintextOK() bool { return isLoopback(c.url.Hostname()) }

// params reads a provider's params with the shared reader (chain.Reader):
// our names and Knox's, unknown params refused all at once, a setting given
// under both names refused. Values are trimmed.
type params struct {
	c chain.Config
	r *chain.Reader
}

// key is the name the shared reader knows q by: ours, else Knox's.
func (q param) key() string {
	if q.name != "" {
		return q.name
	}
	return q.knox
}

func readParams(c chain.Config) (*params, error) {
	known := make([]chain.Param, 0, len(allParams)+len(knoxPlumbing))
	for _, q := range allParams {
		if q.name != "" && q.knox != "" {
			known = append(known, chain.P(q.name, q.knox))
		} else {
			known = append(known, chain.P(q.key()))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(knoxPlumbing)) {
		known = append(known, chain.P(k))
	}
	r, err := c.Read(known)
	if err != nil {
		return nil, err
	}
	for _, k := range slices.Sorted(maps.Keys(knoxPlumbing)) {
		v, ok := r.Raw(k)
		if allowed := knoxPlumbing[k]; ok && len(allowed) > 0 && !containsFold(allowed, strings.TrimSpace(v)) {
			return nil, r.Errorf(k, "only %s is supported", strings.Join(allowed, ", "))
		}
	}
	return &params{c: c, r: r}, nil
}

func (p *params) has(q param) bool { return p.r.Has(q.key()) }

// name is the name q was given under, or its short name.
func (p *params) name(q param) string { return p.r.As(q.key()) }

// value is q's trimmed value, "" when absent.
func (p *params) value(q param) string {
	v, _ := p.r.Raw(q.key())
	return strings.TrimSpace(v)
}

func (p *params) errf(q param, format string, args ...any) error {
	return p.r.Errorf(q.key(), format, args...)
}

// str is a string param; given, it must not be empty.
func (p *params) str(q param, def string) (string, error) {
	v, err := p.r.String(q.key(), def)
	if err == nil && v == "" && p.has(q) {
		return "", p.errf(q, "must not be empty")
	}
	return v, err
}

func (p *params) boolean(q param, def bool) (bool, error) { return p.r.Bool(q.key(), def) }

func (p *params) duration(q param, def, minimum, maximum time.Duration) (time.Duration, error) {
	return p.r.Duration(q.key(), def, minimum, maximum)
}

func (p *params) integer(q param, def, minimum, maximum int) (int, error) {
	return p.r.Int(q.key(), def, minimum, maximum)
}

// dn reads a DN param and checks its syntax.
func (p *params) dn(q param) (string, error) {
	v, err := p.str(q, "")
	if err != nil || v == "" {
		return v, err
	}
	if _, err := goldap.ParseDN(v); err != nil {
		return "", p.errf(q, "is not a valid DN: %v", err)
	}
	return v, nil
}

// attribute reads an attribute description (a name or an OID).
func (p *params) attribute(q param, def string) (string, error) {
	v, err := p.str(q, def)
	if err != nil || v == "" {
		return v, err
	}
	if !validAttribute(v) {
		return "", p.errf(q, "is not an attribute name")
	}
	return v, nil
}

// template reads a param holding {0}, which must become a valid DN
// (filter false) or filter (filter true) for any user name.
func (p *params) template(q param, def string, filter bool) (string, error) {
	v, err := p.str(q, def)
	if err != nil || v == "" {
		return v, err
	}
	if !strings.Contains(v, "{0}") {
		return "", p.errf(q, "must contain {0}, where the user name goes")
	}
	if filter {
		if _, err := goldap.CompileFilter(expand(v, goldap.EscapeFilter("x*(y)"))); err != nil {
			return "", p.errf(q, "is not a valid LDAP filter: %v", err)
		}
		return v, nil
	}
	if _, err := goldap.ParseDN(expand(v, escapeDNValue("x,y"))); err != nil {
		return "", p.errf(q, "is not a valid DN template: %v", err)
	}
	return v, nil
}

func parseConfig(ctx context.Context, c chain.Config) (*config, []string, error) {
	p, err := readParams(c)
	if err != nil {
		return nil, nil, err
	}
	cfg := &config{}
	var warnings []string

	// Where the directory is.
	raw, err := p.str(pURL, "")
	if err != nil {
		return nil, nil, err
	}
	if raw == "" {
		return nil, nil, p.errf(pURL, "is required (ldap://host:389 or ldaps://host:636)")
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, nil, p.errf(pURL, "is not a URL")
	case u.Scheme != "ldap" && u.Scheme != "ldaps":
		return nil, nil, p.errf(pURL, "scheme must be ldap or ldaps")
	case u.Hostname() == "":
		return nil, nil, p.errf(pURL, "has no host")
	case u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return nil, nil, p.errf(pURL, "must be scheme://host[:port] only")
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, nil, p.errf(pURL, "has a bad port")
		}
	} else if u.Scheme == "ldaps" {
		u.Host = net.JoinHostPort(u.Hostname(), "636")
	} else {
		u.Host = net.JoinHostPort(u.Hostname(), "389")
	}
	cfg.url = u

	// Transport security.
	if cfg.startTLS, err = p.boolean(pStartTLS, false); err != nil {
		return nil, nil, err
	}
	if cfg.startTLS && u.Scheme == "ldaps" {
		return nil, nil, p.errf(pStartTLS, "cannot be used with an ldaps:// url, which is already TLS")
	}
	roots, err := p.caPool(ctx)
	if err != nil {
		return nil, nil, err
	}
	if cfg.startTLS || u.Scheme == "ldaps" {
		cfg.tls = &tls.Config{ServerName: u.Hostname(), RootCAs: roots, MinVersion: tls.VersionTLS12}
	} else if roots != nil {
		name := p.name(pCAAlias)
		if p.has(pTruststore) {
			name = p.name(pTruststore)
		}
		return nil, nil, &chain.ParamError{Param: name, Reason: "is only used with an ldaps:// url or start_tls=true"}
	}

	// Limits, cache and challenge.
	if cfg.timeout, err = p.duration(pTimeout, DefaultTimeout, 10*time.Millisecond, maxTimeout); err != nil {
		return nil, nil, err
	}
	if cfg.poolSize, err = p.integer(pPoolSize, DefaultPoolSize, 1, maxPoolSize); err != nil {
		return nil, nil, err
	}
	if cfg.cacheTTL, err = p.duration(pCacheTTL, DefaultCacheTTL, 0, maxCacheTTL); err != nil {
		return nil, nil, err
	}
	if p.has(pCaching) {
		on, err := p.boolean(pCaching, true)
		if err != nil {
			return nil, nil, err
		}
		if !on && p.has(pCacheTTL) && cfg.cacheTTL > 0 {
			return nil, nil, p.errf(pCacheTTL, "contradicts %s=false", p.name(pCaching))
		}
		if !on {
			cfg.cacheTTL = 0
		}
	}
	defRealm := c.Topology
	if defRealm == "" {
		defRealm = "gateway"
	}
	if cfg.realm, err = p.str(pRealm, defRealm); err != nil {
		return nil, nil, err
	}
	if strings.ContainsAny(cfg.realm, `"\`) {
		return nil, nil, p.errf(pRealm, `must not contain " or \`)
	}

	// The service account.
	if cfg.bindDN, err = p.dn(pBindDN); err != nil {
		return nil, nil, err
	}
	allowPlain, err := p.boolean(pAllowPlaintext, false)
	if err != nil {
		return nil, nil, err
	}
	if p.has(pBindPassword) {
		if cfg.bindDN == "" {
			return nil, nil, p.errf(pBindPassword, "is given without %s", p.name(pBindDN))
		}
		raw := p.value(pBindPassword)
		if isAliasRef(raw) {
			if cfg.bindPassword, err = c.Expand(ctx, p.name(pBindPassword), raw); err != nil {
				return nil, nil, err
			}
		} else {
			if !allowPlain {
				return nil, nil, p.errf(pBindPassword, "must be an alias reference ${alias:NAME} (plain text needs %s=true)", pAllowPlaintext.name)
			}
			cfg.bindPassword = raw
			cfg.plaintext = true
			warnings = append(warnings, "bind_password is given in plain text in the topology: store it as an alias and use ${alias:NAME}")
		}
		if cfg.bindPassword == "" {
			// An empty password makes a simple bind unauthenticated (RFC 4513 5.1.2).
			return nil, nil, p.errf(pBindPassword, "is empty")
		}
	} else if cfg.bindDN != "" {
		return nil, nil, p.errf(pBindDN, "is given without %s", p.name(pBindPassword))
	}

	// How users are found.
	searchBase, err := p.dn(pSearchBase)
	if err != nil {
		return nil, nil, err
	}
	if cfg.userDNTemplate, err = p.template(pUserDNTemplate, "", false); err != nil {
		return nil, nil, err
	}
	searchParams := []param{pUserSearchBase, pUserSearchFilter, pUserSearchAttr, pUserObjectClass}
	if cfg.userDNTemplate != "" {
		for _, q := range searchParams {
			if p.has(q) {
				return nil, nil, p.errf(q, "is for search-then-bind, but %s is set: give one of the two", p.name(pUserDNTemplate))
			}
		}
	} else {
		if cfg.userSearchBase, err = p.dn(pUserSearchBase); err != nil {
			return nil, nil, err
		}
		if cfg.userSearchBase == "" {
			cfg.userSearchBase = searchBase
		}
		if cfg.userSearchBase == "" {
			return nil, nil, p.errf(pUserDNTemplate, "is required, or %s for search-then-bind", p.name(pSearchBase))
		}
		if p.has(pUserSearchAttr) && p.has(pUserSearchFilter) {
			return nil, nil, p.errf(pUserSearchAttr, "and %s are two ways to say the same: give one", p.name(pUserSearchFilter))
		}
		if p.has(pUserObjectClass) && !p.has(pUserSearchAttr) {
			return nil, nil, p.errf(pUserObjectClass, "is only used with %s", p.name(pUserSearchAttr))
		}
		if p.has(pUserSearchAttr) {
			attr, err := p.attribute(pUserSearchAttr, "")
			if err != nil {
				return nil, nil, err
			}
			oc, err := p.attribute(pUserObjectClass, defaultUserObjectClass)
			if err != nil {
				return nil, nil, err
			}
			cfg.userSearchFilter = "(&(objectClass=" + oc + ")(" + attr + "={0}))"
		} else if cfg.userSearchFilter, err = p.template(pUserSearchFilter, DefaultUserSearchFilter, true); err != nil {
			return nil, nil, err
		}
		if !cfg.hasService() {
			return nil, nil, p.errf(pBindDN, "is required for search-then-bind (the gateway never searches anonymously)")
		}
	}
	cfg.nameAttribute = nameAttribute(cfg.userDNTemplate, cfg.userSearchFilter)

	// Groups.
	lookup, err := p.boolean(pLookupGroups, false)
	if err != nil {
		return nil, nil, err
	}
	if cfg.memberOfAttribute, err = p.attribute(pMemberOfAttribute, ""); err != nil {
		return nil, nil, err
	}
	searchGroupParams := []param{pGroupSearchBase, pGroupFilter, pGroupObjectClass, pMemberAttribute, pMemberTemplate, pGroupNameAttribute}
	wantSearch := false
	for _, q := range searchGroupParams {
		if p.has(q) {
			if cfg.memberOfAttribute != "" {
				return nil, nil, p.errf(q, "is for group search, but %s is set: give one of the two", p.name(pMemberOfAttribute))
			}
			wantSearch = true
		}
	}
	if p.has(pLookupGroups) && !lookup {
		// As in Knox: authorizationEnabled=false turns group lookup off,
		// whatever else is set.
		if wantSearch || cfg.memberOfAttribute != "" {
			warnings = append(warnings, p.name(pLookupGroups)+" is false: the group params are ignored")
		}
		wantSearch, cfg.memberOfAttribute = false, ""
	}
	if wantSearch || (lookup && cfg.memberOfAttribute == "") {
		if cfg.groupSearchBase, err = p.dn(pGroupSearchBase); err != nil {
			return nil, nil, err
		}
		if cfg.groupSearchBase == "" {
			cfg.groupSearchBase = searchBase
		}
		if cfg.groupSearchBase == "" {
			return nil, nil, p.errf(pGroupSearchBase, "is required to look up groups (or %s)", p.name(pSearchBase))
		}
		if p.has(pGroupFilter) {
			for _, q := range []param{pGroupObjectClass, pMemberAttribute} {
				if p.has(q) {
					return nil, nil, p.errf(q, "is part of %s when that is given: give one of the two", p.name(pGroupFilter))
				}
			}
			if cfg.groupFilter, err = p.template(pGroupFilter, "", true); err != nil {
				return nil, nil, err
			}
		} else {
			oc, err := p.attribute(pGroupObjectClass, defaultGroupObjectClass)
			if err != nil {
				return nil, nil, err
			}
			member, err := p.attribute(pMemberAttribute, defaultMemberAttribute)
			if err != nil {
				return nil, nil, err
			}
			cfg.groupFilter = "(&(objectClass=" + oc + ")(" + member + "={0}))"
		}
		if cfg.memberTemplate, err = p.template(pMemberTemplate, "", false); err != nil {
			return nil, nil, err
		}
		if cfg.groupNameAttribute, err = p.attribute(pGroupNameAttribute, defaultGroupName); err != nil {
			return nil, nil, err
		}
	}

	if !cfg.encrypted() && !cfg.plaintextOK() {
		warnings = append(warnings, "the connection to the directory is not encrypted: user passwords cross the network in clear; use ldaps:// or start_tls=true")
	}
	return cfg, warnings, nil
}

// caPool reads the trust anchors for the directory's certificate, nil for
// the system's.
func (p *params) caPool(ctx context.Context) (*x509.CertPool, error) {
	var q param
	var pemText string
	switch {
	case p.has(pCAAlias) && p.has(pTruststore):
		return nil, p.errf(pTruststore, "and %s say the same: give one", p.name(pCAAlias))
	case p.has(pCAAlias):
		q = pCAAlias
		alias, err := p.str(pCAAlias, "")
		if err != nil {
			return nil, err
		}
		if p.c.Resolve == nil {
			return nil, p.errf(pCAAlias, "alias %q: no secret resolver configured", alias)
		}
		b, err := p.c.Resolve(ctx, alias)
		if err != nil {
			return nil, p.errf(pCAAlias, "alias %q: %v", alias, err)
		}
		pemText = string(b)
	case p.has(pTruststore):
		q = pTruststore
		v, err := p.c.Expand(ctx, p.name(pTruststore), p.value(pTruststore))
		if err != nil {
			return nil, err
		}
		pemText = v
	default:
		return nil, nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(pemText)) {
		return nil, p.errf(q, "holds no PEM certificate")
	}
	return pool, nil
}

// isAliasRef reports whether v is exactly one ${alias:NAME} reference.
func isAliasRef(v string) bool {
	const open = "${alias:"
	return strings.HasPrefix(v, open) && strings.HasSuffix(v, "}") &&
		len(v) > len(open)+1 && !strings.ContainsAny(v[len(open):len(v)-1], "${}")
}

// validAttribute: an attribute type (RFC 4512 descr or numericoid), with
// options (;binary) allowed.
func validAttribute(v string) bool {
	for i, part := range strings.Split(v, ";") {
		if part == "" {
			return false
		}
		for j, r := range part {
			ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || (r == '.' && i == 0)
			if !ok || (j == 0 && r == '-') {
				return false
			}
		}
	}
	return true
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func containsFold(list []string, v string) bool {
	for _, s := range list {
		if strings.EqualFold(s, v) {
			return true
		}
	}
	return false
}

// nameAttrRE finds "attr={0}" in a DN template or a search filter.
var nameAttrRE = regexp.MustCompile(`(?:^|[(,])([A-Za-z][A-Za-z0-9-]*)=\{0\}`)

// nameAttribute is the attribute a DN template or search filter compares
// the login name with, or "" when it is not of the form attr={0}.
func nameAttribute(template, filter string) string {
	src := template
	if src == "" {
		src = filter
	}
	if m := nameAttrRE.FindStringSubmatch(src); m != nil {
		return m[1]
	}
	return ""
}
