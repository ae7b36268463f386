package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/securegw/gateway/internal/jwtkit"
	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

// sandboxWithToken is a topology whose users log in with Basic and get
// tokens from its KNOXTOKEN service.
func sandboxWithToken(t *testing.T, serviceParams string) []byte {
	t.Helper()
	var users []string
	for _, u := range []string{"alice", "bob", "etl"} {
		h, err := bcrypt.GenerateFromPassword([]byte(u+"-pw"), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, fmt.Sprintf("user.%s: %q", u, h))
	}
	return []byte(fmt.Sprintf(`name: sandbox
providers:
  - role: authentication
    name: basic
    params: {%s}
  - role: identity-assertion
    name: default
services:
  - path: knoxtoken
    role: KNOXTOKEN
    params: {%s}
`, strings.Join(users, ", "), serviceParams))
}

type restResult struct {
	code int
	body map[string]any
	raw  string
}

func (f *tokenFixture) rest(t *testing.T, method, url, user, body string) restResult {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if user != "" {
		req.SetBasicAuth(user, user+"-pw")
	}
	resp, err := f.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := restResult{code: resp.StatusCode, raw: string(b)}
	_ = json.Unmarshal(b, &r.body)
	return r
}

// Knox's token API, as a Knox client uses it: issue with lifespan and
// comment, use the token on another topology, renew, revoke; every call
// authorizes its caller (KNOX-3410, KNOX-3411).
func TestKnoxTokenAPI(t *testing.T) {
	f := newTokenFixture(t, nil)
	ctx := context.Background()
	topo := f.g.topologies(t, adminCert(t, f.g.cfg))
	be := headerBackend(t)
	if _, err := deploy(ctx, topo, jwtTopology("tokenbased", be.URL, ""), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.policy.PutTokenPolicy(ctx, &gatewayv1.PutTokenPolicyRequest{Policy: &gatewayv1.TokenPolicy{
		Name: "knox", AllowedCallers: []string{"etl"}, AllowedSubjects: []string{"alice"},
		DefaultTtl: durationpb.New(time.Hour), MaxTtl: durationpb.New(2 * time.Hour), MaxLifetime: durationpb.New(3 * time.Hour),
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := deploy(ctx, topo, sandboxWithToken(t, "policy: knox, target_url: tokenbased"), nil); err != nil {
		t.Fatal(err)
	}
	api := f.g.url("/gateway/sandbox/knoxtoken/api/v1/")

	r := f.rest(t, http.MethodGet, api+"token?lifespan=PT90M&comment=nightly", "alice", "")
	if r.code != 200 {
		t.Fatalf("issue: %d %s", r.code, r.raw)
	}
	tok, _ := r.body["access_token"].(string)
	id, _ := r.body["token_id"].(string)
	exp, _ := r.body["expires_in"].(float64)
	if tok == "" || id == "" || r.body["token_type"] != "Bearer" || r.body["managed"] != "true" ||
		r.body["target_url"] != "https://"+f.g.addrs.Proxy+"/gateway/tokenbased" {
		t.Fatalf("issue response %v: want Knox's fields", r.body)
	}
	// expires_in is the expiry in epoch milliseconds, as Knox defines it.
	if d := time.Until(time.UnixMilli(int64(exp))); d < 89*time.Minute || d > 91*time.Minute {
		t.Fatalf("expires_in %v is %s from now, want 90m", exp, d)
	}
	if code, body := f.getWith(t, f.g.url("/gateway/tokenbased/echo/"), map[string]string{"Authorization": "Bearer " + tok}); code != 200 || !strings.Contains(body, `auth=""`) {
		t.Fatalf("the token on tokenbased: %d %s", code, body)
	}

	// Bad input: a lifespan above the policy maximum, a malformed one,
	// doAs outside the policy, no credentials.
	for _, tc := range []struct {
		user, query string
		code        int
		msg         string
	}{
		{"alice", "lifespan=PT3H", 400, "above the policy maximum"},
		{"alice", "lifespan=P1Y", 400, "ISO-8601"},
		{"alice", "doAs=bob", 403, "does not allow"},
		{"bob", "doAs=alice", 403, "does not allow"},
		{"", "", 401, ""},
	} {
		r := f.rest(t, http.MethodGet, api+"token?"+tc.query, tc.user, "")
		if r.code != tc.code || !strings.Contains(r.raw, tc.msg) {
			t.Errorf("%s %q: %d %s, want %d with %q", tc.user, tc.query, r.code, r.raw, tc.code, tc.msg)
		}
	}
	// doAs within the policy: etl acts for alice; the act claim names etl.
	r = f.rest(t, http.MethodPost, api+"token?doAs=alice", "etl", "")
	if r.code != 200 {
		t.Fatalf("doAs within the policy: %d %s", r.code, r.raw)
	}
	if c := claimsOf(t, r.body["access_token"].(string)); c["sub"] != "alice" || c["act"].(map[string]any)["sub"] != "etl" {
		t.Fatalf("doAs claims %v", c)
	}

	// Another user can neither renew, disable, revoke nor list alice's token.
	for _, path := range []string{"token/renew", "token/revoke"} {
		if r := f.rest(t, http.MethodPost, api+path, "bob", tok); r.code != 404 {
			t.Errorf("bob %s alice's token: %d %s, want 404", path, r.code, r.raw)
		}
	}
	if r := f.rest(t, http.MethodPut, api+"token/disable", "bob", id); r.code != 404 {
		t.Errorf("bob disabling alice's token: %d %s, want 404", r.code, r.raw)
	}
	if r := f.rest(t, http.MethodGet, api+"token/getUserTokens?userName=alice", "bob", ""); r.code != 403 {
		t.Errorf("bob listing alice's tokens: %d %s, want 403", r.code, r.raw)
	}
	r = f.rest(t, http.MethodGet, api+"token/getUserTokens?userName=alice", "alice", "")
	if toks, _ := r.body["tokens"].([]any); r.code != 200 || len(toks) != 2 {
		t.Fatalf("alice's tokens: %d %s", r.code, r.raw)
	}

	// Alice disables, enables, renews, then revokes her token.
	if r := f.rest(t, http.MethodPut, api+"token/disable", "alice", id); r.code != 200 || r.body["isEnabled"] != "false" {
		t.Fatalf("disable: %d %s", r.code, r.raw)
	}
	if code, _ := f.getWith(t, f.g.url("/gateway/tokenbased/echo/"), map[string]string{"Authorization": "Bearer " + tok}); code != 401 {
		t.Fatalf("disabled token: %d, want 401", code)
	}
	if r := f.rest(t, http.MethodPut, api+"token/enable", "alice", id); r.code != 200 {
		t.Fatalf("enable: %d %s", r.code, r.raw)
	}
	r = f.rest(t, http.MethodPost, api+"token/renew?lifespan=PT2H", "alice", tok)
	if r.code != 200 || r.body["renewed"] != "true" {
		t.Fatalf("renew: %d %s", r.code, r.raw)
	}
	if r := f.rest(t, http.MethodPost, api+"token/renew?lifespan=PT2H30M", "alice", tok); r.code != 400 || r.body["renewed"] != "false" {
		t.Fatalf("renew above max ttl: %d %s", r.code, r.raw)
	}
	if r := f.rest(t, http.MethodPost, api+"token/revoke", "alice", tok); r.code != 200 || r.body["revoked"] != "true" {
		t.Fatalf("revoke: %d %s", r.code, r.raw)
	}
	if code, _ := f.getWith(t, f.g.url("/gateway/tokenbased/echo/"), map[string]string{"Authorization": "Bearer " + tok}); code != 401 {
		t.Fatalf("revoked token: %d, want 401", code)
	}
	if r := f.rest(t, http.MethodPut, api+"token/enable", "alice", id); r.code != 400 {
		t.Fatalf("enabling a revoked token: %d %s, want 400", r.code, r.raw)
	}
}

// An independent JWT implementation (Debian's python3-jwt) verifies the
// gateway's tokens of every algorithm against the JWKS that the OpenID
// discovery document names, and refuses a tampered one.
func TestTokensVerifyWithPyJWTForEveryAlgorithm(t *testing.T) {
	// Debian's interpreter, whose packages scripts/test-deps.sh installs
	// (a python3 earlier in PATH, such as pyenv's, may lack them).
	python := "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import jwt, cryptography").Run(); err != nil {
		t.Fatalf("%s cannot import jwt and cryptography: install python3-jwt and python3-cryptography (scripts/test-deps.sh): %v", python, err)
	}
	f := newTokenFixture(t, nil)
	ctx := context.Background()
	if _, err := deploy(ctx, f.g.topologies(t, adminCert(t, f.g.cfg)), sandboxWithToken(t, ""), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.policy.PutTokenPolicy(ctx, &gatewayv1.PutTokenPolicyRequest{Policy: &gatewayv1.TokenPolicy{
		Name: "all", AllowedCertificateSubjects: []string{"broker"}, AllowedSubjects: []string{"alice"},
		AllowedAlgorithms: jwtkit.Algorithms, Audiences: []string{"tokenbased", "hive"},
	}}); err != nil {
		t.Fatal(err)
	}
	type item struct {
		Token  string `json:"token"`
		Alg    string `json:"alg"`
		Aud    string `json:"aud"`
		Tamper bool   `json:"tamper,omitempty"`
	}
	var items []item
	for _, alg := range jwtkit.Algorithms {
		r, err := f.broker.IssueToken(ctx, &gatewayv1.IssueTokenRequest{Policy: "all", OnBehalfOf: "alice", Algorithm: alg, Audiences: []string{"tokenbased", "hive"}})
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		items = append(items, item{Token: r.GetToken(), Alg: alg, Aud: "hive"})
		// The same token with its claims changed: the signature no longer matches.
		parts := strings.Split(r.GetToken(), ".")
		parts[1] = strings.Replace(parts[1], parts[1][:4], "eyJz", 1)
		if parts[1] == strings.Split(r.GetToken(), ".")[1] {
			parts[1] = "e30"
		}
		items = append(items, item{Token: strings.Join(parts, "."), Alg: alg, Aud: "hive", Tamper: true})
	}
	in, _ := json.Marshal(items)
	cmd := exec.Command(python, "testdata/verify_jwt.py", f.g.url("/gateway/sandbox/.well-known/openid-configuration"), Layout{f.g.cfg.DataDir}.CA())
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("PyJWT: %v\n%s", err, out)
	}
	for _, alg := range jwtkit.Algorithms {
		if !strings.Contains(string(out), "ok "+alg+" alice\n") || !strings.Contains(string(out), "refused "+alg+" ") {
			t.Errorf("PyJWT output lacks ok/refused for %s:\n%s", alg, out)
		}
	}
}
