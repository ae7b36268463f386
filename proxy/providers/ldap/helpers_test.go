package ldap_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/securegw/gateway/internal/testlog"
	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/identity"
	"github.com/securegw/gateway/proxy/providers/ldap"
	"github.com/securegw/gateway/proxy/providers/ldap/ldaptest"
)

// logs receives every log line of the package's tests (the handlers log
// through slog.Default()); TestMain fails the run if a secret shows in it.
var logs = &testlog.Buffer{}

var (
	secretsMu sync.Mutex
	secrets   []string
)

func addSecrets(s ...string) {
	secretsMu.Lock()
	defer secretsMu.Unlock()
	secrets = append(secrets, s...)
}

func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	code := m.Run()
	out := logs.String()
	secretsMu.Lock()
	for _, s := range secrets {
		if strings.Contains(out, s) || strings.Contains(out, fmt.Sprintf("%q", s)) {
			fmt.Fprintf(os.Stderr, "FAIL: a password of the tests appears in the log (%d bytes of log)\n", len(out))
			code = 1
			break
		}
	}
	secretsMu.Unlock()
	if len(secrets) == 0 && code == 0 {
		fmt.Fprintln(os.Stderr, "FAIL: the log check saw no secrets: is addSecrets called?")
		code = 1
	}
	os.Exit(code)
}

// logsSince returns what was logged after mark (a logs.Len()).
func logsSince(mark int) string { return logs.String()[mark:] }

// The directory of the tests: users with every character SECURITY.md
// names, and groups.
var (
	alice = ldaptest.User{UID: "alice", Password: "pw-alice-7Qk2"}
	bob   = ldaptest.User{UID: "bob", Password: "pw-bob-Xm31"}
	star  = ldaptest.User{UID: "st*r", Password: "pw-star-Lk88"}
	// A user named "*": only "*" escaped logs in as it.
	asterisk = ldaptest.User{UID: "*", Password: "pw-asterisk-Pp04"}
	all      = ldaptest.User{UID: `a*b(c)d\e,f=g+h;i<j>k"l`, Password: "pw-all-Zz19"}
	tricky   = []ldaptest.User{
		star, asterisk, all,
		{UID: "paren(s)", Password: "pw-paren-Aa01"},
		{UID: `back\slash`, Password: "pw-back-Bb02"},
		{UID: "comma,user", Password: "pw-comma-Cc03"},
		{UID: "equals=user", Password: "pw-equals-Dd04"},
		{UID: "plus+user", Password: "pw-plus-Ee05"},
		{UID: "#hash", Password: "pw-hash-Ff06"},
		{UID: " lead", Password: "pw-lead-Gg07"},
		{UID: "trail ", Password: "pw-trail-Hh08"},
		{UID: `st\2ar`, Password: "pw-hex-Ii09"},
		{UID: "jürgen", Password: "pw-juergen-Jj10"},
	}
	testUsers  = append([]ldaptest.User{alice, bob}, tricky...)
	testGroups = []ldaptest.Group{
		{CN: "admins", Members: []string{"alice", "#hash", all.UID}},
		{CN: "devs", Members: []string{"alice", "bob"}},
	}
)

func startLDAP(t testing.TB) *ldaptest.Server {
	t.Helper()
	s := ldaptest.Start(t, ldaptest.Options{Users: testUsers, Groups: testGroups})
	addSecrets(s.RootPassword, s.ServicePassword)
	for _, u := range testUsers {
		addSecrets(u.Password)
	}
	return s
}

// aliases are the secrets the handlers' Resolve finds.
type aliases map[string][]byte

// handler is what the ldap factory builds: a *ldap.Handler, or a
// ldap.GroupHandler when it looks groups up with a service account.
type handler interface {
	chain.Authenticator
	io.Closer
}

// groupLookup is chain.GroupLookup, as the group API finds it.
type groupLookup interface {
	LookupGroups(ctx context.Context, user string) ([]string, error)
}

// build builds an ldap handler through the registry, as a topology deploy does.
func build(t testing.TB, params map[string]string, al aliases) (handler, error) {
	t.Helper()
	f, ok := chain.Lookup(chain.RoleAuthentication, "LDAP")
	if !ok {
		t.Fatal("the ldap provider is not registered")
	}
	h, err := f.New(context.Background(), chain.Config{
		Topology: "t", Provider: f.Name, Role: f.Role, Params: chain.Params(maps.Clone(params)),
		Resolve: func(_ context.Context, alias string) ([]byte, error) {
			if v, ok := al[alias]; ok {
				return v, nil
			}
			return nil, errors.New("no such alias")
		},
	})
	if err != nil {
		return nil, err
	}
	var lh handler
	switch v := h.(type) {
	case *ldap.Handler:
		lh = v
	case ldap.GroupHandler:
		lh = v
	default:
		t.Fatalf("handler is %T", h)
	}
	t.Cleanup(func() { lh.Close() })
	return lh, nil
}

func mustBuild(t testing.TB, params map[string]string, al aliases) handler {
	t.Helper()
	h, err := build(t, params, al)
	if err != nil {
		t.Fatalf("building the handler: %v", err)
	}
	return h
}

// templateParams: bind as uid={0},ou=people,…, groups by memberOf when the
// server has it, else by a group search as the user.
func templateParams(s *ldaptest.Server) map[string]string {
	p := map[string]string{
		"url":              s.URL,
		"user_dn_template": "uid={0}," + ldaptest.PeopleDN,
		"cache_ttl":        "0",
	}
	if s.MemberOf {
		p["member_of_attribute"] = "memberOf"
	} else {
		p["group_search_base"] = ldaptest.GroupsDN
	}
	return p
}

// searchParams: search-then-bind with the service account, groups by search.
func searchParams(s *ldaptest.Server) (map[string]string, aliases) {
	return map[string]string{
		"url":               s.URL,
		"search_base":       ldaptest.PeopleDN,
		"bind_dn":           ldaptest.ServiceDN,
		"bind_password":     "${alias:ldap-bind}",
		"group_search_base": ldaptest.GroupsDN,
		"cache_ttl":         "0",
	}, aliases{"ldap-bind": []byte(s.ServicePassword)}
}

type result struct {
	code      int
	challenge string
	body      string
	principal *identity.Principal
}

// login sends one request with Basic credentials through the handler.
func login(h chain.Authenticator, user, password string) result {
	r := httptest.NewRequest(http.MethodGet, "/gateway/t/svc/", nil)
	r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+password)))
	return serve(h, r)
}

// serve asks the handler, and answers as the chain would for a chain of
// that one provider.
func serve(h chain.Authenticator, r *http.Request) result {
	o := h.Authenticate(r)
	switch o.Verdict {
	case chain.Authenticated:
		return result{principal: o.Principal}
	case chain.Refused:
		code := o.Status
		if code == 0 {
			code = http.StatusUnauthorized
		}
		return result{code: code, challenge: o.Challenge, body: `{"error":"` + o.Message + `"}`}
	}
	return result{code: http.StatusUnauthorized, challenge: o.Challenge, body: `{"error":"authentication required"}`}
}

func (r result) String() string {
	if r.code == 0 {
		return fmt.Sprintf("passed as %+v", r.principal)
	}
	return fmt.Sprintf("%d %q", r.code, strings.TrimSpace(r.body))
}

// expectOK fails unless the request passed as user with groups.
func expectOK(t testing.TB, r result, user string, groups ...string) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("login as %q: %v, want it to pass", user, r)
	}
	p := r.principal
	if p == nil || p.Name != user || p.AuthenticatedAs != user || p.Provider != "ldap" || !equal(p.Groups, groups) {
		t.Fatalf("login as %q: principal %+v, want groups %q", user, p, groups)
	}
}

func expect401(t testing.TB, r result, what string) {
	t.Helper()
	if r.code != http.StatusUnauthorized || r.challenge != `Basic realm="t", charset="UTF-8"` {
		t.Fatalf("%s: %v (challenge %q), want 401 with the challenge", what, r, r.challenge)
	}
}

func expect503(t testing.TB, r result, what string) {
	t.Helper()
	if r.code != http.StatusServiceUnavailable || strings.TrimSpace(r.body) != `{"error":"authentication service unavailable"}` || r.challenge != "" {
		t.Fatalf("%s: %v (challenge %q), want 503 authentication service unavailable", what, r, r.challenge)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		<-tick.C
	}
}

func with(p map[string]string, kv ...string) map[string]string {
	p = maps.Clone(p)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "<delete>" {
			delete(p, kv[i])
			continue
		}
		p[kv[i]] = kv[i+1]
	}
	return p
}
