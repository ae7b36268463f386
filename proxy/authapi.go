package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/identity"
)

// The auth API: /{prefix}/{topology}/auth/api/v1/{groups,pre}, answered by
// the gateway from the principal the topology's chain established. It is
// registered on every topology like any gateway-served endpoint.
const (
	authGroups    = "auth/api/v1/groups"
	authPre       = "auth/api/v1/pre"
	actorIDHeader = "X-Knox-Actor-ID"
	actorGroups   = "X-Knox-Actor-Groups-" // + 1, 2, …
	// maxGroupsHeader bounds one X-Knox-Actor-Groups-N value, as Knox does
	// (1000 characters); a group longer than that gets a header of its own.
	maxGroupsHeader = 1000
)

// authAPI are the auth API's endpoints, served after the chain. They hold
// nothing of a topology, so every compiled topology shares them (and, when
// no handler of its chain adds endpoints under their first segment, the
// index authAPIIndex of them): read-only.
var authAPI = []chain.Endpoint{
	{Path: authGroups, Handler: authAPIHandler(serveGroups)},
	{Path: authPre, Handler: authAPIHandler(servePre)},
}

// authAPIIndex is the shared endpoint index of the internal service
// holding only the auth API (registerEndpoints).
var authAPIIndex = func() map[string]*chain.Endpoint {
	idx := make(map[string]*chain.Endpoint, len(authAPI))
	for i := range authAPI {
		_, rest, _ := strings.Cut(authAPI[i].Path, "/")
		idx["/"+rest] = &authAPI[i]
	}
	return idx
}()

// authAPIHandler answers GET and HEAD requests that carry a principal with
// serve, and refuses the others.
func authAPIHandler(serve func(http.ResponseWriter, *http.Request, *identity.Principal, []string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		pr, ok := identity.FromContext(r.Context())
		if !ok {
			writeError(w, http.StatusUnauthorized, "unauthenticated")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		groups := slices.Clone(pr.Groups)
		slices.Sort(groups)
		groups = slices.Compact(groups)
		w.Header().Set("Cache-Control", "no-store")
		serve(w, r, pr, groups)
	}
}

// serveGroups answers the principal's name and groups as JSON.
func serveGroups(w http.ResponseWriter, r *http.Request, pr *identity.Principal, groups []string) {
	body, err := json.Marshal(struct {
		User   string   `json:"user"`
		Groups []string `json:"groups"`
	}{pr.Name, append([]string{}, groups...)})
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal error")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(append(body, '\n'))
	}
}

// servePre is Knox's pre-authentication answer: 200, the name and the
// groups in headers, no body. A value a header cannot carry is not sent.
func servePre(w http.ResponseWriter, _ *http.Request, pr *identity.Principal, groups []string) {
	if !httpguts.ValidHeaderFieldValue(pr.Name) {
		writeError(w, http.StatusInternalServerError, "the principal's name cannot be sent in a header")
		return
	}
	h := w.Header()
	// Knox's spelling on the wire (Set would send X-Knox-Actor-Id).
	h[actorIDHeader] = []string{pr.Name}
	for i, v := range groupHeaderValues(groups) {
		h.Set(actorGroups+strconv.Itoa(i+1), v)
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// groupHeaderValues packs groups, comma-separated, into values of at most
// maxGroupsHeader bytes (a longer group is a value of its own). Groups a
// header cannot carry (control characters) and empty ones are left out.
func groupHeaderValues(groups []string) []string {
	var out []string
	var b strings.Builder
	for _, g := range groups {
		if g == "" || !httpguts.ValidHeaderFieldValue(g) || strings.Contains(g, ",") {
			continue
		}
		if b.Len() > 0 && b.Len()+1+len(g) > maxGroupsHeader {
			out = append(out, b.String())
			b.Reset()
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(g)
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}

// Errors of LookupGroups.
var (
	// ErrNoTopology: no live topology has the name.
	ErrNoTopology = errors.New("no such topology")
	// ErrNoGroupSource: the topology's chain has no handler that can look
	// groups up (chain.GroupLookup: an LDAP provider, an identity-assertion
	// group mapping).
	ErrNoGroupSource = errors.New("no group source")
)

// LookupGroups asks the group sources of the live topology's chain (the
// handlers implementing chain.GroupLookup, in chain order) for user's
// groups. It returns their union, sorted, and the sources' provider names
// joined by ",". Errors wrap ErrNoTopology, ErrNoGroupSource or the
// source's error.
func (p *Proxy) LookupGroups(ctx context.Context, topology, user string) ([]string, string, error) {
	c := p.acquire(topology)
	if c == nil {
		return nil, "", fmt.Errorf("topology %q: %w", topology, ErrNoTopology)
	}
	defer c.leave()
	links := c.chain.Links()
	groups := []string{}
	var sources []string
	for i, h := range c.chain.Handlers() {
		gl, ok := h.(chain.GroupLookup)
		if !ok {
			continue
		}
		gs, err := gl.LookupGroups(ctx, user)
		if err != nil {
			return nil, "", fmt.Errorf("topology %q: provider %q: looking up the groups of %q: %w", topology, links[i].Name, user, err)
		}
		groups = append(groups, gs...)
		sources = append(sources, links[i].Name)
	}
	if len(sources) == 0 {
		return nil, "", fmt.Errorf("%w in topology %q: add an ldap provider with group lookup, or an identity-assertion group mapping (group.principal.mapping)", ErrNoGroupSource, topology)
	}
	slices.Sort(groups)
	return slices.Compact(groups), strings.Join(slices.Compact(sources), ","), nil
}

// acquire returns the live topology name counted like a request (leave it
// when done: its handlers are not closed meanwhile), or nil.
func (p *Proxy) acquire(name string) *Compiled {
	for {
		c := p.table.Load().get(name)
		if c == nil || c.enter() {
			return c
		}
	}
}
