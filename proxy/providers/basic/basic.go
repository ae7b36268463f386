package basic

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"maps"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/identity"
)

// Name is the provider's name.
const Name = "basic"

// Param names.
const (
	ParamUsers      = "users"
	ParamUserPrefix = "user."
	ParamRealm      = "realm"
	ParamCacheTTL   = "cache_ttl"
)

// DefaultCacheTTL is how long a checked password is remembered.
const DefaultCacheTTL = 60 * time.Second

const (
	maxUserLen     = 256
	maxPasswordLen = 1024
	maxCacheTTL    = 24 * time.Hour
)

func init() {
	chain.Register(chain.Factory{Name: Name, Role: chain.RoleAuthentication, New: newHandler})
}

// Handler authenticates requests with HTTP Basic credentials against the
// users listed in its params. It is safe for concurrent use.
type Handler struct {
	users     map[string]verifier
	unknown   verifier // checked for names not in users, so they take as long
	challenge string
	slots     chan struct{} // bounds concurrent hash checks (CPU and memory)

	cacheTTL time.Duration
	macKey   []byte
	mu       sync.Mutex
	cache    map[string]cached // by user name; at most one per configured user
}

type cached struct {
	mac [sha256.Size]byte
	exp time.Time
}

var (
	_ chain.Authenticator    = (*Handler)(nil)
	_ chain.CredentialReader = (*Handler)(nil)
)

// consumed: the password travels in the Authorization header, which the
// gateway removes before dispatch.
var consumed = []identity.Credential{identity.Authorization}

func newHandler(ctx context.Context, c chain.Config) (chain.Handler, error) {
	h := &Handler{users: map[string]verifier{}}
	p, err := c.Read([]chain.Param{chain.P(ParamUsers), chain.P(ParamRealm), chain.P(ParamCacheTTL)}, chain.Prefix(ParamUserPrefix))
	if err != nil {
		return nil, err
	}
	realm := cmp.Or(c.Topology, "gateway")
	if v, ok := p.Raw(ParamRealm); ok {
		if v == "" || strings.ContainsAny(v, `"\`) || strings.ContainsFunc(v, isControl) {
			return nil, p.Errorf(ParamRealm, `must be non-empty, without " or \ or control characters`)
		}
		realm = v
	}
	if h.cacheTTL, err = p.Duration(ParamCacheTTL, DefaultCacheTTL, 0, maxCacheTTL); err != nil {
		return nil, err
	}
	for _, k := range p.Dynamic(ParamUserPrefix) {
		hash, err := p.Secret(ctx, k, "")
		if err != nil {
			return nil, err
		}
		if err := h.add(k, strings.TrimPrefix(k, ParamUserPrefix), strings.TrimSpace(hash)); err != nil {
			return nil, err
		}
	}
	if raw, ok := p.Raw(ParamUsers); ok {
		entries, err := splitUsers(ctx, c, raw)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if err := h.add(ParamUsers, e.name, e.hash); err != nil {
				return nil, err
			}
		}
	}
	if len(h.users) == 0 {
		return nil, &chain.ParamError{Param: ParamUsers, Reason: "no users: give users or user.NAME params"}
	}
	if h.unknown, err = dummyFor(h.users); err != nil {
		return nil, err
	}
	h.challenge = `Basic realm="` + realm + `", charset="UTF-8"`
	h.slots = make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))
	if h.cacheTTL > 0 {
		h.cache = map[string]cached{}
		h.macKey = make([]byte, 32)
		if _, err := rand.Read(h.macKey); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// add adds user name with hash, given in param.
func (h *Handler) add(param, name, hash string) error {
	if !validUser(name) {
		return &chain.ParamError{Param: param, Reason: fmt.Sprintf("user name %q must be non-empty UTF-8 without ':' or control characters", name)}
	}
	if _, dup := h.users[name]; dup {
		return &chain.ParamError{Param: param, Reason: fmt.Sprintf("user %q is given twice", name)}
	}
	v, err := parseHash(hash)
	if err != nil {
		return &chain.ParamError{Param: param, Reason: fmt.Sprintf("user %q: the hash %v", name, err)}
	}
	h.users[name] = v
	return nil
}

type userEntry struct{ name, hash string }

// splitUsers reads the users param: name:hash entries separated by commas,
// white space or new lines. An argon2id hash holds commas itself
// (m=…,t=…,p=…): a comma starts a new entry only when a name and a colon
// follow it.
func splitUsers(ctx context.Context, c chain.Config, raw string) ([]userEntry, error) {
	v, err := c.Expand(ctx, ParamUsers, raw)
	if err != nil {
		return nil, err
	}
	var pieces []string
	for _, field := range strings.Fields(v) {
		for _, p := range strings.Split(field, ",") {
			colon, dollar := strings.IndexByte(p, ':'), strings.IndexByte(p, '$')
			startsEntry := colon > 0 && (dollar < 0 || colon < dollar)
			if !startsEntry && len(pieces) > 0 && p != "" {
				pieces[len(pieces)-1] += "," + p
				continue
			}
			if p != "" {
				pieces = append(pieces, p)
			}
		}
	}
	entries := make([]userEntry, 0, len(pieces))
	for i, p := range pieces {
		name, hash, ok := strings.Cut(p, ":")
		if !ok || name == "" || hash == "" {
			return nil, &chain.ParamError{Param: ParamUsers, Reason: fmt.Sprintf("entry %d is not name:hash", i+1)}
		}
		entries = append(entries, userEntry{name, hash})
	}
	if len(entries) == 0 {
		return nil, &chain.ParamError{Param: ParamUsers, Reason: "is empty"}
	}
	return entries, nil
}

// dummyFor returns the verifier unknown users are checked against: the
// scheme most users have (ties: the first by name), so that an unknown
// name takes as long as a known one with a wrong password.
func dummyFor(users map[string]verifier) (verifier, error) {
	count := map[string]int{}
	var best verifier
	for _, n := range slices.Sorted(maps.Keys(users)) {
		v := users[n]
		count[v.scheme()]++
		if best == nil || count[v.scheme()] > count[best.scheme()] {
			best = v
		}
	}
	return best.dummy()
}

// Credentials is what the provider reads: the Authorization header, which
// the gateway removes from requests to backends.
func (h *Handler) Credentials() []identity.Credential { return consumed }

// Authenticate checks the request's Basic credentials: not mine without
// an Authorization header of the Basic scheme; refused (401 with the
// challenge) when they are malformed or wrong.
func (h *Handler) Authenticate(r *http.Request) chain.Outcome {
	user, password, ok := r.BasicAuth()
	if !ok {
		if isBasic(r.Header.Get("Authorization")) {
			return chain.Refuse(http.StatusUnauthorized, "invalid credentials", h.challenge)
		}
		return chain.Pass(h.challenge)
	}
	if user == "" || password == "" || len(user) > maxUserLen || len(password) > maxPasswordLen {
		return chain.Refuse(http.StatusUnauthorized, "invalid credentials", h.challenge)
	}
	ok, err := h.check(r.Context(), user, password)
	if err != nil { // the client went away while waiting for a slot
		return chain.Refuse(http.StatusServiceUnavailable, "authentication service busy", "")
	}
	if !ok {
		return chain.Refuse(http.StatusUnauthorized, "invalid credentials", h.challenge)
	}
	return chain.Authenticate(&identity.Principal{Name: user, AuthenticatedAs: user, Provider: Name, Consumed: consumed})
}

// isBasic reports whether an Authorization value names the Basic scheme.
func isBasic(v string) bool {
	const prefix = "basic"
	return len(v) >= len(prefix) && strings.EqualFold(v[:len(prefix)], prefix) &&
		(len(v) == len(prefix) || v[len(prefix)] == ' ')
}

// check verifies password for user; an unknown user is checked against
// the dummy hash, so it takes as long and fails.
func (h *Handler) check(ctx context.Context, user, password string) (bool, error) {
	v, known := h.users[user]
	var mac [sha256.Size]byte
	if known && h.cache != nil {
		m := hmac.New(sha256.New, h.macKey)
		m.Write([]byte(password))
		m.Sum(mac[:0])
		h.mu.Lock()
		e, hit := h.cache[user]
		h.mu.Unlock()
		if hit && time.Now().Before(e.exp) && hmac.Equal(e.mac[:], mac[:]) {
			return true, nil
		}
	}
	if !known {
		v = h.unknown
	}
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	ok := v.verify([]byte(password))
	<-h.slots
	if !known {
		return false, nil
	}
	if ok && h.cache != nil {
		h.mu.Lock()
		h.cache[user] = cached{mac: mac, exp: time.Now().Add(h.cacheTTL)}
		h.mu.Unlock()
	}
	return ok, nil
}

func validUser(name string) bool {
	return name != "" && len(name) <= maxUserLen && utf8.ValidString(name) &&
		!strings.ContainsRune(name, ':') && !strings.ContainsFunc(name, isControl)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
