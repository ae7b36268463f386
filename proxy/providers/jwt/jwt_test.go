package jwt

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/securegw/gateway/internal/jwtkit"
	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/identity"
)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

var now = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

func newKey(t *testing.T) (*ecdsa.PrivateKey, string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	return k, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func handler(t *testing.T, params map[string]string) *Handler {
	t.Helper()
	h, err := build(context.Background(), chain.Config{Topology: "t", Provider: Name, Role: chain.RoleFederation, Params: params,
		Host: chain.Host{Clock: fixedClock{now}}, Logger: nil}, false)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func sign(t *testing.T, key any, alg, kid string, claims gojwt.MapClaims) string {
	t.Helper()
	s, err := jwtkit.Sign(alg, kid, key, claims)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func good() gojwt.MapClaims {
	return gojwt.MapClaims{"sub": "alice", "iss": "https://idp.example", "aud": "svc", "exp": now.Add(time.Hour).Unix(),
		"nbf": now.Add(-time.Minute).Unix(), "iat": now.Add(-time.Minute).Unix(), "jti": "j1"}
}

func with(c gojwt.MapClaims, k string, v any) gojwt.MapClaims {
	out := gojwt.MapClaims{}
	for kk, vv := range c {
		out[kk] = vv
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func request(token, where string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "https://gw/gateway/t/svc/x", nil)
	switch where {
	case "bearer":
		r.Header.Set("Authorization", "Bearer "+token)
	case "query":
		r.URL.RawQuery = "access_token=" + token
	case "cookie":
		r.AddCookie(&http.Cookie{Name: "jwt", Value: token})
	}
	return r
}

// SECURITY.md "Tokens", every line against a provider verifying a
// configured PEM key: each bad token is refused with the one message.
func TestJWTProviderRefusesBadTokens(t *testing.T) {
	key, pubPEM := newKey(t)
	other, _ := newKey(t)
	h := handler(t, map[string]string{ParamPEM: pubPEM, ParamIssuer: "https://idp.example", ParamAudiences: "svc,other", ParamGatewayKeys: "false"})
	valid := sign(t, key, "ES256", "", good())
	parts := strings.Split(valid, ".")
	dupHeader := b64(`{"alg":"ES256","alg":"none"}`) + "." + parts[1] + "." + parts[2]
	dupClaims := parts[0] + "." + b64(`{"sub":"alice","sub":"admin","exp":9999999999}`) + "." + parts[2]
	tests := []struct {
		name  string
		token string
	}{
		{"alg none", b64(`{"alg":"none","typ":"JWT"}`) + "." + parts[1] + "."},
		{"alg None with a signature", b64(`{"alg":"None"}`) + "." + parts[1] + "." + parts[2]},
		{"HS256 signed with the public key", sign(t, []byte(pubPEM), "HS256", "", good())},
		{"expired", sign(t, key, "ES256", "", with(good(), "exp", now.Add(-time.Hour).Unix()))},
		{"not yet valid", sign(t, key, "ES256", "", with(good(), "nbf", now.Add(time.Hour).Unix()))},
		{"no expiry", sign(t, key, "ES256", "", with(good(), "exp", nil))},
		{"wrong issuer", sign(t, key, "ES256", "", with(good(), "iss", "https://evil.example"))},
		{"wrong audience", sign(t, key, "ES256", "", with(good(), "aud", "nope"))},
		{"wrong audience array", sign(t, key, "ES256", "", with(good(), "aud", []string{"nope", "nada"}))},
		{"bad signature", sign(t, other, "ES256", "", good())},
		{"signature of another token", parts[0] + "." + b64(`{"sub":"admin","exp":9999999999}`) + "." + parts[2]},
		{"truncated", valid[:len(valid)-10]},
		{"two segments", parts[0] + "." + parts[1]},
		{"oversized", parts[0] + "." + b64(`{"sub":"alice","pad":"`+strings.Repeat("x", jwtkit.MaxTokenBytes)+`"}`) + "." + parts[2]},
		{"duplicate header key", dupHeader},
		{"duplicate claim key", dupClaims},
		{"not base64", "!!!.???.***"},
		{"algorithm not pinned", sign(t, key, "ES256", "", good())[0:0] + b64(`{"alg":"ES384"}`) + "." + parts[1] + "." + parts[2]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := h.Authenticate(request(tc.token, "bearer"))
			if o.Verdict != chain.Refused || o.Message != "invalid token" {
				t.Fatalf("verdict %v message %q, want refused with \"invalid token\"", o.Verdict, o.Message)
			}
		})
	}
	// The good token passes, with an audience given as an array too.
	for _, tok := range []string{valid, sign(t, key, "ES256", "", with(good(), "aud", []string{"x", "other"}))} {
		if o := h.Authenticate(request(tok, "bearer")); o.Verdict != chain.Authenticated || o.Principal.Name != "alice" {
			t.Fatalf("valid token: %v", o)
		}
	}
}

// The query parameter is read only when configured; the credential the
// provider read is named for removal either way.
func TestJWTProviderQueryParameterAndCookie(t *testing.T) {
	key, pubPEM := newKey(t)
	tok := sign(t, key, "ES256", "", good())
	off := handler(t, map[string]string{ParamPEM: pubPEM, ParamGatewayKeys: "false"})
	if o := off.Authenticate(request(tok, "query")); o.Verdict != chain.NotMine {
		t.Fatalf("query parameter while off: %v, want not mine", o.Verdict)
	}
	on := handler(t, map[string]string{ParamPEM: pubPEM, ParamGatewayKeys: "false", ParamQueryParam: "access_token", ParamCookie: "jwt"})
	for _, where := range []string{"query", "cookie", "bearer"} {
		o := on.Authenticate(request(tok, where))
		if o.Verdict != chain.Authenticated {
			t.Fatalf("token in %s: %v", where, o.Verdict)
		}
	}
	want := []identity.Credential{identity.Authorization, identity.CookieCredential("jwt"), identity.QueryCredential("access_token")}
	if got := on.Credentials(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("credentials %v, want %v", got, want)
	}
	r := request(tok, "query")
	r.URL.RawQuery += "&keep=1"
	identity.QueryCredential("access_token").Strip(r)
	if r.URL.RawQuery != "keep=1" {
		t.Fatalf("after stripping: %q", r.URL.RawQuery)
	}
}

// JWKS keys are fetched on first use; a stream of tokens with unknown kids
// cannot make the provider fetch more than once per interval.
func TestJWTProviderJWKSRefreshIsBounded(t *testing.T) {
	key, _ := newKey(t)
	kid, _ := jwtkit.Thumbprint(&key.PublicKey)
	jwk, _ := jwtkit.PublicJWK(&key.PublicKey, kid, "ES256")
	var fetches atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		_ = json.NewEncoder(w).Encode(jwtkit.JWKS{Keys: []jwtkit.JWK{jwk}})
	}))
	t.Cleanup(srv.Close)
	h := handler(t, map[string]string{ParamJWKSURL: srv.URL, ParamGatewayKeys: "false", ParamJWKSRefresh: "1h"})
	if o := h.Authenticate(request(sign(t, key, "ES256", kid, good()), "bearer")); o.Verdict != chain.Authenticated {
		t.Fatalf("token with a JWKS key: %v", o)
	}
	for i := range 200 {
		o := h.Authenticate(request(sign(t, key, "ES256", fmt.Sprintf("flood-%d", i), good()), "bearer"))
		if o.Verdict != chain.Refused {
			t.Fatalf("unknown kid %d: %v", i, o.Verdict)
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Fatalf("%d JWKS fetches for 200 unknown kids, want 1 (bounded by the refresh interval)", n)
	}
}

// HS256 is accepted only with a secret named explicitly, from an alias.
func TestJWTProviderHS256OnlyWhenAsked(t *testing.T) {
	_, pubPEM := newKey(t)
	if _, err := build(context.Background(), chain.Config{Params: map[string]string{ParamHMACSecret: strings.Repeat("s", 40)},
		Host: chain.Host{Clock: fixedClock{now}}}, false); err == nil || !strings.Contains(err.Error(), "alias") {
		t.Fatalf("an inline HMAC secret: %v, want refused", err)
	}
	if _, err := build(context.Background(), chain.Config{Params: map[string]string{ParamPEM: pubPEM, ParamAlgorithms: "HS256"},
		Host: chain.Host{Clock: fixedClock{now}}}, false); err == nil {
		t.Fatal("HS256 without a secret was accepted")
	}
	secret := strings.Repeat("k", 40)
	h, err := build(context.Background(), chain.Config{Params: map[string]string{ParamHMACSecret: "${alias:hmac}", ParamGatewayKeys: "false"},
		Host:    chain.Host{Clock: fixedClock{now}},
		Resolve: func(context.Context, string) ([]byte, error) { return []byte(secret), nil }}, false)
	if err != nil {
		t.Fatal(err)
	}
	if o := h.Authenticate(request(sign(t, []byte(secret), "HS256", "", good()), "bearer")); o.Verdict != chain.Authenticated {
		t.Fatalf("HS256 with the configured secret: %v", o)
	}
	if o := h.Authenticate(request(sign(t, []byte(pubPEM), "HS256", "", good()), "bearer")); o.Verdict != chain.Refused {
		t.Fatalf("HS256 with another secret: %v", o)
	}
}

// A browser without a token is sent to the login page with the page it
// asked for as originalUrl: on the gateway's configured public origin when
// there is one, else at the request's Host.
func TestJWTLoginRedirectOrigin(t *testing.T) {
	for _, tc := range []struct{ public, want string }{
		{"", "https://evil.example/gateway/t/app/x?y=1"},
		{"https://gw.example.com", "https://gw.example.com/gateway/t/app/x?y=1"},
	} {
		_, pubPEM := newKey(t)
		h, err := build(context.Background(), chain.Config{Topology: "t", Provider: Name, Role: chain.RoleFederation,
			Params: map[string]string{ParamPEM: pubPEM, ParamLoginURL: "/gateway/sso/knoxsso/login"},
			Host:   chain.Host{Clock: fixedClock{now}, PublicOrigin: tc.public}}, false)
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodGet, "https://evil.example/gateway/t/app/x?y=1", nil)
		r.Header.Set("Accept", "text/html")
		o := h.Authenticate(r)
		if want := "/gateway/sso/knoxsso/login?originalUrl=" + url.QueryEscape(tc.want); o.Location != want {
			t.Errorf("public origin %q: redirect to %q, want %q", tc.public, o.Location, want)
		}
	}
}
