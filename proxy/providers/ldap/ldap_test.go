package ldap_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/securegw/gateway/internal/testpki"
	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/identity"
	"github.com/securegw/gateway/proxy/providers/ldap"
	"github.com/securegw/gateway/proxy/providers/ldap/ldaptest"
)

func groupsOf(uid string) []string {
	var gs []string
	for _, g := range testGroups {
		for _, m := range g.Members {
			if m == uid {
				gs = append(gs, g.CN)
			}
		}
	}
	return gs
}

// Both modes over the three transports: the right password passes with the
// user's groups, a wrong one and an unknown user get the challenge.
func TestModesAndTransports(t *testing.T) {
	s := startLDAP(t)
	ca := aliases{"ldap-ca": s.CA.PEM}
	transports := []struct {
		name string
		kv   []string
	}{
		{"plain", nil},
		{"starttls", []string{"start_tls", "true", "ca_alias", "ldap-ca"}},
		{"ldaps", []string{"url", s.LDAPSURL, "ca_alias", "ldap-ca"}},
	}
	sp, sa := searchParams(s)
	sa["ldap-ca"] = s.CA.PEM
	modes := []struct {
		name   string
		params map[string]string
		al     aliases
	}{
		{"template", templateParams(s), ca},
		{"search", sp, sa},
	}
	for _, m := range modes {
		for _, tr := range transports {
			t.Run(m.name+"/"+tr.name, func(t *testing.T) {
				h := mustBuild(t, with(m.params, tr.kv...), m.al)
				expectOK(t, login(h, "alice", alice.Password), "alice", "admins", "devs")
				expectOK(t, login(h, "bob", bob.Password), "bob", "devs")
				expectOK(t, login(h, all.UID, all.Password), all.UID, "admins")
				expect401(t, login(h, "alice", bob.Password), "wrong password")
				expect401(t, login(h, "alice", alice.Password+"x"), "password with a suffix")
				expect401(t, login(h, "nobody", alice.Password), "unknown user")
			})
		}
	}
}

// Every character SECURITY.md names: users holding them log in with their
// own password, in both modes; injection attempts log in as nobody.
func TestTrickyNames(t *testing.T) {
	s := startLDAP(t)
	sp, sa := searchParams(s)
	modes := []struct {
		name   string
		params map[string]string
		al     aliases
	}{
		{"template", templateParams(s), nil},
		{"search", sp, sa},
	}
	attempts := []struct {
		name, user, password string
	}{
		{"star alone, alice's password", "*", alice.Password},
		{"star alone, bob's password", "*", bob.Password},
		{"prefix wildcard", "al*", alice.Password},
		{"wildcard matching st*r", "st*", star.Password},
		{"filter injection", "*)(uid=*))(|(uid=*", alice.Password},
		{"filter injection after a name", "alice)(|(uid=*", alice.Password},
		{"filter injection, always true", "alice)(&", alice.Password},
		{"escaped star written by the client", `st\2ar`, star.Password},
		{"escaped star written by the client, upper case", `st\2Ar`, star.Password},
		{"NUL after the name", "alice\x00", alice.Password},
		{"NUL and wildcard", "alice\x00*", alice.Password},
		{"control character", "alice\n", alice.Password},
		{"DN injection, more RDNs", "alice," + ldaptest.PeopleDN, alice.Password},
		{"DN injection, multi-valued RDN", "alice+cn=alice", alice.Password},
		{"DN injection, other branch", "gateway,ou=services,dc=example,dc=org", s.ServicePassword},
		{"hash form of a DN value", "#616c696365", alice.Password},
		{"empty name", "", alice.Password},
		{"empty password", "alice", ""},
		{"empty password, star", "*", ""},
		{"too long a name", strings.Repeat("a", 300), alice.Password},
		{"not UTF-8", "al\xffice", alice.Password},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			h := mustBuild(t, m.params, m.al)
			for _, a := range attempts {
				expect401(t, login(h, a.user, a.password), a.name)
			}
			for _, u := range testUsers {
				expectOK(t, login(h, u.UID, u.Password), u.UID, groupsOf(u.UID)...)
			}
		})
	}
}

// An empty password is refused without asking the directory: no bind is
// counted, and with slapd stopped it is still 401, not 503.
func TestEmptyPasswordNeverReachesLDAP(t *testing.T) {
	s := startLDAP(t)
	sp, sa := searchParams(s)
	h := mustBuild(t, sp, sa)
	ht := mustBuild(t, templateParams(s), nil)
	before := s.Binds(t)
	for _, user := range []string{"alice", "*", "nobody", ""} {
		expect401(t, login(h, user, ""), "empty password, search mode")
		expect401(t, login(ht, user, ""), "empty password, template mode")
	}
	if n := s.Binds(t) - before; n != 0 {
		t.Fatalf("slapd saw %d binds for empty passwords", n)
	}
	s.Stop(t)
	expect401(t, login(h, "alice", ""), "empty password with slapd down")
	expect401(t, login(ht, "alice", ""), "empty password with slapd down, template mode")
	expect503(t, login(h, "alice", alice.Password), "a real password with slapd down")
}

// No credentials, or not Basic: the challenge, with the realm.
func TestChallenge(t *testing.T) {
	s := startLDAP(t)
	h := mustBuild(t, templateParams(s), nil)
	hr := mustBuild(t, with(templateParams(s), "realm", "Corp Directory"), nil)
	for name, set := range map[string]func(r *http.Request){
		"none":            func(*http.Request) {},
		"bearer":          func(r *http.Request) { r.Header.Set("Authorization", "Bearer abc") },
		"bad base64":      func(r *http.Request) { r.Header.Set("Authorization", "Basic !!!") },
		"no colon inside": func(r *http.Request) { r.Header.Set("Authorization", "Basic YWxpY2U=") },
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		set(r)
		expect401(t, serve(h, r), name)
		res := serve(hr, r)
		if res.code != 401 || res.challenge != `Basic realm="Corp Directory", charset="UTF-8"` {
			t.Fatalf("%s with a realm: %v %q", name, res, res.challenge)
		}
	}
}

// The directory down, a server that never answers, a TLS failure, a
// refused service account: 503, never 401 and never a pass; back when the
// directory is.
func TestUnavailable(t *testing.T) {
	s := startLDAP(t)
	other := testpki.NewCA(t, "another CA")
	silent := ldaptest.Silent(t)
	silentS := "ldaps://" + strings.TrimPrefix(silent, "ldap://")
	sp, sa := searchParams(s)
	sa["ldap-ca"] = s.CA.PEM
	sa["other-ca"] = other.PEM
	sa["wrong"] = []byte("not-the-service-password")
	addSecrets("not-the-service-password")

	tests := []struct {
		name   string
		params map[string]string
		log    string // in the log line
		within time.Duration
	}{
		{"silent server", with(sp, "url", silent, "timeout", "200ms"), "binding as the service account", 3 * time.Second},
		{"silent server, template mode", with(templateParams(s), "url", silent, "timeout", "200ms"), "binding as the user", 3 * time.Second},
		{"silent server, LDAPS handshake", with(sp, "url", silentS, "ca_alias", "ldap-ca", "timeout", "200ms"), "TLS handshake", 3 * time.Second},
		{"silent server, StartTLS", with(sp, "url", silent, "start_tls", "true", "ca_alias", "ldap-ca", "timeout", "200ms"), "StartTLS", 3 * time.Second},
		{"LDAPS, certificate from another CA", with(sp, "url", s.LDAPSURL, "ca_alias", "other-ca"), "TLS verification of the directory's certificate failed", 3 * time.Second},
		{"StartTLS, certificate from another CA", with(sp, "start_tls", "true", "ca_alias", "other-ca"), "TLS verification of the directory's certificate failed", 3 * time.Second},
		{"LDAPS, system roots", with(sp, "url", s.LDAPSURL), "TLS verification of the directory's certificate failed", 3 * time.Second},
		{"LDAPS to the plain port", with(sp, "url", "ldaps://"+strings.TrimPrefix(s.URL, "ldap://"), "ca_alias", "ldap-ca"), "TLS handshake", 3 * time.Second},
		{"service account refused", with(sp, "bind_password", "${alias:wrong}"), "refused the service account", 3 * time.Second},
		{"search base missing", with(sp, "search_base", "ou=nowhere,dc=example,dc=org"), "searching for the user", 3 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := mustBuild(t, tc.params, sa)
			before := s.Binds(t)
			mark := logs.Len()
			start := time.Now()
			expect503(t, login(h, "alice", alice.Password), tc.name)
			if d := time.Since(start); d > tc.within {
				t.Fatalf("503 after %v, want within %v", d, tc.within)
			}
			if got := logsSince(mark); !strings.Contains(got, tc.log) || !strings.Contains(got, "level=ERROR") {
				t.Fatalf("log %q, want an error with %q", got, tc.log)
			}
			if strings.Contains(tc.name, "another CA") || strings.Contains(tc.name, "system roots") {
				if n := s.Binds(t) - before; n != 0 {
					t.Fatalf("slapd saw %d binds after a failed TLS verification: a fall-back to plain LDAP", n)
				}
			}
		})
	}
}

// Kill slapd under a working handler: 503; start it again: the pooled,
// now dead connections are replaced and logins work.
func TestDirectoryRestart(t *testing.T) {
	s := startLDAP(t)
	sp, sa := searchParams(s)
	for name, params := range map[string]map[string]string{"search": with(sp, "pool_size", "3"), "template": templateParams(s)} {
		t.Run(name, func(t *testing.T) {
			h := mustBuild(t, params, sa)
			// Fill the pool with several idle connections.
			var wg sync.WaitGroup
			for range 6 {
				wg.Go(func() { login(h, "alice", alice.Password) })
			}
			wg.Wait()
			expectOK(t, login(h, "alice", alice.Password), "alice", "admins", "devs")
			s.Stop(t)
			expect503(t, login(h, "alice", alice.Password), "slapd stopped")
			expect503(t, login(h, "bob", bob.Password), "slapd still stopped")
			s.Restart(t)
			expectOK(t, login(h, "alice", alice.Password), "alice", "admins", "devs")
			expect401(t, login(h, "alice", "wrong"), "wrong password after the restart")

			// Restart again without a failed request in between: the idle
			// connections are stale, and the first login still works.
			s.Restart(t)
			expectOK(t, login(h, "bob", bob.Password), "bob", "devs")
		})
	}
}

// A pooled connection that died without a word (frozen by a firewall, a
// crashed host): the operation times out, the connection is dropped and the
// login runs again on a new one, so the client sees a slow 200, not a 503.
func TestStaleConnectionRetried(t *testing.T) {
	s := startLDAP(t)
	px := ldaptest.NewProxy(t, s.URL)
	sp, sa := searchParams(s)
	// Long enough for a first login on a loaded machine (-race, shared
	// cores), which the frozen connection then has to wait out.
	const timeout = time.Second
	h := mustBuild(t, with(sp, "url", px.URL, "timeout", timeout.String()), sa)
	expectOK(t, login(h, "alice", alice.Password), "alice", "admins", "devs")
	px.Freeze()
	start := time.Now()
	expectOK(t, login(h, "bob", bob.Password), "bob", "devs")
	if d := time.Since(start); d < timeout {
		t.Fatalf("the login took %v: the frozen connection was not used, the test proves nothing", d)
	}
	expectOK(t, login(h, "alice", alice.Password), "alice", "admins", "devs")
}

// A success is cached for cache_ttl: the second login does not bind, works
// with the directory down, and stops working when the entry expires. A
// different password is not served from the cache.
func TestCache(t *testing.T) {
	s := startLDAP(t)
	sp, sa := searchParams(s)
	const ttl = 1500 * time.Millisecond
	h := mustBuild(t, with(sp, "cache_ttl", ttl.String()), sa)

	before := s.Binds(t)
	start := time.Now()
	expectOK(t, login(h, "alice", alice.Password), "alice", "admins", "devs")
	first := s.Binds(t) - before
	if first == 0 {
		t.Fatal("the first login did not bind")
	}
	expectOK(t, login(h, "alice", alice.Password), "alice", "admins", "devs")
	expect401(t, login(h, "alice", "wrong"), "wrong password with alice cached")
	if n := s.WaitBinds(t, before, first+1); n != first+1 {
		t.Fatalf("binds: %d after the first login, %d in all; want one more for the wrong password only", first, n)
	}

	s.Stop(t)
	if res := login(h, "alice", alice.Password); time.Since(start) < ttl {
		expectOK(t, res, "alice", "admins", "devs")
	}
	expect503(t, login(h, "alice", "other"+alice.Password), "another password is not served from the cache")
	expect503(t, login(h, "bob", bob.Password), "bob is not cached")
	eventually(t, ttl+5*time.Second, "the cached login expires", func() bool {
		return login(h, "alice", alice.Password).code == http.StatusServiceUnavailable
	})
	if d := time.Since(start); d < ttl {
		t.Fatalf("the cache entry expired after %v, before its TTL %v", d, ttl)
	}

	// cache_ttl 0: every login binds.
	s.Restart(t)
	h0 := mustBuild(t, sp, sa)
	before = s.Binds(t)
	for range 3 {
		expectOK(t, login(h0, "bob", bob.Password), "bob", "devs")
	}
	if n := s.Binds(t) - before; n < 3 {
		t.Fatalf("cache off: %d binds for 3 logins", n)
	}
}

// Groups by search (as the service account, or as the user when there is
// none) and by memberOf; none when groups are not asked for.
func TestGroups(t *testing.T) {
	s := startLDAP(t)
	sp, sa := searchParams(s)
	tp := with(templateParams(s), "member_of_attribute", "<delete>", "group_search_base", "<delete>")
	tests := []struct {
		name   string
		params map[string]string
		want   bool // groups expected
	}{
		{"search mode, group search", sp, true},
		{"search mode, Knox-style member template", with(sp, "member_value_template", "uid={0},"+ldaptest.PeopleDN), true},
		{"search mode, custom group filter", with(sp, "group_filter", "(&(objectClass=groupOfNames)(member={0}))"), true},
		{"template mode, group search as the user", with(tp, "group_search_base", ldaptest.GroupsDN), true},
		{"template mode, lookup_groups with search_base", with(tp, "lookup_groups", "true", "search_base", ldaptest.Suffix), true},
		{"template mode, group search as the service account", with(tp, "group_search_base", ldaptest.GroupsDN,
			"bind_dn", ldaptest.ServiceDN, "bind_password", "${alias:ldap-bind}"), true},
		{"no groups asked for", tp, false},
		{"lookup_groups=false wins", with(sp, "lookup_groups", "false"), false},
	}
	if s.MemberOf {
		tests = append(tests,
			struct {
				name   string
				params map[string]string
				want   bool
			}{"template mode, memberOf", with(tp, "member_of_attribute", "memberOf"), true},
			struct {
				name   string
				params map[string]string
				want   bool
			}{"search mode, memberOf", with(sp, "group_search_base", "<delete>", "member_of_attribute", "memberOf"), true},
		)
	} else {
		t.Log("slapd has no memberOf overlay: memberOf cases skipped")
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := mustBuild(t, tc.params, sa)
			for _, u := range []ldaptest.User{alice, bob, all, star} {
				var want []string
				if tc.want {
					want = groupsOf(u.UID)
				}
				expectOK(t, login(h, u.UID, u.Password), u.UID, want...)
			}
		})
	}
}

// LookupGroups, the group API's entry point, exists on the handlers that
// can answer it, and answers from the directory with the service account.
func TestLookupGroups(t *testing.T) {
	s := startLDAP(t)
	sp, sa := searchParams(s)
	lookup := func(t *testing.T, params map[string]string) groupLookup {
		t.Helper()
		gl, ok := mustBuild(t, params, sa).(groupLookup)
		if !ok {
			t.Fatal("the handler has no LookupGroups")
		}
		return gl
	}
	h := lookup(t, sp)
	// "*" is a user of its own, in no group: not everyone.
	for _, u := range []string{"alice", "bob", all.UID, "#hash", "st*r", "*"} {
		got, err := h.LookupGroups(context.Background(), u)
		if err != nil || !equal(got, groupsOf(u)) || got == nil {
			t.Fatalf("LookupGroups(%q) = %#v, %v; want %q", u, got, err, groupsOf(u))
		}
	}
	for _, u := range []string{"nobody", "al*", "st*", "*)(uid=*", "alice)(|(uid=*", "", "alice\x00"} {
		if got, err := h.LookupGroups(context.Background(), u); err != nil || got == nil || len(got) != 0 {
			t.Fatalf("LookupGroups(%q) = %#v, %v; want no groups", u, got, err)
		}
	}

	if s.MemberOf {
		ht := lookup(t, with(templateParams(s), "bind_dn", ldaptest.ServiceDN, "bind_password", "${alias:ldap-bind}"))
		if got, err := ht.LookupGroups(context.Background(), "alice"); err != nil || !equal(got, groupsOf("alice")) {
			t.Fatalf("template mode, memberOf: %q, %v", got, err)
		}
		if got, err := ht.LookupGroups(context.Background(), "nobody"); err != nil || len(got) != 0 {
			t.Fatalf("template mode, unknown user: %q, %v", got, err)
		}
	}

	for name, params := range map[string]map[string]string{
		"no service account": templateParams(s),
		"no groups":          with(sp, "group_search_base", "<delete>"),
	} {
		if _, ok := mustBuild(t, params, sa).(groupLookup); ok {
			t.Fatalf("%s: the handler offers LookupGroups, which it cannot answer", name)
		}
	}

	hc := lookup(t, with(sp, "cache_ttl", "1m"))
	if _, err := hc.LookupGroups(context.Background(), "bob"); err != nil {
		t.Fatal(err)
	}
	s.Stop(t)
	if got, err := hc.LookupGroups(context.Background(), "bob"); err != nil || !equal(got, []string{"devs"}) {
		t.Fatalf("cached lookup with slapd down: %q, %v", got, err)
	}
	if _, err := h.LookupGroups(context.Background(), "alice"); !errors.Is(err, ldap.ErrUnavailable) {
		t.Fatalf("slapd down: %v, want ErrUnavailable", err)
	}
}

// The pool never holds more than pool_size connections, and Close (which
// the chain calls when the topology is retired) closes them.
func TestPoolAndClose(t *testing.T) {
	s := startLDAP(t)
	sp, sa := searchParams(s)
	c, err := chain.Build(context.Background(), "t", []topology.Provider{
		{Role: "authentication", Name: "ldap", Params: with(sp, "pool_size", "2")},
	}, func(_ context.Context, alias string) ([]byte, error) { return sa[alias], nil })
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	for i := range 24 {
		wg.Go(func() {
			u := []ldaptest.User{alice, bob, star}[i%3]
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.SetBasicAuth(u.UID, u.Password)
			if out := c.ServeInbound(httptest.NewRecorder(), r); out == nil {
				mu.Lock()
				failures = append(failures, u.UID)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("concurrent logins failed: %q", failures)
	}
	if n := s.Connections(t); n < 1 || n > 2 {
		t.Fatalf("slapd has %d connections from a pool of 2", n)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the pool's connections close", func() bool { return s.Connections(t) == 0 })
}

// Knox's ShiroProvider params, as a Knox topology gives them, work as they are.
func TestKnoxParams(t *testing.T) {
	s := startLDAP(t)
	al := aliases{"ldcSystemPassword": []byte(s.ServicePassword)}
	knox := map[string]string{
		"sessionTimeout":                                        "30",
		"main.ldapRealm":                                        "org.apache.knox.gateway.shirorealm.KnoxLdapRealm",
		"main.ldapContextFactory":                               "org.apache.knox.gateway.shirorealm.KnoxLdapContextFactory",
		"main.ldapRealm.contextFactory":                         "$ldapContextFactory",
		"main.ldapRealm.userDnTemplate":                         "uid={0}," + ldaptest.PeopleDN,
		"main.ldapRealm.contextFactory.url":                     s.URL,
		"main.ldapRealm.contextFactory.authenticationMechanism": "simple",
		"main.ldapRealm.contextFactory.systemUsername":          ldaptest.ServiceDN,
		"main.ldapRealm.contextFactory.systemPassword":          "${alias:ldcSystemPassword}",
		"main.ldapRealm.authorizationEnabled":                   "true",
		"main.ldapRealm.searchBase":                             ldaptest.Suffix,
		"main.ldapRealm.groupObjectClass":                       "groupOfNames",
		"main.ldapRealm.memberAttribute":                        "member",
		"main.ldapRealm.authenticationCachingEnabled":           "false",
		"urls./**": "authcBasic",
	}
	h := mustBuild(t, knox, al)
	expectOK(t, login(h, "alice", alice.Password), "alice", "admins", "devs")
	expect401(t, login(h, "alice", bob.Password), "wrong password")

	search := map[string]string{
		"main.ldapRealm.contextFactory.url":            s.URL,
		"main.ldapRealm.contextFactory.systemUsername": ldaptest.ServiceDN,
		"main.ldapRealm.contextFactory.systemPassword": "${alias:ldcSystemPassword}",
		"main.ldapRealm.userSearchBase":                ldaptest.PeopleDN,
		"main.ldapRealm.userSearchAttributeName":       "uid",
		"main.ldapRealm.userObjectClass":               "inetOrgPerson",
		"main.ldapRealm.groupSearchBase":               ldaptest.GroupsDN,
		"main.ldapRealm.memberAttributeValueTemplate":  "uid={0}," + ldaptest.PeopleDN,
		"main.ldapRealm.authenticationCachingEnabled":  "true",
	}
	hs := mustBuild(t, search, al)
	expectOK(t, login(hs, "st*r", star.Password), "st*r")
	expectOK(t, login(hs, all.UID, all.Password), all.UID, "admins")
	expect401(t, login(hs, "st*", star.Password), "wildcard through userSearchAttributeName")
}

// A Knox topology with its ShiroProvider, parsed as a Knox user deploys it:
// the provider maps to ldap and its params work unchanged.
func TestKnoxTopology(t *testing.T) {
	s := startLDAP(t)
	doc := `<topology>
  <gateway>
    <provider>
      <role>authentication</role>
      <name>ShiroProvider</name>
      <enabled>true</enabled>
      <param><name>sessionTimeout</name><value>30</value></param>
      <param><name>main.ldapRealm</name><value>org.apache.knox.gateway.shirorealm.KnoxLdapRealm</value></param>
      <param><name>main.ldapContextFactory</name><value>org.apache.knox.gateway.shirorealm.KnoxLdapContextFactory</value></param>
      <param><name>main.ldapRealm.contextFactory</name><value>$ldapContextFactory</value></param>
      <param><name>main.ldapRealm.userDnTemplate</name><value>
          uid={0},` + ldaptest.PeopleDN + `
      </value></param>
      <param><name>main.ldapRealm.contextFactory.url</name><value>` + s.URL + `</value></param>
      <param><name>main.ldapRealm.contextFactory.systemUsername</name><value>` + ldaptest.ServiceDN + `</value></param>
      <param><name>main.ldapRealm.contextFactory.systemPassword</name><value>${ALIAS=ldcSystemPassword}</value></param>
      <param><name>main.ldapRealm.contextFactory.authenticationMechanism</name><value>simple</value></param>
      <param><name>main.ldapRealm.authorizationEnabled</name><value>true</value></param>
      <param><name>main.ldapRealm.groupSearchBase</name><value>` + ldaptest.GroupsDN + `</value></param>
      <param><name>urls./**</name><value>authcBasic</value></param>
    </provider>
    <provider><role>identity-assertion</role><name>Default</name><enabled>true</enabled></provider>
  </gateway>
  <service><role>ECHO</role><url>http://127.0.0.1:9/</url></service>
</topology>`
	top, err := topology.Parse([]byte(doc), topology.FormatKnoxXML, "sandbox.xml", "")
	if err != nil {
		t.Fatal(err)
	}
	var providers []topology.Provider
	for _, p := range top.Providers {
		if p.Role == "authentication" {
			providers = append(providers, p)
		}
	}
	if len(providers) != 1 || providers[0].Name != "ldap" {
		t.Fatalf("providers %+v", top.Providers)
	}
	c, err := chain.Build(context.Background(), top.Name, providers, func(_ context.Context, alias string) ([]byte, error) {
		if alias == "ldcSystemPassword" {
			return []byte(s.ServicePassword), nil
		}
		return nil, errors.New("no such alias")
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth("alice", alice.Password)
	out := c.ServeInbound(httptest.NewRecorder(), r)
	if out == nil {
		t.Fatal("alice refused")
	}
	if p, _ := identity.FromContext(out.Context()); p.Name != "alice" || !equal(p.Groups, []string{"admins", "devs"}) {
		t.Fatalf("principal %+v", p)
	}
	w := httptest.NewRecorder()
	r.SetBasicAuth("alice", "wrong")
	if c.ServeInbound(w, r) != nil || w.Code != 401 || w.Header().Get("WWW-Authenticate") != `Basic realm="sandbox", charset="UTF-8"` {
		t.Fatalf("wrong password: %d %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}
}
