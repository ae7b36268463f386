package fedsig_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/securegw/gateway/internal/fedsig"
	"github.com/securegw/gateway/proxy/chain/replay"
)

var (
	secret = []byte("0123456789abcdef-shared-secret")
	t0     = time.Unix(1767225600, 0)
)

type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

func newVerifier(t testing.TB, key []byte, c *clock) *fedsig.Verifier {
	t.Helper()
	v, err := fedsig.NewVerifier(key, time.Minute, replay.New(1024, c))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func sign(t testing.TB, key []byte, r fedsig.Request, at time.Time) string {
	t.Helper()
	s, err := fedsig.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	return s.Sign(&r, at)
}

func TestVerify(t *testing.T) {
	req := fedsig.Request{Method: "GET", Path: "/gateway/aws/webhdfs/v1/tmp", RawQuery: "op=LISTSTATUS", User: "alice", Groups: "etl,analysts"}
	with := func(f func(*fedsig.Request)) fedsig.Request { r := req; f(&r); return r }
	good := sign(t, secret, req, t0)
	tests := []struct {
		name  string
		value string
		req   fedsig.Request
		now   time.Time
		want  error
	}{
		{"good", good, req, t0, nil},
		{"good, receiver's clock 59s ahead", good, req, t0.Add(59 * time.Second), nil},
		{"good, receiver's clock 59s behind", good, req, t0.Add(-59 * time.Second), nil},
		{"expired timestamp", good, req, t0.Add(61 * time.Second), fedsig.ErrStale},
		{"timestamp from the future", good, req, t0.Add(-61 * time.Second), fedsig.ErrStale},
		{"wrong secret", sign(t, []byte("another-secret-of-enough-bytes"), req, t0), req, t0, fedsig.ErrMismatch},
		{"other method", good, with(func(r *fedsig.Request) { r.Method = "DELETE" }), t0, fedsig.ErrMismatch},
		{"other path", good, with(func(r *fedsig.Request) { r.Path = "/gateway/aws/webhdfs/v1/etc" }), t0, fedsig.ErrMismatch},
		{"other topology", good, with(func(r *fedsig.Request) { r.Path = "/gateway/gcp/webhdfs/v1/tmp" }), t0, fedsig.ErrMismatch},
		{"other query", good, with(func(r *fedsig.Request) { r.RawQuery = "op=DELETE" }), t0, fedsig.ErrMismatch},
		{"query dropped", good, with(func(r *fedsig.Request) { r.RawQuery = "" }), t0, fedsig.ErrMismatch},
		{"other user", good, with(func(r *fedsig.Request) { r.User = "admin" }), t0, fedsig.ErrMismatch},
		{"groups added", good, with(func(r *fedsig.Request) { r.Groups = "etl,analysts,admin" }), t0, fedsig.ErrMismatch},
		{"groups dropped", good, with(func(r *fedsig.Request) { r.Groups = "" }), t0, fedsig.ErrMismatch},
		// Length prefixes: moving bytes from one field to the next changes the MAC.
		{"field boundary moved", good, with(func(r *fedsig.Request) { r.User, r.Groups = "alice,etl", "analysts" }), t0, fedsig.ErrMismatch},
		{"timestamp edited", strings.Replace(good, " t=1767225600", " t=1767225601", 1), req, t0, fedsig.ErrMismatch},
		{"empty", "", req, t0, fedsig.ErrMalformed},
		{"other version", "v2" + good[2:], req, t0, fedsig.ErrMalformed},
		{"fields reordered", reorder(good), req, t0, fedsig.ErrMalformed},
		{"truncated signature", good[:len(good)-1], req, t0, fedsig.ErrMalformed},
		{"two signatures", good + ", " + good, req, t0, fedsig.ErrMalformed},
		{"timestamp not a number", strings.Replace(good, " t=1767225600", " t=17672256x0", 1), req, t0, fedsig.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, secret, &clock{tc.now})
			err := v.Verify(tc.value, &tc.req, tc.now)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), string(secret)) {
				t.Fatalf("the error carries the secret: %v", err)
			}
		})
	}
}

func reorder(v string) string {
	f := strings.Fields(v)
	return strings.Join([]string{f[0], f[2], f[1], f[3]}, " ")
}

func TestReplayRefused(t *testing.T) {
	c := &clock{t0}
	v := newVerifier(t, secret, c)
	req := fedsig.Request{Method: "POST", Path: "/gateway/aws/livy/batches", User: "alice"}
	sig := sign(t, secret, req, t0)
	if err := v.Verify(sig, &req, t0); err != nil {
		t.Fatalf("first use: %v", err)
	}
	c.t = t0.Add(30 * time.Second)
	if err := v.Verify(sig, &req, c.t); !errors.Is(err, fedsig.ErrReplayed) {
		t.Fatalf("second use = %v, want ErrReplayed", err)
	}
	// A second gateway sharing the replay cache refuses it too.
	shared := replay.New(16, c)
	a, _ := fedsig.NewVerifier(secret, time.Minute, shared)
	b, _ := fedsig.NewVerifier(secret, time.Minute, shared)
	sig2 := sign(t, secret, req, c.t)
	if err := a.Verify(sig2, &req, c.t); err != nil {
		t.Fatalf("gateway a: %v", err)
	}
	if err := b.Verify(sig2, &req, c.t); !errors.Is(err, fedsig.ErrReplayed) {
		t.Fatalf("gateway b = %v, want ErrReplayed", err)
	}
	// Two signatures of the same request carry different nonces.
	if s1, s2 := sign(t, secret, req, t0), sign(t, secret, req, t0); s1 == s2 {
		t.Fatal("two signatures at the same second are equal: the nonce is not fresh")
	}
}

func TestBadConfig(t *testing.T) {
	if _, err := fedsig.NewSigner([]byte("short")); err == nil || !strings.Contains(err.Error(), "at least 16 bytes") {
		t.Fatalf("NewSigner(short) = %v", err)
	}
	if _, err := fedsig.NewVerifier([]byte("short"), time.Minute, replay.New(1, nil)); err == nil {
		t.Fatal("NewVerifier accepted a short secret")
	}
	if _, err := fedsig.NewVerifier(secret, 0, replay.New(1, nil)); err == nil {
		t.Fatal("NewVerifier accepted a zero window")
	}
	if _, err := fedsig.NewVerifier(secret, time.Minute, nil); err == nil {
		t.Fatal("NewVerifier accepted no replay cache")
	}
}

func BenchmarkVerify(b *testing.B) {
	req := fedsig.Request{Method: "GET", Path: "/gateway/aws/webhdfs/v1/tmp/data.csv", RawQuery: "op=OPEN&offset=0", User: "alice", Groups: "etl,analysts"}
	s, _ := fedsig.NewSigner(secret)
	sigs := make([]string, b.N)
	for i := range sigs {
		sigs[i] = s.Sign(&req, t0)
	}
	v, _ := fedsig.NewVerifier(secret, time.Minute, replay.New(b.N+1, &clock{t0}))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := v.Verify(sigs[i], &req, t0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	req := fedsig.Request{Method: "GET", Path: "/gateway/aws/webhdfs/v1/tmp/data.csv", RawQuery: "op=OPEN&offset=0", User: "alice", Groups: "etl,analysts"}
	s, _ := fedsig.NewSigner(secret)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = s.Sign(&req, t0)
	}
}
