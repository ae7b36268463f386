package basic

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/securegw/gateway/proxy/chain"
)

type counting struct {
	verifier
	n atomic.Int64
}

func (c *counting) verify(p []byte) bool { c.n.Add(1); return c.verifier.verify(p) }

func hashOf(t *testing.T, pw string, cost int) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func newTest(t *testing.T, params chain.Params) *Handler {
	t.Helper()
	h, err := newHandler(context.Background(), chain.Config{Topology: "t", Params: params})
	if err != nil {
		t.Fatal(err)
	}
	return h.(*Handler)
}

func login(h *Handler, user, pw string) bool {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(user, pw)
	return h.Authenticate(r).Verdict == chain.Authenticated
}

// The dummy hash has the scheme and cost most users have, and an unknown
// user is checked against it, once.
func TestDummyHash(t *testing.T) {
	h := newTest(t, chain.Params{
		"user.a": hashOf(t, "x", 5), "user.b": hashOf(t, "x", 5), "user.c": hashOf(t, "x", 4),
		"cache_ttl": "0",
	})
	if got, want := h.unknown.scheme(), "bcrypt cost=5"; got != want {
		t.Fatalf("dummy scheme %q, want %q", got, want)
	}
	d := &counting{verifier: h.unknown}
	a := &counting{verifier: h.users["a"]}
	h.unknown, h.users["a"] = d, a
	if login(h, "nobody", "x") || login(h, "a", "wrong") {
		t.Fatal("login passed")
	}
	if d.n.Load() != 1 || a.n.Load() != 1 {
		t.Fatalf("dummy checked %d times, user a %d times; want 1 and 1", d.n.Load(), a.n.Load())
	}
	if login(h, "a", "") || d.n.Load()+a.n.Load() != 2 {
		t.Fatal("an empty password was checked against a hash")
	}
}

// A matching password is remembered for cache_ttl: the second login checks
// no hash; a different password does.
func TestCacheSkipsHash(t *testing.T) {
	h := newTest(t, chain.Params{"user.a": hashOf(t, "pw", 4)})
	a := &counting{verifier: h.users["a"]}
	h.users["a"] = a
	for i, tc := range []struct {
		pw     string
		pass   bool
		checks int64
	}{
		{"pw", true, 1},
		{"pw", true, 1},
		{"wrong", false, 2},
		{"pw", true, 2},
	} {
		if got := login(h, "a", tc.pw); got != tc.pass || a.n.Load() != tc.checks {
			t.Fatalf("step %d: pass %v, %d hash checks; want %v, %d", i, got, a.n.Load(), tc.pass, tc.checks)
		}
	}
	off := newTest(t, chain.Params{"user.a": hashOf(t, "pw", 4), "cache_ttl": "0"})
	c := &counting{verifier: off.users["a"]}
	off.users["a"] = c
	login(off, "a", "pw")
	login(off, "a", "pw")
	if c.n.Load() != 2 {
		t.Fatalf("cache off: %d hash checks for 2 logins", c.n.Load())
	}
}
