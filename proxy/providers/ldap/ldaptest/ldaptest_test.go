package ldaptest_test

import (
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/securegw/gateway/proxy/providers/ldap/ldaptest"
)

func dial(t *testing.T, url string, tc *tls.Config) *goldap.Conn {
	t.Helper()
	l, err := goldap.DialURL(url, goldap.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}), goldap.DialWithTLSConfig(tc))
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	l.SetTimeout(5 * time.Second)
	t.Cleanup(func() { l.Close() })
	return l
}

// The harness is itself tested: users with awkward names bind with their
// own passwords over plain LDAP, StartTLS and LDAPS, groups and memberOf are
// there, the bind counter counts, and Stop and Restart do what they say.
func TestServer(t *testing.T) {
	users := []ldaptest.User{
		{UID: "alice", Password: "alice-pw"},
		{UID: `a*b(c)d\e,f=g+h`, Password: "odd-pw"},
		{UID: "#hash", Password: "hash-pw"},
		{UID: " lead", Password: "lead-pw"},
	}
	start := time.Now()
	s := ldaptest.Start(t, ldaptest.Options{
		Users:  users,
		Groups: []ldaptest.Group{{CN: "admins", Members: []string{"alice", "#hash"}}},
	})
	t.Logf("slapd ready and loaded in %v (memberOf: %v)", time.Since(start), s.MemberOf)
	tc := &tls.Config{RootCAs: s.CA.Pool(), ServerName: "127.0.0.1"}

	before := s.Binds(t)
	for _, u := range users {
		l := dial(t, s.URL, nil)
		if err := l.Bind(s.UserDN(u.UID), u.Password); err != nil {
			t.Errorf("bind %q: %v", u.UID, err)
		}
		if err := l.Bind(s.UserDN(u.UID), "wrong"); !goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials) {
			t.Errorf("bind %q with a wrong password: %v", u.UID, err)
		}
	}
	if want := int64(2 * len(users)); s.WaitBinds(t, before, want) != want {
		t.Errorf("bind count moved by %d, want %d", s.Binds(t)-before, want)
	}

	l := dial(t, s.URL, nil)
	if err := l.StartTLS(tc); err != nil {
		t.Fatalf("StartTLS: %v", err)
	}
	if err := l.Bind(ldaptest.ServiceDN, s.ServicePassword); err != nil {
		t.Fatalf("service bind over StartTLS: %v", err)
	}
	res, err := l.Search(goldap.NewSearchRequest(ldaptest.GroupsDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
		"(member="+goldap.EscapeFilter(s.UserDN("#hash"))+")", []string{"cn"}, nil))
	if err != nil || len(res.Entries) != 1 || res.Entries[0].GetAttributeValue("cn") != "admins" {
		t.Fatalf("group search: %v %+v", err, res)
	}
	if s.MemberOf {
		res, err := l.Search(goldap.NewSearchRequest(s.UserDN("alice"), goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", []string{"memberOf"}, nil))
		if err != nil || len(res.Entries) != 1 || !strings.EqualFold(res.Entries[0].GetAttributeValue("memberOf"), s.GroupDN("admins")) {
			t.Fatalf("memberOf: %v %+v", err, res)
		}
	}

	ls := dial(t, s.LDAPSURL, tc)
	if err := ls.Bind(s.UserDN("alice"), "alice-pw"); err != nil {
		t.Fatalf("bind over LDAPS: %v", err)
	}

	s.Stop(t)
	if c, err := net.DialTimeout("tcp", strings.TrimSuffix(strings.TrimPrefix(s.URL, "ldap://"), "/"), time.Second); err == nil {
		c.Close()
		t.Fatal("the port still accepts connections after Stop")
	}
	s.Restart(t)
	l = dial(t, s.URL, nil)
	if err := l.Bind(s.UserDN("alice"), "alice-pw"); err != nil {
		t.Fatalf("bind after Restart: %v", err)
	}
}

func TestSilent(t *testing.T) {
	u := ldaptest.Silent(t)
	l := dial(t, u, nil)
	l.SetTimeout(100 * time.Millisecond)
	start := time.Now()
	if err := l.Bind("cn=x", "y"); err == nil {
		t.Fatal("bind against a silent server succeeded")
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("bind failed after %v, before the timeout: the server answered", d)
	}
}
