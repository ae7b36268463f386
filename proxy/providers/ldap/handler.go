package ldap

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/identity"
)

// Name is the provider's name (Knox's ShiroProvider maps to it).
const Name = "ldap"

func init() {
	chain.Register(chain.Factory{Name: Name, Role: chain.RoleAuthentication, New: newHandler})
}

// ErrUnavailable is what LookupGroups's errors wrap (errors.Is) when the
// directory could not be reached or did not answer in time, TLS failed, or
// the service account was refused.
var ErrUnavailable = errors.New("authentication service unavailable")

// errRejected: the directory (or the gateway, before asking it) refused
// the credentials.
var errRejected = errors.New("invalid credentials")

// consumed: the password travels in the Authorization header, which the
// gateway removes before dispatch.
var consumed = []identity.Credential{identity.Authorization}

// Handler authenticates requests with HTTP Basic credentials against an
// LDAP directory. It is safe for concurrent use.
type Handler struct {
	cfg       *config
	pool      *pool
	auth      *ttlCache[authEntry] // nil when caching is off
	groups    *ttlCache[[]string]  // nil when caching is off
	macKey    []byte
	macs      sync.Pool // HMAC-SHA256 instances keyed with macKey: a cache hit allocates nothing
	challenge string
	log       *slog.Logger
	lastLog   atomic.Int64 // unix nanoseconds of the last "unavailable" log line
	muted     atomic.Int64 // such lines left out since
}

type authEntry struct {
	mac [sha256.Size]byte
	// p is the login's principal, shared by the requests the entry
	// serves (a principal is never modified).
	p *identity.Principal
}

// principal is who a login with the directory's name and groups is. The
// name is the directory's spelling: "ALICE" or "alice " (which the
// directory matches) become "alice", so one person is one identity at the
// backends and in the logs.
func principal(name string, groups []string) *identity.Principal {
	return &identity.Principal{Name: name, Groups: groups, AuthenticatedAs: name, Provider: Name, Consumed: consumed}
}

// GroupHandler is the Handler of a provider that looks groups up with a
// service account (bind_dn and a group search or member_of_attribute): it
// adds LookupGroups, so that the group API finds it as a group source and
// does not find providers that cannot answer.
type GroupHandler struct{ *Handler }

var (
	_ chain.Authenticator    = (*Handler)(nil)
	_ chain.CredentialReader = (*Handler)(nil)
	_ io.Closer              = (*Handler)(nil)
	_ interface {
		LookupGroups(ctx context.Context, user string) ([]string, error)
	} = GroupHandler{}
)

func newHandler(ctx context.Context, c chain.Config) (chain.Handler, error) {
	cfg, warnings, err := parseConfig(ctx, c)
	if err != nil {
		return nil, err
	}
	h := &Handler{
		cfg:       cfg,
		pool:      newPool(cfg),
		challenge: `Basic realm="` + cfg.realm + `", charset="UTF-8"`,
		log:       c.Logger,
	}
	if cfg.cacheTTL > 0 {
		h.auth = newTTLCache[authEntry](cfg.cacheTTL)
		h.groups = newTTLCache[[]string](cfg.cacheTTL)
		h.macKey = make([]byte, 32)
		if _, err := rand.Read(h.macKey); err != nil {
			return nil, err
		}
	}
	if h.log == nil { // a Config built by hand; chain.Build sets a logger with these fields
		h.log = slog.Default().With("provider", Name, "topology", c.Topology)
	}
	for _, w := range warnings {
		h.log.Warn("ldap: " + w)
	}
	if cfg.groupsOn() && cfg.hasService() {
		return GroupHandler{h}, nil
	}
	return h, nil
}

// Credentials is what the provider reads: the Authorization header, which
// the gateway removes from requests to backends.
func (h *Handler) Credentials() []identity.Credential { return consumed }

// Authenticate checks the request's Basic credentials against the
// directory: not mine without Basic credentials; refused with 401 and the
// challenge when the directory refuses them, and with 503 when it cannot
// say (down, slow, TLS failure): never 401 for that.
func (h *Handler) Authenticate(r *http.Request) chain.Outcome {
	user, password, ok := r.BasicAuth()
	if !ok {
		if v := r.Header.Get("Authorization"); len(v) >= 5 && strings.EqualFold(v[:5], "basic") {
			return chain.Refuse(http.StatusUnauthorized, "invalid credentials", h.challenge)
		}
		return chain.Pass(h.challenge)
	}
	p, err := h.authenticate(r.Context(), user, password)
	switch {
	case err == nil:
		return chain.Authenticate(p)
	case errors.Is(err, errRejected):
		return chain.Refuse(http.StatusUnauthorized, "invalid credentials", h.challenge)
	default:
		if r.Context().Err() == nil {
			h.logUnavailable(err)
		}
		return chain.Refuse(http.StatusServiceUnavailable, ErrUnavailable.Error(), "")
	}
}

// LookupGroups returns the groups of user, as the directory says, using the
// service account: the group API's entry point. A user the directory does
// not have (or has twice) is in no group: an empty list, as Hadoop's group
// mapping answers. Results are cached with cache_ttl. Errors wrap
// ErrUnavailable.
func (g GroupHandler) LookupGroups(ctx context.Context, user string) ([]string, error) {
	h, cfg := g.Handler, g.cfg
	if !acceptableUser(user) {
		return []string{}, nil
	}
	if h.groups != nil {
		if gs, ok := h.groups.get(user); ok {
			return append([]string{}, gs...), nil
		}
	}
	var groups []string
	err := h.withConn(ctx, func(c *conn) error {
		if err := h.serviceBind(ctx, c); err != nil {
			return err
		}
		var e userEntry
		var err error
		if cfg.searchMode() {
			e, err = h.searchUser(ctx, c, user)
		} else {
			e, err = h.readUser(ctx, c, expand(cfg.userDNTemplate, escapeDNValue(user)), user)
		}
		if err != nil {
			return err
		}
		groups, err = h.groupsOf(ctx, c, e.name, e.dn, e.memberOf)
		return err
	})
	switch {
	case errors.Is(err, errRejected):
		groups = nil // no such user: no groups (not cached: the user may be added)
	case err != nil:
		return nil, err
	case h.groups != nil:
		h.groups.put(user, groups)
	}
	return append([]string{}, groups...), nil
}

// Close closes the provider's directory connections.
func (h *Handler) Close() error {
	h.pool.close()
	return nil
}

// authenticate checks user's password and returns the user's name as the
// directory stores it and the user's groups. Its errors are errRejected or
// unavailable.
func (h *Handler) authenticate(ctx context.Context, user, password string) (*identity.Principal, error) {
	// An empty password would make the bind unauthenticated (RFC 4513
	// 5.1.2), which a directory may accept for any name: never send one.
	if password == "" || len(password) > maxPasswordLen || !acceptableUser(user) {
		return nil, errRejected
	}
	var mac [sha256.Size]byte
	if h.auth != nil {
		m, _ := h.macs.Get().(hash.Hash)
		if m == nil {
			m = hmac.New(sha256.New, h.macKey)
		}
		m.Reset()
		m.Write([]byte(password))
		m.Sum(mac[:0])
		h.macs.Put(m)
		if e, ok := h.auth.get(user); ok && hmac.Equal(e.mac[:], mac[:]) {
			return e.p, nil
		}
	}
	cfg := h.cfg
	var (
		groups []string
		e      userEntry
	)
	err := h.withConn(ctx, func(c *conn) error {
		var err error
		if cfg.searchMode() {
			if err := h.serviceBind(ctx, c); err != nil {
				return err
			}
			if e, err = h.searchUser(ctx, c, user); err != nil {
				return err
			}
		} else {
			e = userEntry{dn: expand(cfg.userDNTemplate, escapeDNValue(user)), name: user}
		}
		if err := h.userBind(ctx, c, e.dn, password); err != nil {
			return err
		}
		if !cfg.searchMode() && cfg.nameAttribute != "" {
			// Bound as the user: read the stored spelling of the name. A
			// directory that hides users' own entries from them leaves the
			// typed name (its bind already proved the password).
			switch got, err := h.readUser(ctx, c, e.dn, user); {
			case err == nil:
				e = got
			case !errors.Is(err, errRejected) && !directoryAnswered(err):
				return err // the directory went away: unavailable
			}
		}
		groups, err = h.groupsOf(ctx, c, e.name, e.dn, e.memberOf)
		return err
	})
	if err != nil {
		return nil, err
	}
	p := principal(e.name, groups)
	if h.auth != nil {
		h.auth.put(user, authEntry{mac: mac, p: p})
		h.groups.put(user, groups)
	}
	return p, nil
}

// withConn runs f on a pooled connection. When f fails on a reused
// connection because of the transport (the directory restarted, an idle
// connection was dropped), it runs once more on a new one.
func (h *Handler) withConn(ctx context.Context, f func(*conn) error) error {
	for attempt := 0; ; attempt++ {
		c, reused, err := h.pool.get(ctx)
		if err != nil {
			return err
		}
		err = f(c)
		broken := c.broken
		h.pool.put(c)
		if err == nil || !broken || !reused || attempt > 0 || ctx.Err() != nil {
			return err
		}
		// The other idle connections are as old as this one: drop them, so
		// that the second attempt dials.
		h.pool.dropIdle()
	}
}

// rejectedBind are the bind results that mean "not these credentials".
var rejectedBind = []uint16{
	goldap.LDAPResultInvalidCredentials,
	goldap.LDAPResultInappropriateAuthentication,
	goldap.LDAPResultUnwillingToPerform, // e.g. a locked account, or no unauthenticated binds
	goldap.LDAPResultInsufficientAccessRights,
	goldap.LDAPResultNoSuchObject,
	goldap.LDAPResultInvalidDNSyntax,
	goldap.LDAPResultConstraintViolation, // ppolicy: account locked
}

func (h *Handler) userBind(ctx context.Context, c *conn, dn, password string) error {
	if password == "" {
		return errRejected // unreachable: authenticate checks first; kept next to the bind
	}
	c.bound = ""
	err := c.do(ctx, h.cfg.timeout, func(l *goldap.Conn) error { return l.Bind(dn, password) })
	switch {
	case err == nil:
		c.bound = dn
		return nil
	case goldap.IsErrorAnyOf(err, rejectedBind...):
		h.log.Debug("ldap: bind refused", "result", resultName(err))
		return errRejected
	default:
		return unavailable("binding as the user", err)
	}
}

// serviceBind binds c as the service account unless it is bound so already.
func (h *Handler) serviceBind(ctx context.Context, c *conn) error {
	cfg := h.cfg
	if c.bound == cfg.bindDN {
		return nil
	}
	c.bound = ""
	err := c.do(ctx, cfg.timeout, func(l *goldap.Conn) error { return l.Bind(cfg.bindDN, cfg.bindPassword) })
	if err != nil {
		if goldap.IsErrorAnyOf(err, rejectedBind...) {
			return unavailable("the directory refused the service account (check bind_dn and bind_password)", errors.New(resultName(err)))
		}
		return unavailable("binding as the service account", err)
	}
	c.bound = cfg.bindDN
	return nil
}

// searchUser finds the one entry of user, with its memberOf values when
// groups come from there.
func (h *Handler) searchUser(ctx context.Context, c *conn, user string) (userEntry, error) {
	cfg := h.cfg
	attrs := h.entryAttributes()
	req := goldap.NewSearchRequest(cfg.userSearchBase, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
		2, h.timeLimit(), false, expand(cfg.userSearchFilter, goldap.EscapeFilter(user)), attrs, nil)
	var res *goldap.SearchResult
	err := c.do(ctx, cfg.timeout, func(l *goldap.Conn) error {
		var err error
		res, err = l.Search(req)
		return err
	})
	switch {
	case goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded) || (err == nil && len(res.Entries) > 1):
		h.log.Warn("ldap: the user search matched more than one entry; refusing the login (make user_search_filter match one entry per user)")
		return userEntry{}, errRejected
	case err != nil:
		return userEntry{}, unavailable("searching for the user", err)
	case len(res.Entries) == 0:
		h.log.Debug("ldap: no such user")
		return userEntry{}, errRejected
	}
	return h.entryOf(res.Entries[0], user), nil
}

// userEntry is what the gateway reads of a user's entry.
type userEntry struct {
	dn       string
	name     string // the stored spelling of the login name
	memberOf []string
}

// entryAttributes are the attributes to read of a user's entry.
func (h *Handler) entryAttributes() []string {
	var attrs []string
	if a := h.cfg.memberOfAttribute; a != "" {
		attrs = append(attrs, a)
	}
	if a := h.cfg.nameAttribute; a != "" {
		attrs = append(attrs, a)
	}
	if len(attrs) == 0 {
		return []string{"1.1"} // no attributes
	}
	return attrs
}

// entryOf reads a user's entry. The name is the stored value of the name
// attribute that the directory matched with what was typed (the same but
// for case and spaces), else what was typed.
func (h *Handler) entryOf(e *goldap.Entry, typed string) userEntry {
	u := userEntry{dn: e.DN, name: typed}
	if a := h.cfg.memberOfAttribute; a != "" {
		u.memberOf = e.GetAttributeValues(a)
	}
	if a := h.cfg.nameAttribute; a != "" {
		want := strings.Join(strings.Fields(typed), " ")
		for _, v := range e.GetAttributeValues(a) {
			if strings.EqualFold(strings.Join(strings.Fields(v), " "), want) {
				u.name = v
				break
			}
		}
	}
	return u
}

// readUser reads the entry at dn (it must exist), with the stored spelling
// of typed and its memberOf values when groups come from there.
func (h *Handler) readUser(ctx context.Context, c *conn, dn, typed string) (userEntry, error) {
	cfg := h.cfg
	req := goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases,
		1, h.timeLimit(), false, "(objectClass=*)", h.entryAttributes(), nil)
	var res *goldap.SearchResult
	err := c.do(ctx, cfg.timeout, func(l *goldap.Conn) error {
		var err error
		res, err = l.Search(req)
		return err
	})
	switch {
	case goldap.IsErrorAnyOf(err, goldap.LDAPResultNoSuchObject, goldap.LDAPResultInvalidDNSyntax):
		return userEntry{}, errRejected
	case err != nil:
		return userEntry{}, unavailable("reading the user's entry", err)
	case len(res.Entries) != 1:
		return userEntry{}, errRejected
	}
	return h.entryOf(res.Entries[0], typed), nil
}

// groupsOf returns the names of user's groups, sorted: the first RDN value
// of each memberOf DN, or the group_name_attribute of each group the group
// search finds (as the service account when there is one, else as the
// user, who is bound on c).
func (h *Handler) groupsOf(ctx context.Context, c *conn, user, dn string, memberOf []string) ([]string, error) {
	cfg := h.cfg
	var groups []string
	switch {
	case cfg.memberOfAttribute != "":
		if !cfg.searchMode() {
			if cfg.hasService() {
				if err := h.serviceBind(ctx, c); err != nil {
					return nil, err
				}
			}
			e, err := h.readUser(ctx, c, dn, user)
			if err != nil {
				if errors.Is(err, errRejected) {
					return nil, unavailable("reading the user's memberOf", errors.New("entry not readable"))
				}
				return nil, err
			}
			memberOf = e.memberOf
		}
		for _, v := range memberOf {
			if name := firstRDNValue(v); name != "" {
				groups = append(groups, name)
			}
		}
	case cfg.groupFilter != "":
		if cfg.hasService() {
			if err := h.serviceBind(ctx, c); err != nil {
				return nil, err
			}
		}
		member := dn
		if cfg.memberTemplate != "" {
			member = expand(cfg.memberTemplate, escapeDNValue(user))
		}
		req := goldap.NewSearchRequest(cfg.groupSearchBase, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
			0, h.timeLimit(), false, expand(cfg.groupFilter, goldap.EscapeFilter(member)),
			[]string{cfg.groupNameAttribute}, nil)
		var res *goldap.SearchResult
		err := c.do(ctx, cfg.timeout, func(l *goldap.Conn) error {
			var err error
			res, err = l.Search(req)
			return err
		})
		if goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded) && res != nil {
			h.log.Warn("ldap: the group search hit the directory's size limit; the user's groups are incomplete")
			err = nil
		}
		if err != nil {
			return nil, unavailable("searching for the user's groups", err)
		}
		for _, e := range res.Entries {
			if name := e.GetAttributeValue(cfg.groupNameAttribute); name != "" {
				groups = append(groups, name)
			}
		}
	default:
		return nil, nil
	}
	slices.Sort(groups)
	return slices.Compact(groups), nil
}

// timeLimit is the server-side time limit of searches, in whole seconds.
func (h *Handler) timeLimit() int {
	return max(1, int((h.cfg.timeout+time.Second-1)/time.Second))
}

// logUnavailable logs why the directory could not answer, at most once
// every few seconds per provider, counting the lines left out.
func (h *Handler) logUnavailable(err error) {
	const every = 5 * time.Second
	now := time.Now().UnixNano()
	last := h.lastLog.Load()
	if last != 0 && now-last < int64(every) || !h.lastLog.CompareAndSwap(last, now) {
		h.muted.Add(1)
		return
	}
	attrs := []any{"err", err}
	if n := h.muted.Swap(0); n > 0 {
		attrs = append(attrs, "suppressed", n)
	}
	h.log.Error("ldap: authentication service unavailable", attrs...)
}

// firstRDNValue is the value of the first attribute of dn's first RDN
// ("admins" for cn=admins,ou=groups,…), "" when dn does not parse.
func firstRDNValue(dn string) string {
	d, err := goldap.ParseDN(dn)
	if err != nil || len(d.RDNs) == 0 || len(d.RDNs[0].Attributes) == 0 {
		return ""
	}
	return d.RDNs[0].Attributes[0].Value
}

func resultName(err error) string {
	if le, ok := errors.AsType[*goldap.Error](err); ok {
		return goldap.LDAPResultCodeMap[le.ResultCode] + " (" + strconv.Itoa(int(le.ResultCode)) + ")"
	}
	return "error"
}

// directoryAnswered reports whether err is a result the directory sent
// (access refused, unwilling, …), as opposed to a failure to reach it:
// go-ldap numbers its own client-side errors from 200.
func directoryAnswered(err error) bool {
	var le *goldap.Error
	return errors.As(err, &le) && le.ResultCode < goldap.ErrorNetwork
}
