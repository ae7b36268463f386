package basic_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/identity"
	_ "github.com/securegw/gateway/proxy/providers/basic"
)

// argonHash returns an argon2id PHC string for password.
func argonHash(t testing.TB, password string, m, tm uint32) string {
	t.Helper()
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		t.Fatal(err)
	}
	key := argon2.IDKey([]byte(password), salt, tm, m, 1, 32)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=1$%s$%s", m, tm,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

func bcryptHash(t testing.TB, password string, cost int) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// build compiles a chain of one basic provider, as a deploy does.
func build(t testing.TB, params map[string]string, aliases map[string]string) (*chain.Chain, error) {
	t.Helper()
	return chain.Build(context.Background(), "t", []topology.Provider{{Role: "authentication", Name: "Basic", Params: maps.Clone(params)}},
		func(_ context.Context, alias string) ([]byte, error) {
			if v, ok := aliases[alias]; ok {
				return []byte(v), nil
			}
			return nil, errors.New("no such alias")
		})
}

type result struct {
	code      int
	challenge string
	body      string
	principal *identity.Principal
}

func login(h *chain.Chain, user, password string) result {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(user, password)
	return serve(h, r)
}

func serve(h *chain.Chain, r *http.Request) result {
	w := httptest.NewRecorder()
	out := h.ServeInbound(w, r)
	res := result{code: w.Code, challenge: w.Header().Get("WWW-Authenticate"), body: strings.TrimSpace(w.Body.String())}
	if out != nil {
		res.code = 0
		res.principal, _ = identity.FromContext(out.Context())
	}
	return res
}

func TestLogin(t *testing.T) {
	long72 := strings.Repeat("L", 72)
	y := bcryptHash(t, "pw-yves", bcrypt.MinCost)
	params := map[string]string{
		"user.alice": argonHash(t, "pw-alice", 1024, 1),
		"user.bob":   bcryptHash(t, "pw-bob", bcrypt.MinCost),
		"users": "carol:" + bcryptHash(t, "pw-carol", bcrypt.MinCost) + ", dave:" + argonHash(t, "pw-dave", 1024, 2) +
			"\n  frank:" + argonHash(t, "pw-frank", 2048, 1),
		"user.erin":    "${alias:erin-hash}",
		"user.yves":    "$2y$" + y[4:],
		"user.long":    bcryptHash(t, long72, bcrypt.MinCost),
		"user.jürgen*": argonHash(t, "pw-jürgen", 1024, 1),
	}
	h, err := build(t, params, map[string]string{"erin-hash": argonHash(t, "pw-erin", 1024, 1)})
	if err != nil {
		t.Fatal(err)
	}
	const challenge = `Basic realm="t", charset="UTF-8"`
	tests := []struct {
		name, user, password string
		pass                 bool
		body                 string
	}{
		{"argon2id", "alice", "pw-alice", true, ""},
		{"bcrypt", "bob", "pw-bob", true, ""},
		{"bcrypt in users", "carol", "pw-carol", true, ""},
		{"argon2id in users", "dave", "pw-dave", true, ""},
		{"third entry of users", "frank", "pw-frank", true, ""},
		{"hash from an alias", "erin", "pw-erin", true, ""},
		{"$2y$", "yves", "pw-yves", true, ""},
		{"72-byte password", "long", long72, true, ""},
		{"non-ASCII name", "jürgen*", "pw-jürgen", true, ""},
		{"wrong password, argon2id", "alice", "pw-bob", false, `{"error":"invalid credentials"}`},
		{"wrong password, bcrypt", "bob", "pw-alice", false, `{"error":"invalid credentials"}`},
		{"unknown user", "mallory", "pw-alice", false, `{"error":"invalid credentials"}`},
		{"user names are case-sensitive", "Alice", "pw-alice", false, `{"error":"invalid credentials"}`},
		{"wildcard name", "jürgen", "pw-jürgen", false, `{"error":"invalid credentials"}`},
		{"empty password", "alice", "", false, `{"error":"invalid credentials"}`},
		{"empty user", "", "pw-alice", false, `{"error":"invalid credentials"}`},
		{"bcrypt ignores bytes past 72: refused", "long", long72 + "extra", false, `{"error":"invalid credentials"}`},
		{"password with a suffix", "alice", "pw-alice ", false, `{"error":"invalid credentials"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := login(h, tc.user, tc.password)
			if tc.pass {
				p := res.principal
				if res.code != 0 || p == nil || p.Name != tc.user || p.AuthenticatedAs != tc.user || p.Provider != "basic" {
					t.Fatalf("code %d %s, principal %+v", res.code, res.body, p)
				}
				// Again: from the cache this time, same answer.
				if again := login(h, tc.user, tc.password); again.code != 0 || again.principal.Name != tc.user {
					t.Fatalf("second login: %d %s", again.code, again.body)
				}
				return
			}
			if res.code != http.StatusUnauthorized || res.challenge != challenge || res.body != tc.body {
				t.Fatalf("got %d %q %s, want 401 %q %s", res.code, res.challenge, res.body, challenge, tc.body)
			}
		})
	}
}

func TestChallengeAndRealm(t *testing.T) {
	users := map[string]string{"user.alice": bcryptHash(t, "pw-alice", bcrypt.MinCost)}
	h, err := build(t, users, nil)
	if err != nil {
		t.Fatal(err)
	}
	hr, err := build(t, with(users, "realm", "Corp Gateway"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, set := range map[string]func(*http.Request){
		"no header": func(*http.Request) {},
		"bearer":    func(r *http.Request) { r.Header.Set("Authorization", "Bearer x") },
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		set(r)
		if res := serve(h, r); res.code != 401 || res.challenge != `Basic realm="t", charset="UTF-8"` || res.body != `{"error":"authentication required"}` {
			t.Fatalf("%s: %+v", name, res)
		}
		if res := serve(hr, r); res.code != 401 || res.challenge != `Basic realm="Corp Gateway", charset="UTF-8"` {
			t.Fatalf("%s with realm: %+v", name, res)
		}
	}
	// A malformed Basic credential is a bad credential of this provider's
	// kind: refused, not passed on to a weaker provider.
	for _, v := range []string{"Basic %%%", "basic", "Basic " + base64.StdEncoding.EncodeToString([]byte("no-colon"))} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", v)
		if res := serve(h, r); res.code != 401 || res.challenge != `Basic realm="t", charset="UTF-8"` || res.body != `{"error":"invalid credentials"}` {
			t.Fatalf("%q: %+v", v, res)
		}
	}
}

// An unknown name is checked against a hash as costly as the users': its
// refusal takes about as long as a wrong password of a real user. (The
// bounds are loose: without the dummy hash the ratio is about 1000.)
func TestUnknownUserTakesAsLong(t *testing.T) {
	h, err := build(t, map[string]string{
		"user.alice": argonHash(t, "pw-alice", 16*1024, 2),
		"user.bob":   argonHash(t, "pw-bob", 16*1024, 2),
		"cache_ttl":  "0",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Interleaved, so that a load spike slows both alike.
	var known, unknown []time.Duration
	for range 7 {
		for _, user := range []string{"alice", "mallory"} {
			start := time.Now()
			if res := login(h, user, "wrong"); res.code != 401 {
				t.Fatalf("%s: %d", user, res.code)
			}
			if user == "alice" {
				known = append(known, time.Since(start))
			} else {
				unknown = append(unknown, time.Since(start))
			}
		}
	}
	median := func(ds []time.Duration) time.Duration { slices.Sort(ds); return ds[len(ds)/2] }
	k, u := median(known), median(unknown)
	if ratio := float64(u) / float64(k); ratio < 0.3 || ratio > 3 {
		t.Fatalf("wrong password of a user: %v; unknown user: %v (ratio %.2f)", k, u, ratio)
	}
}

func TestConfigErrors(t *testing.T) {
	good := bcryptHash(t, "pw", bcrypt.MinCost)
	argon := argonHash(t, "pw", 1024, 1)
	parts := strings.Split(argon, "$") // "", argon2id, v=19, m=…, salt, hash
	tests := []struct {
		name   string
		params map[string]string
		param  string
		reason string
	}{
		{"no users", map[string]string{"realm": "x"}, "users", "no users"},
		{"plain text password", map[string]string{"user.alice": "secret-plain"}, "user.alice", "is not an argon2id PHC string"},
		{"LDAP-style hash", map[string]string{"user.alice": "{SSHA}abcdefgh"}, "user.alice", "is not an argon2id PHC string"},
		{"argon2i", map[string]string{"user.alice": strings.Replace(argon, "argon2id", "argon2i", 1)}, "user.alice", "use argon2id"},
		{"argon2id version 16", map[string]string{"user.alice": strings.Replace(argon, "v=19", "v=16", 1)}, "user.alice", "version 19"},
		{"argon2id params out of order", map[string]string{"user.alice": strings.Replace(argon, "m=1024,t=1", "t=1,m=1024", 1)}, "user.alice", "m=…,t=…,p=…"},
		{"argon2id m too large", map[string]string{"user.alice": strings.Replace(argon, "m=1024", "m=4194304", 1)}, "user.alice", "m must be"},
		{"argon2id t zero", map[string]string{"user.alice": strings.Replace(argon, "t=1", "t=0", 1)}, "user.alice", "t must be"},
		{"argon2id p zero", map[string]string{"user.alice": strings.Replace(argon, "p=1", "p=0", 1)}, "user.alice", "p must be"},
		{"argon2id salt not base64", map[string]string{"user.alice": strings.Join([]string{"", parts[1], parts[2], parts[3], "!!!!!!!!!!!", parts[5]}, "$")}, "user.alice", "salt"},
		{"argon2id short hash", map[string]string{"user.alice": strings.Join([]string{"", parts[1], parts[2], parts[3], parts[4], "AAAA"}, "$")}, "user.alice", "hash must be"},
		{"argon2id missing part", map[string]string{"user.alice": strings.Join(parts[:5], "$")}, "user.alice", "want $argon2id$"},
		{"bcrypt truncated", map[string]string{"user.alice": good[:50]}, "user.alice", "bcrypt: not a valid hash"},
		{"bcrypt cost too high", map[string]string{"user.alice": "$2b$31$" + good[7:]}, "user.alice", "cost 31"},
		{"bcrypt bad alphabet", map[string]string{"user.alice": good[:20] + "!" + good[21:]}, "user.alice", "alphabet"},
		{"bcrypt $2x$", map[string]string{"user.alice": "$2x$" + good[4:]}, "user.alice", "is not an argon2id PHC string"},
		{"name with a colon", map[string]string{"user.a:b": good}, "user.a:b", "without ':'"},
		{"empty name", map[string]string{"user.": good}, "user.", "non-empty"},
		{"users entry without hash", map[string]string{"users": "alice"}, "users", "entry 1 is not name:hash"},
		{"users entry with a bad hash", map[string]string{"users": "alice:" + good + ",bob:nothash"}, "users", `user "bob"`},
		{"user twice", map[string]string{"users": "alice:" + good, "user.alice": good}, "users", "given twice"},
		{"user twice in users", map[string]string{"users": "alice:" + good + " alice:" + argon}, "users", "given twice"},
		{"alias missing", map[string]string{"user.alice": "${alias:nope}"}, "user.alice", `alias "nope"`},
		{"unknown param", map[string]string{"user.alice": good, "userz": "x"}, "userz", "not a parameter"},
		{"realm with a quote", map[string]string{"user.alice": good, "realm": `a"b`}, "realm", "without"},
		{"cache_ttl bad", map[string]string{"user.alice": good, "cache_ttl": "1"}, "cache_ttl", "duration"},
		{"cache_ttl negative", map[string]string{"user.alice": good, "cache_ttl": "-1s"}, "cache_ttl", "between 0s and 24h"},
		{"several unknown params, all named", map[string]string{"user.alice": good, "userz": "x", "Realm": "y"}, "Realm", "are not parameters of this provider"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := build(t, tc.params, nil)
			var pe *chain.ParamError
			if !errors.As(err, &pe) || pe.Param != tc.param || !strings.Contains(pe.Reason, tc.reason) {
				t.Fatalf("error %v, want param %q: …%s…", err, tc.param, tc.reason)
			}
			for _, v := range tc.params {
				if len(v) > 12 && strings.Contains(err.Error(), v) {
					t.Fatalf("the error repeats a hash or secret: %v", err)
				}
			}
			if strings.Contains(err.Error(), "secret-plain") || strings.Contains(err.Error(), good[7:]) {
				t.Fatalf("the error repeats a hash or secret: %v", err)
			}
		})
	}
}

func with(p map[string]string, kv ...string) map[string]string {
	p = maps.Clone(p)
	for i := 0; i+1 < len(kv); i += 2 {
		p[kv[i]] = kv[i+1]
	}
	return p
}
