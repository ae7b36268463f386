// Package ldaptest runs a real OpenLDAP slapd for tests: a throw-away
// directory (mdb backend, suffix dc=example,dc=org) on 127.0.0.1 with
// OS-chosen ports, plain LDAP with StartTLS and LDAPS with a certificate
// from a test CA, the memberOf overlay when Debian's slapd ships it, and the
// monitor backend so that tests can count the binds the server saw.
//
// Start finds /usr/sbin/slapd, running scripts/test-deps.sh once when it is
// missing; a test fails with a clear message when it still is. Servers stop
// (SIGKILL, then the directory is removed) in t.Cleanup.
//
// Silent returns the URL of a TCP listener that accepts connections and
// never answers: an LDAP server that hangs.
package ldaptest
