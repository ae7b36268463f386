package ldap

import (
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// escapeDNValue's output parses back to its input, for every character
// RFC 4514 treats specially, and leaves nothing an attacker could use to
// add an RDN or an attribute.
func TestEscapeDNValue(t *testing.T) {
	tests := []struct{ in, want string }{
		{"alice", "alice"},
		{"a,b", `a\,b`},
		{"a+b", `a\+b`},
		{"a=b", `a\=b`},
		{`a\b`, `a\\b`},
		{`a"b`, `a\"b`},
		{"a;b<c>d", `a\;b\<c\>d`},
		{"#a#", `\#a#`},
		{" a b ", `\ a b\ `},
		{" ", `\ `},
		{"a\x00b", `a\00b`},
		{"a\nb\x7f", `a\0Ab\7F`},
		{"*(x)", "*(x)"},
		{"jürgen", "jürgen"},
		{"", ""},
	}
	for _, tc := range tests {
		got := escapeDNValue(tc.in)
		if got != tc.want {
			t.Errorf("escapeDNValue(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if tc.in == "" {
			continue
		}
		dn, err := goldap.ParseDN("uid=" + got + ",dc=example,dc=org")
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if len(dn.RDNs) != 3 || len(dn.RDNs[0].Attributes) != 1 || dn.RDNs[0].Attributes[0].Value != tc.in {
			t.Errorf("%q parses back as %+v", tc.in, dn.RDNs[0].Attributes)
		}
	}
}

func TestAcceptableUser(t *testing.T) {
	for in, want := range map[string]bool{
		"alice": true, "*": true, `a\b`: true, " lead": true, "jürgen": true,
		"": false, "a\x00": false, "a\tb": false, "a\x7f": false, "\xff": false,
		strings.Repeat("a", maxUserLen): true, strings.Repeat("a", maxUserLen+1): false,
	} {
		if got := acceptableUser(in); got != want {
			t.Errorf("acceptableUser(%q) = %v", in, got)
		}
	}
}

func TestIsAliasRef(t *testing.T) {
	for in, want := range map[string]bool{
		"${alias:x}": true, "${alias:ldap-bind}": true,
		"${alias:}": false, "x${alias:a}": false, "${alias:a}x": false, "${alias:a}${alias:b}": false,
		"secret": false, "": false, "${ALIAS=x}": false,
	} {
		if got := isAliasRef(in); got != want {
			t.Errorf("isAliasRef(%q) = %v", in, got)
		}
	}
}

func TestValidAttribute(t *testing.T) {
	for in, want := range map[string]bool{
		"uid": true, "memberOf": true, "sAMAccountName": true, "2.5.4.3": true, "userCertificate;binary": true,
		"": false, "-uid": false, "uid=*": false, "u id": false, "(uid)": false, "uid;": false,
	} {
		if got := validAttribute(in); got != want {
			t.Errorf("validAttribute(%q) = %v", in, got)
		}
	}
}

func TestFirstRDNValue(t *testing.T) {
	for in, want := range map[string]string{
		"cn=admins,ou=groups,dc=example,dc=org": "admins",
		`cn=a\2Cb,dc=x`:                         "a,b",
		"not a dn":                              "",
	} {
		if got := firstRDNValue(in); got != want {
			t.Errorf("firstRDNValue(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTTLCache(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newTTLCache[int](time.Minute)
	c.now = func() time.Time { return now }
	c.put("a", 1)
	if v, ok := c.get("a"); !ok || v != 1 {
		t.Fatalf("get after put: %v %v", v, ok)
	}
	if _, ok := c.get("b"); ok {
		t.Fatal("get of an absent key")
	}
	now = now.Add(time.Minute - time.Nanosecond)
	if _, ok := c.get("a"); !ok {
		t.Fatal("expired before its TTL")
	}
	now = now.Add(time.Nanosecond)
	if _, ok := c.get("a"); ok {
		t.Fatal("served at its TTL")
	}

	// Full: expired entries make room first, then an arbitrary one.
	for i := range maxCacheEntries {
		c.put(string(rune(i+0x10000)), i)
	}
	now = now.Add(2 * time.Minute)
	c.put("fresh", 1)
	if len(c.m) != 1 {
		t.Fatalf("%d entries after a put into a full cache of expired entries", len(c.m))
	}
	for i := range maxCacheEntries + 10 {
		c.put(string(rune(i+0x10000)), i)
	}
	if len(c.m) > maxCacheEntries {
		t.Fatalf("%d entries, more than %d", len(c.m), maxCacheEntries)
	}
}
