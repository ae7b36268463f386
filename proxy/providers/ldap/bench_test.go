package ldap_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/securegw/gateway/proxy/chain"
)

func basicRequest(user, password string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/gateway/t/svc/", nil)
	r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+password)))
	return r
}

// BenchmarkLDAPCached: requests through the handler with a warm cache (the
// steady state of a client sending Basic credentials on every request).
func BenchmarkLDAPCached(b *testing.B) {
	s := startLDAP(b)
	sp, sa := searchParams(s)
	h := mustBuild(b, with(sp, "cache_ttl", "1h"), sa)
	expectOK(b, login(h, "alice", alice.Password), "alice", "admins", "devs")
	before := s.Binds(b)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		r := basicRequest("alice", alice.Password)
		for pb.Next() {
			if h.Authenticate(r).Verdict != chain.Authenticated {
				b.Error("cached login refused")
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	b.StopTimer()
	if n := s.Binds(b) - before; n != 0 {
		b.Fatalf("%d binds with a warm cache", n)
	}
}

// BenchmarkLDAPUncachedBinds: cache off, every request binds against the
// real slapd (search-then-bind: service bind, search, user bind, service
// bind, group search), through a pool of 4 connections.
func BenchmarkLDAPUncachedBinds(b *testing.B) {
	for _, mode := range []string{"template", "search"} {
		b.Run(mode, func(b *testing.B) {
			s := startLDAP(b)
			params, al := searchParams(s)
			if mode == "template" {
				params, al = templateParams(s), nil
				delete(params, "member_of_attribute")
				delete(params, "group_search_base")
			}
			h := mustBuild(b, params, al)
			before := s.Binds(b)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				r := basicRequest("bob", bob.Password)
				for pb.Next() {
					if h.Authenticate(r).Verdict != chain.Authenticated {
						b.Error("login refused")
						return
					}
				}
			})
			elapsed := time.Since(start)
			b.StopTimer()
			binds := s.Binds(b) - before
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "logins/s")
			b.ReportMetric(float64(binds)/elapsed.Seconds(), "binds/s")
		})
	}
}
