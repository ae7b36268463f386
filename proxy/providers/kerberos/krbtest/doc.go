// Package krbtest runs a real MIT Kerberos KDC for tests: a throw-away
// realm (EXAMPLE.TEST) in a temporary directory, its KDC listening on
// 127.0.0.1 with an OS-chosen TCP port, principals created per test run.
//
// Nothing outside the temporary directory is read or written: KRB5_CONFIG
// and KRB5_KDC_PROFILE point into it for every command the package runs,
// and Env gives the same variables (plus KRB5CCNAME) to the client tools a
// test runs itself (kinit, curl --negotiate). The client configuration has
// rdns = false, dns_canonicalize_hostname = false (a client asks for
// HTTP/localhost when it talks to http://localhost:PORT) and
// udp_preference_limit = 1 (every exchange over TCP).
//
// Start finds Debian's krb5kdc, kdb5_util and kadmin.local, running
// scripts/test-deps.sh once when they are missing; a test fails with a
// clear message when they still are. The KDC is killed, and its files
// removed, in t.Cleanup.
package krbtest
