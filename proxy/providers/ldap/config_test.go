package ldap_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/securegw/gateway/internal/testpki"
	"github.com/securegw/gateway/proxy/chain"
)

// Misconfigurations fail the deploy with an error naming the param. No
// directory is needed: configuration is checked before any connection.
func TestConfigErrors(t *testing.T) {
	const url = "ldap://127.0.0.1:1/"
	tmpl := map[string]string{"url": url, "user_dn_template": "uid={0},ou=people,dc=example,dc=org"}
	search := map[string]string{
		"url": url, "search_base": "ou=people,dc=example,dc=org",
		"bind_dn": "cn=gateway,dc=example,dc=org", "bind_password": "${alias:bind}",
	}
	ca := testpki.NewCA(t, "config CA")
	al := aliases{"bind": []byte("bind-secret-Zq9"), "empty": nil, "ca": ca.PEM, "junk": []byte("not a certificate")}
	addSecrets("bind-secret-Zq9", "plain-secret-Wx4")

	tests := []struct {
		name   string
		params map[string]string
		param  string // the param the error names
		reason string // in the error
	}{
		{"missing url", with(tmpl, "url", "<delete>"), "url", "is required"},
		{"empty url", with(tmpl, "url", ""), "url", "must not be empty"},
		{"http url", with(tmpl, "url", "http://h/"), "url", "scheme must be ldap or ldaps"},
		{"url with a base DN", with(tmpl, "url", "ldap://h/dc=x"), "url", "scheme://host[:port] only"},
		{"url with a bad port", with(tmpl, "url", "ldap://h:99999/"), "url", "bad port"},
		{"url without host", with(tmpl, "url", "ldap:///"), "url", "no host"},
		{"template without {0}", with(tmpl, "user_dn_template", "uid=alice,ou=people,dc=example,dc=org"), "user_dn_template", "must contain {0}"},
		{"template not a DN", with(tmpl, "user_dn_template", "{0}"), "user_dn_template", "not a valid DN template"},
		{"template and search", with(tmpl, "user_search_filter", "(uid={0})"), "user_search_filter", "give one of the two"},
		{"template and user search base", with(tmpl, "user_search_base", "dc=example,dc=org"), "user_search_base", "give one of the two"},
		{"neither template nor search base", map[string]string{"url": url}, "user_dn_template", "search_base"},
		{"search without service account", with(search, "bind_dn", "<delete>", "bind_password", "<delete>"), "bind_dn", "never searches anonymously"},
		{"filter without {0}", with(search, "user_search_filter", "(uid=alice)"), "user_search_filter", "must contain {0}"},
		{"filter that does not parse", with(search, "user_search_filter", "(uid={0}"), "user_search_filter", "not a valid LDAP filter"},
		{"attribute and filter", with(search, "user_search_filter", "(uid={0})", "user_search_attribute", "uid"), "user_search_attribute", "give one"},
		{"attribute with a filter in it", with(search, "user_search_attribute", "uid=*)(x"), "user_search_attribute", "not an attribute name"},
		{"object class alone", with(search, "user_object_class", "person"), "user_object_class", "only used with"},
		{"bind password in plain text", with(search, "bind_password", "plain-secret-Wx4"), "bind_password", "alias reference"},
		{"bind password half an alias", with(search, "bind_password", "x${alias:bind}"), "bind_password", "alias reference"},
		{"bind password alias missing", with(search, "bind_password", "${alias:nope}"), "bind_password", `alias "nope"`},
		{"bind password empty", with(search, "bind_password", "${alias:empty}"), "bind_password", "is empty"},
		{"bind password without bind dn", with(tmpl, "bind_password", "${alias:bind}"), "bind_password", "without bind_dn"},
		{"bind dn without password", with(tmpl, "bind_dn", "cn=x,dc=example,dc=org"), "bind_dn", "without bind_password"},
		{"bind dn not a DN", with(search, "bind_dn", "gateway"), "bind_dn", "not a valid DN"},
		{"plaintext flag not a bool", with(search, "allow_plaintext_bind_password", "yes please"), "allow_plaintext_bind_password", "true or false"},
		{"timeout without unit", with(tmpl, "timeout", "5"), "timeout", "duration"},
		{"timeout negative", with(tmpl, "timeout", "-1s"), "timeout", "between"},
		{"timeout too long", with(tmpl, "timeout", "1h"), "timeout", "between"},
		{"pool size zero", with(tmpl, "pool_size", "0"), "pool_size", "from 1 to 64"},
		{"pool size word", with(tmpl, "pool_size", "four"), "pool_size", "from 1 to 64"},
		{"cache ttl bad", with(tmpl, "cache_ttl", "soon"), "cache_ttl", "duration"},
		{"cache ttl negative", with(tmpl, "cache_ttl", "-1s"), "cache_ttl", "between"},
		{"start_tls on ldaps", with(tmpl, "url", "ldaps://h/", "start_tls", "true"), "start_tls", "already TLS"},
		{"start_tls not a bool", with(tmpl, "start_tls", "maybe"), "start_tls", "true or false"},
		{"ca on plain ldap", with(tmpl, "ca_alias", "ca"), "ca_alias", "only used with"},
		{"ca not PEM", with(tmpl, "url", "ldaps://h/", "ca_alias", "junk"), "ca_alias", "no PEM certificate"},
		{"ca alias missing", with(tmpl, "url", "ldaps://h/", "ca_alias", "nope"), "ca_alias", `alias "nope"`},
		{"ca twice", with(tmpl, "url", "ldaps://h/", "ca_alias", "ca", "truststore", "${alias:ca}"), "truststore", "give one"},
		{"realm with a quote", with(tmpl, "realm", `a"b`), "realm", "must not contain"},
		{"realm with a newline", with(tmpl, "realm", "a\nb"), "realm", "control characters"},
		{"unknown param", with(tmpl, "userDnTemplate", "x"), "userDnTemplate", "not a parameter"},
		{"Knox and our name", with(tmpl, "main.ldapRealm.userDnTemplate", "uid={0},dc=example,dc=org"), "user_dn_template", "same setting"},
		{"Knox PAM realm", with(tmpl, "main.ldapRealm", "org.apache.knox.gateway.shirorealm.KnoxPamRealm"), "main.ldapRealm", "only"},
		{"Knox digest mechanism", with(tmpl, "main.ldapRealm.contextFactory.authenticationMechanism", "DIGEST-MD5"), "main.ldapRealm.contextFactory.authenticationMechanism", "only simple"},
		{"Knox caching off with a ttl", with(tmpl, "main.ldapRealm.authenticationCachingEnabled", "false", "cache_ttl", "1m"), "cache_ttl", "contradicts"},
		{"group filter without {0}", with(search, "group_filter", "(objectClass=groupOfNames)"), "group_filter", "must contain {0}"},
		{"group filter and member attribute", with(search, "group_filter", "(member={0})", "member_attribute", "member"), "member_attribute", "give one"},
		{"group search without a base", with(tmpl, "group_object_class", "groupOfNames"), "group_search_base", "is required"},
		{"memberOf and group search", with(search, "member_of_attribute", "memberOf", "group_search_base", "dc=example,dc=org"), "group_search_base", "give one of the two"},
		{"member template without {0}", with(search, "member_value_template", "uid=x,dc=example,dc=org"), "member_value_template", "must contain {0}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := build(t, tc.params, al)
			if err == nil {
				t.Fatalf("built %T, want an error about %q", h, tc.param)
			}
			var pe *chain.ParamError
			if !errors.As(err, &pe) || pe.Param != tc.param || !strings.Contains(pe.Reason, tc.reason) {
				t.Fatalf("error %v, want param %q: …%s…", err, tc.param, tc.reason)
			}
			for _, secret := range []string{"bind-secret-Zq9", "plain-secret-Wx4", "not a certificate"} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("the error shows a secret: %v", err)
				}
			}
		})
	}
}

// Accepted configurations, and the warnings some of them log.
func TestConfigAccepted(t *testing.T) {
	al := aliases{"bind": []byte("bind-secret-Zq9"), "ca": testpki.NewCA(t, "config CA").PEM}
	tests := []struct {
		name   string
		params map[string]string
		warn   string // "" for none
	}{
		{"template, loopback, defaults", map[string]string{"url": "ldap://127.0.0.1/", "user_dn_template": "uid={0},dc=example,dc=org"}, ""},
		{"plain text bind password allowed", map[string]string{
			"url": "ldap://127.0.0.1/", "search_base": "dc=example,dc=org", "bind_dn": "cn=gw,dc=example,dc=org",
			"bind_password": "plain-secret-Wx4", "allow_plaintext_bind_password": "true",
		}, "bind_password is given in plain text"},
		{"unencrypted to another host", map[string]string{"url": "ldap://ldap.example.org/", "user_dn_template": "uid={0},dc=example,dc=org"}, "not encrypted"},
		{"ldaps with a CA, no warning", map[string]string{"url": "ldaps://ldap.example.org/", "user_dn_template": "uid={0},dc=example,dc=org", "ca_alias": "ca"}, ""},
		{"Knox authorizationEnabled=false turns groups off", map[string]string{
			"url": "ldap://127.0.0.1/", "user_dn_template": "uid={0},dc=example,dc=org",
			"main.ldapRealm.authorizationEnabled": "false", "group_search_base": "dc=example,dc=org",
		}, "main.ldapRealm.authorizationEnabled is false: the group params are ignored"},
		{"truststore as alias text", map[string]string{"url": "ldap://ldap.example.org/", "start_tls": "true", "user_dn_template": "uid={0},dc=example,dc=org", "truststore": "${alias:ca}"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mark := logs.Len()
			if _, err := build(t, tc.params, al); err != nil {
				t.Fatal(err)
			}
			got := logsSince(mark)
			if tc.warn == "" && strings.Contains(got, "level=WARN") {
				t.Fatalf("unexpected warning: %s", got)
			}
			if tc.warn != "" && (!strings.Contains(got, tc.warn) || !strings.Contains(got, "level=WARN")) {
				t.Fatalf("log %q, want a warning with %q", got, tc.warn)
			}
		})
	}
}
