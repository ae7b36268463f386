package kerberos_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/securegw/gateway/proxy/providers/kerberos"
)

// hadoopRules are the rules of Hadoop's own TestKerberosName (hadoop-auth,
// org.apache.hadoop.security.authentication.util), whose default realm is
// EXAMPLE.COM.
const hadoopRules = `RULE:[1:$1@$0](.*@YAHOO\.COM)s/@.*//
RULE:[2:$1](johndoe)s/^.*$/guest/
RULE:[2:$1;$2](^.*;admin$)s/;admin$//
RULE:[2:$2](root)
DEFAULT`

func TestRulesHadoopExamples(t *testing.T) {
	rs, err := kerberos.ParseRules(hadoopRules, "EXAMPLE.COM")
	if err != nil {
		t.Fatal(err)
	}
	// TestKerberosName.testRules
	for in, want := range map[string]string{
		"omalley@EXAMPLE.COM":       "omalley",
		"hdfs/10.0.0.1@EXAMPLE.COM": "hdfs",
		"oom@YAHOO.COM":             "oom",
		"johndoe/zoo@FOO.COM":       "guest",
		"joe/admin@FOO.COM":         "joe",
		"joe/root@FOO.COM":          "root",
		"simple":                    "simple", // already simple: unchanged
	} {
		got, err := rs.ShortName(in)
		if err != nil || got != want {
			t.Errorf("ShortName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	// TestKerberosName.testAntiPatterns: malformed names, then names no rule maps.
	for _, in := range []string{"owen/owen/owen@FOO.COM", "owen@foo/bar.com"} {
		if got, err := rs.ShortName(in); err == nil || !strings.Contains(err.Error(), "malformed") {
			t.Errorf("ShortName(%q) = %q, %v; want a malformed-name error", in, got, err)
		}
	}
	for _, in := range []string{"foo@ACME.COM", "root/joe@FOO.COM"} {
		if got, err := rs.ShortName(in); !errors.Is(err, kerberos.ErrNoRule) {
			t.Errorf("ShortName(%q) = %q, %v; want ErrNoRule", in, got, err)
		}
	}
}

// TestKerberosName.testToLowerCase
func TestRulesHadoopLowerCase(t *testing.T) {
	rules := `RULE:[1:$1]/L
RULE:[2:$1]/L
RULE:[2:$1;$2](^.*;admin$)s/;admin$///L
RULE:[2:$1;$2](^.*;guest$)s/;guest$//g/L
DEFAULT`
	rs, err := kerberos.ParseRules(rules, "EXAMPLE.COM")
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"Joe@FOO.COM":            "joe",
		"Joe/root@FOO.COM":       "joe",
		"Joe/admin@FOO.COM":      "joe",
		"Joe/guestguest@FOO.COM": "joe",
	} {
		got, err := rs.ShortName(in)
		if err != nil || got != want {
			t.Errorf("ShortName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestRulesMore(t *testing.T) {
	tests := []struct {
		name, rules, in, want, err string
	}{
		{"default strips the default realm", "", "alice@EXAMPLE.TEST", "alice", ""},
		{"default: other realm maps to nothing", "", "alice@OTHER.TEST", "", "no auth_to_local rule"},
		{"replacement with a group", `RULE:[1:$1@$0](.*@OTHER\.TEST)s/(.*)@OTHER\.TEST/x-$1/`, "bob@OTHER.TEST", "x-bob", ""},
		{"replace first vs all", `RULE:[1:$1](.*)s/o/0/`, "foo@R", "f0o", ""},
		{"global", `RULE:[1:$1](.*)s/o/0/g`, "foo@R", "f00", ""},
		{"match is a full match", `RULE:[1:$1](ali)`, "alice@R", "", "no auth_to_local rule"},
		{"non-simple result refused", `RULE:[1:$1@$0]`, "alice@R", "", "non-simple"},
		{"first rule wins", "RULE:[1:$1]s/.*/first/\nRULE:[1:$1]s/.*/second/", "a@R", "first", ""},
		{"components must match", `RULE:[2:$1]`, "alice@R", "", "no auth_to_local rule"},
		{"rules on one line", `RULE:[2:$1] RULE:[1:$1]`, "alice@R", "alice", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := kerberos.ParseRules(tc.rules, "EXAMPLE.TEST")
			if err != nil {
				t.Fatal(err)
			}
			got, err := rs.ShortName(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ShortName(%q) = %q, %v; want an error with %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ShortName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestRulesParseErrors(t *testing.T) {
	for _, tc := range []struct{ rules, err string }{
		{"RULE:[1:$1", "invalid rule"},
		{"BOGUS", "invalid rule"},
		{"RULE:[3:$1]", "1 or 2"},
		{"RULE:[1:$2]", "outside 0 to 1"},
		{"RULE:[1:$x]", "without a component number"},
		{"RULE:[1:$1]((?=x))", "match"},
		{"RULE:[1:$1]s/(/x/", "s/(/"},
	} {
		if _, err := kerberos.ParseRules(tc.rules, "R"); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("ParseRules(%q) = %v; want an error with %q", tc.rules, err, tc.err)
		}
	}
}
