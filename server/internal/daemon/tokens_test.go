package daemon

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
	"github.com/securegw/gateway/server/internal/config"
)

// headerBackend answers with the credentials it was sent, so a test can
// tell that the gateway removed them.
func headerBackend(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "auth=%q query=%q cookie=%q", r.Header.Get("Authorization"), r.URL.RawQuery, r.Header.Get("Cookie"))
	}))
	t.Cleanup(s.Close)
	return s
}

func jwtTopology(name, backendURL, params string) []byte {
	return []byte(fmt.Sprintf(`name: %s
providers:
  - role: federation
    name: jwt
    params: {%s}
  - role: identity-assertion
    name: default
services:
  - path: echo
    urls: [%s]
`, name, params, backendURL))
}

type tokenFixture struct {
	g      *testGateway
	admin  gatewayv1.TokenServiceClient
	broker gatewayv1.TokenServiceClient
	viewer gatewayv1.TokenServiceClient
	policy gatewayv1.TokenPolicyServiceClient
	hc     *http.Client
}

func newTokenFixture(t *testing.T, mod func(*config.Config)) *tokenFixture {
	t.Helper()
	c, secret := initGateway(t)
	c.Management.Principals["broker"] = []string{"token-broker"}
	if mod != nil {
		mod(&c)
	}
	brokerCert, viewerCert := clientCert(t, c, secret, "broker"), clientCert(t, c, secret, "viewer")
	g := startGateway(t, c, secret)
	f := &tokenFixture{
		g:      g,
		admin:  gatewayv1.NewTokenServiceClient(g.dial(t, adminCert(t, c))),
		broker: gatewayv1.NewTokenServiceClient(g.dial(t, brokerCert)),
		viewer: gatewayv1.NewTokenServiceClient(g.dial(t, viewerCert)),
		policy: gatewayv1.NewTokenPolicyServiceClient(g.dial(t, adminCert(t, c))),
		hc:     g.httpClient(t),
	}
	return f
}

func (f *tokenFixture) getWith(t *testing.T, url string, hdr map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := f.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String()
}

func claimsOf(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWT", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func wantCode(t *testing.T, err error, code codes.Code, what string) {
	t.Helper()
	if status.Code(err) != code {
		t.Fatalf("%s: %v, want %s", what, err, code)
	}
}

// The design card's third command, end to end: a broker issues a token on
// behalf of alice under a policy; the token opens a JWT-protected topology,
// never reaches the backend, carries the act claim, and stops working as
// soon as its revocation returns.
func TestOnBehalfOfTokenEndToEnd(t *testing.T) {
	f := newTokenFixture(t, nil)
	ctx := context.Background()
	be := headerBackend(t)
	for _, name := range []string{"tokenbased", "second"} {
		if _, err := deploy(ctx, f.g.topologies(t, adminCert(t, f.g.cfg)), jwtTopology(name, be.URL, ""), nil); err != nil {
			t.Fatal(err)
		}
	}
	_, err := f.policy.PutTokenPolicy(ctx, &gatewayv1.PutTokenPolicyRequest{Policy: &gatewayv1.TokenPolicy{
		Name: "etl", AllowedCertificateSubjects: []string{"broker"}, AllowedSubjects: []string{"alice", "svc-*"},
		DefaultTtl: durationpb.New(time.Hour), MaxTtl: durationpb.New(2 * time.Hour), MaxLifetime: durationpb.New(4 * time.Hour),
		Audiences: []string{"tokenbased"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := f.broker.IssueToken(ctx, &gatewayv1.IssueTokenRequest{Policy: "etl", OnBehalfOf: "alice", Ttl: durationpb.New(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	claims := claimsOf(t, resp.GetToken())
	act, _ := claims["act"].(map[string]any)
	if claims["sub"] != "alice" || act["sub"] != "broker" || claims["jti"] != resp.GetInfo().GetId() || claims["aud"] != "tokenbased" {
		t.Fatalf("claims %v: want sub alice, act.sub broker, jti the id, aud tokenbased", claims)
	}

	url := f.g.url("/gateway/tokenbased/echo/x")
	code, body := f.getWith(t, url, map[string]string{"Authorization": "Bearer " + resp.GetToken()})
	if code != 200 || body != `auth="" query="" cookie=""` {
		t.Fatalf("with the token: %d %s; want 200 and no credential at the backend", code, body)
	}
	if code, _ := f.getWith(t, url, nil); code != http.StatusUnauthorized {
		t.Fatalf("without a token: %d, want 401", code)
	}
	// The query parameter is off unless configured: the token there is not read.
	if code, _ := f.getWith(t, url+"?access_token="+resp.GetToken(), nil); code != http.StatusUnauthorized {
		t.Fatalf("token in a query parameter that is off: %d, want 401", code)
	}

	v, err := f.broker.VerifyToken(ctx, &gatewayv1.VerifyTokenRequest{Token: resp.GetToken()})
	if err != nil || !v.GetValid() || v.GetInfo().GetSubject() != "alice" {
		t.Fatalf("verify: %v %v", v, err)
	}
	list, err := f.broker.ListTokens(ctx, &gatewayv1.ListTokensRequest{Subject: "alice"})
	if err != nil || len(list.GetTokens()) != 1 || list.GetTokens()[0].GetActor() != "broker" {
		t.Fatalf("list: %v %v", list, err)
	}

	second := f.g.url("/gateway/second/echo/x")
	if code, _ := f.getWith(t, second, map[string]string{"Authorization": "Bearer " + resp.GetToken()}); code != 200 {
		t.Fatalf("the token on a second topology: %d", code)
	}
	if _, err := f.broker.RevokeToken(ctx, &gatewayv1.RevokeTokenRequest{Id: resp.GetInfo().GetId()}); err != nil {
		t.Fatal(err)
	}
	// Live on every topology when the call returns (both had the token in
	// their verified-token caches): no waiting.
	for _, u := range []string{url, second} {
		if code, _ := f.getWith(t, u, map[string]string{"Authorization": "Bearer " + resp.GetToken()}); code != http.StatusUnauthorized {
			t.Fatalf("revoked token at %s: %d, want 401", u, code)
		}
	}
	v, _ = f.broker.VerifyToken(ctx, &gatewayv1.VerifyTokenRequest{Token: resp.GetToken()})
	if v.GetValid() || v.GetReason() != "token revoked" {
		t.Fatalf("verify after revoke: %v", v)
	}
}

func TestTokenIssuanceRefusesWhatThePolicyDoesNotAllow(t *testing.T) {
	f := newTokenFixture(t, nil)
	ctx := context.Background()
	_, err := f.policy.PutTokenPolicy(ctx, &gatewayv1.PutTokenPolicyRequest{Policy: &gatewayv1.TokenPolicy{
		Name: "etl", AllowedCertificateSubjects: []string{"broker"}, AllowedSubjects: []string{"alice", "svc-*"},
		MaxTtl: durationpb.New(2 * time.Hour), MaxLifetime: durationpb.New(3 * time.Hour), PerUserLimit: 2,
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		c    gatewayv1.TokenServiceClient
		req  *gatewayv1.IssueTokenRequest
		code codes.Code
		msg  string
	}{
		{"subject outside the policy", f.broker, &gatewayv1.IssueTokenRequest{Policy: "etl", OnBehalfOf: "bob"}, codes.PermissionDenied, `on behalf of "bob"`},
		{"case", f.broker, &gatewayv1.IssueTokenRequest{Policy: "etl", OnBehalfOf: "Alice"}, codes.PermissionDenied, `"Alice"`},
		{"Unicode look-alike", f.broker, &gatewayv1.IssueTokenRequest{Policy: "etl", OnBehalfOf: "\u0430lice"}, codes.PermissionDenied, "on behalf of"},
		{"pattern in the subject", f.broker, &gatewayv1.IssueTokenRequest{Policy: "etl", OnBehalfOf: "alice*"}, codes.InvalidArgument, "'*'"},
		{"prefix pattern does not widen", f.broker, &gatewayv1.IssueTokenRequest{Policy: "etl", OnBehalfOf: "svc"}, codes.PermissionDenied, "on behalf of"},
		{"caller outside the policy", f.admin, &gatewayv1.IssueTokenRequest{Policy: "etl", OnBehalfOf: "alice"}, codes.PermissionDenied, `does not allow "admin"`},
		{"no policy", f.broker, &gatewayv1.IssueTokenRequest{OnBehalfOf: "alice"}, codes.PermissionDenied, "needs a token policy"},
		{"lifespan above the maximum", f.broker, &gatewayv1.IssueTokenRequest{Policy: "etl", OnBehalfOf: "alice", Ttl: durationpb.New(3 * time.Hour)}, codes.InvalidArgument, "above the policy maximum 2h0m0s"},
		{"algorithm not allowed", f.broker, &gatewayv1.IssueTokenRequest{Policy: "etl", OnBehalfOf: "alice", Algorithm: "RS256"}, codes.InvalidArgument, "not allowed by the policy"},
		{"viewer may not issue", f.viewer, &gatewayv1.IssueTokenRequest{}, codes.PermissionDenied, "may not call TokenService/IssueToken"},
		{"unknown policy", f.broker, &gatewayv1.IssueTokenRequest{Policy: "nope", OnBehalfOf: "alice"}, codes.NotFound, `"nope"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.c.IssueToken(ctx, tc.req)
			wantCode(t, err, tc.code, tc.name)
			if !strings.Contains(status.Convert(err).Message(), tc.msg) {
				t.Fatalf("message %q, want it to contain %q", status.Convert(err).Message(), tc.msg)
			}
		})
	}
	list, err := f.admin.ListTokens(ctx, &gatewayv1.ListTokensRequest{IncludeRevoked: true})
	if err != nil || len(list.GetTokens()) != 0 {
		t.Fatalf("refused issuances stored tokens: %v %v", list, err)
	}

	// The per-user limit refuses the third live token.
	var ids []string
	for range 2 {
		r, err := f.broker.IssueToken(ctx, &gatewayv1.IssueTokenRequest{Policy: "etl", OnBehalfOf: "svc-etl"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.GetInfo().GetId())
	}
	_, err = f.broker.IssueToken(ctx, &gatewayv1.IssueTokenRequest{Policy: "etl", OnBehalfOf: "svc-etl"})
	wantCode(t, err, codes.FailedPrecondition, "third token over the limit")

	// Renewal within the maximum lifetime works; past it is refused.
	if _, err := f.broker.RenewToken(ctx, &gatewayv1.RenewTokenRequest{Id: ids[0], Ttl: durationpb.New(2 * time.Hour)}); err != nil {
		t.Fatalf("renew within the maximum lifetime: %v", err)
	}
	_, err = f.broker.RenewToken(ctx, &gatewayv1.RenewTokenRequest{Id: ids[0], Ttl: durationpb.New(5 * time.Hour)})
	wantCode(t, err, codes.InvalidArgument, "renew above max ttl")
	_, err = f.viewer.RevokeToken(ctx, &gatewayv1.RevokeTokenRequest{Id: ids[0]})
	wantCode(t, err, codes.PermissionDenied, "viewer revoking")
}

func TestTokenPolicyIsStrictAndCompareAndSet(t *testing.T) {
	f := newTokenFixture(t, nil)
	ctx := context.Background()
	for _, p := range []*gatewayv1.TokenPolicy{
		{Name: "../x"},
		{Name: "a", DefaultTtl: durationpb.New(3 * time.Hour), MaxTtl: durationpb.New(time.Hour)},
		{Name: "a", Algorithm: "none"},
		{Name: "a", Algorithm: "HS256"},
		{Name: "a", TokenTypes: []string{"saml"}},
		{Name: "a", LimitAction: "explode"},
		{Name: "a", AllowedSubjects: []string{"a*b*"}},
	} {
		_, err := f.policy.PutTokenPolicy(ctx, &gatewayv1.PutTokenPolicyRequest{Policy: p})
		wantCode(t, err, codes.InvalidArgument, fmt.Sprintf("policy %v", p))
	}
	r, err := f.policy.PutTokenPolicy(ctx, &gatewayv1.PutTokenPolicyRequest{Policy: &gatewayv1.TokenPolicy{Name: "a"}, ExpectRevision: new(int64)})
	if err != nil {
		t.Fatal(err)
	}
	stale := r.GetRevision() - 1
	_, err = f.policy.PutTokenPolicy(ctx, &gatewayv1.PutTokenPolicyRequest{Policy: &gatewayv1.TokenPolicy{Name: "a"}, ExpectRevision: &stale})
	wantCode(t, err, codes.FailedPrecondition, "stale revision")
	list, err := f.policy.ListTokenPolicies(ctx, &gatewayv1.ListTokenPoliciesRequest{})
	if err != nil || len(list.GetPolicies()) != 1 {
		t.Fatalf("list: %v %v", list, err)
	}
	if _, err := f.policy.DeleteTokenPolicy(ctx, &gatewayv1.DeleteTokenPolicyRequest{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	_, err = f.policy.GetTokenPolicy(ctx, &gatewayv1.GetTokenPolicyRequest{Name: "a"})
	wantCode(t, err, codes.NotFound, "deleted policy")
}

// A caller that itself acts for someone gets tokens whose act claim nests
// the chain; a key rotation keeps every live token verifying; a master
// rotation reseals the signing keys and a restart with the new secret
// serves the same tokens.
func TestNestedActKeyRotationAndMasterRotation(t *testing.T) {
	f := newTokenFixture(t, nil)
	ctx := context.Background()
	topo := f.g.topologies(t, adminCert(t, f.g.cfg))
	for _, p := range []*gatewayv1.TokenPolicy{
		{Name: "broker", AllowedCertificateSubjects: []string{"broker"}, AllowedSubjects: []string{"svc-etl"}},
		{Name: "etl", AllowedCallers: []string{"svc-etl"}, AllowedSubjects: []string{"alice"}},
	} {
		if _, err := f.policy.PutTokenPolicy(ctx, &gatewayv1.PutTokenPolicyRequest{Policy: p}); err != nil {
			t.Fatal(err)
		}
	}
	be := headerBackend(t)
	doc := string(jwtTopology("etl", be.URL, "")) + "  - path: knoxtoken\n    role: KNOXTOKEN\n    params: {policy: etl}\n"
	if _, err := deploy(ctx, topo, []byte(doc), nil); err != nil {
		t.Fatal(err)
	}
	t1, err := f.broker.IssueToken(ctx, &gatewayv1.IssueTokenRequest{Policy: "broker", OnBehalfOf: "svc-etl"})
	if err != nil {
		t.Fatal(err)
	}
	r := f.rest(t, http.MethodGet, f.g.url("/gateway/etl/knoxtoken/api/v1/token?doAs=alice"), "", "")
	if r.code != http.StatusUnauthorized {
		t.Fatalf("without a token: %d", r.code)
	}
	req, _ := http.NewRequest(http.MethodGet, f.g.url("/gateway/etl/knoxtoken/api/v1/token?doAs=alice"), nil)
	req.Header.Set("Authorization", "Bearer "+t1.GetToken())
	resp, err := f.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	t2, _ := body["access_token"].(string)
	if resp.StatusCode != 200 || t2 == "" {
		t.Fatalf("svc-etl asking for alice: %d %v", resp.StatusCode, body)
	}
	c := claimsOf(t, t2)
	act, _ := c["act"].(map[string]any)
	inner, _ := act["act"].(map[string]any)
	if c["sub"] != "alice" || act["sub"] != "svc-etl" || inner["sub"] != "broker" {
		t.Fatalf("claims %v: want sub alice, act svc-etl, nested act broker", c)
	}

	// Key rotation: the old key signs nothing more but stays in the JWKS
	// while its tokens live.
	oldKid := claimsHeader(t, t2)["kid"]
	if _, err := f.admin.RotateSigningKey(ctx, &gatewayv1.RotateSigningKeyRequest{Algorithm: "ES256"}); err != nil {
		t.Fatal(err)
	}
	_, err = f.broker.RotateSigningKey(ctx, &gatewayv1.RotateSigningKeyRequest{Algorithm: "ES256"})
	wantCode(t, err, codes.PermissionDenied, "a token broker rotating keys")
	t3, err := f.broker.IssueToken(ctx, &gatewayv1.IssueTokenRequest{Policy: "broker", OnBehalfOf: "svc-etl"})
	if err != nil {
		t.Fatal(err)
	}
	if claimsHeader(t, t3.GetToken())["kid"] == oldKid {
		t.Fatal("a token issued after the rotation is signed with the retired key")
	}
	jwks := f.rest(t, http.MethodGet, f.g.url("/gateway/etl/knoxtoken/api/v1/jwks.json"), "", "")
	if keys, _ := jwks.body["keys"].([]any); len(keys) != 2 {
		t.Fatalf("JWKS after rotation: %s, want the active and the retired key", jwks.raw)
	}
	for _, tok := range []string{t1.GetToken(), t2, t3.GetToken()} {
		if code, _ := f.getWith(t, f.g.url("/gateway/etl/echo/"), map[string]string{"Authorization": "Bearer " + tok}); code != 200 {
			t.Fatalf("a live token after the key rotation: %d", code)
		}
	}

	// Master rotation, then a restart with the new secret.
	newSecret := "a brand new master secret, test only"
	if _, err := gatewayv1.NewAliasServiceClient(f.g.dial(t, adminCert(t, f.g.cfg))).RotateMaster(ctx,
		&gatewayv1.RotateMasterRequest{CurrentSecret: []byte(testSecret), NewSecret: []byte(newSecret)}); err != nil {
		t.Fatal(err)
	}
	f.g.stop(t)
	g2 := startGateway(t, f.g.cfg, newSecret)
	hc := g2.httpClient(t)
	for _, tok := range []string{t2, t3.GetToken()} {
		req, _ := http.NewRequest(http.MethodGet, g2.url("/gateway/etl/echo/"), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("after master rotation and restart: %d", resp.StatusCode)
		}
	}
	keys, err := gatewayv1.NewTokenServiceClient(g2.dial(t, adminCert(t, f.g.cfg))).ListSigningKeys(ctx, &gatewayv1.ListSigningKeysRequest{})
	if err != nil || len(keys.GetKeys()) != 2 {
		t.Fatalf("signing keys after restart: %v %v", keys, err)
	}
}

func claimsHeader(t *testing.T, token string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
