package daemon

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
	"github.com/securegw/gateway/proxy/providers/ldap/ldaptest"
)

// corpTopology authenticates against dir and looks groups up there: the
// group source a token policy names.
func corpTopology(dir *ldaptest.Server) []byte {
	return []byte(fmt.Sprintf(`name: corp
providers:
  - role: authentication
    name: ldap
    params:
      url: %q
      bind_dn: %q
      bind_password: ${alias:ldap-bind}
      search_base: %q
      lookup_groups: "true"
      cache_ttl: 0s
      timeout: 2s
  - role: identity-assertion
    name: default
services:
  - path: echo
    urls: ["http://127.0.0.1:9"]
`, dir.URL, ldaptest.ServiceDN, ldaptest.Suffix))
}

// Policies name subjects by group: the token service asks the policy's
// group source (a real slapd behind an ldap provider) for the on-behalf-of
// subject's groups. alice (in etl-users) may be acted for, bob may not; the
// groups claim is there only when the policy includes groups; a directory
// that cannot answer refuses the issuance and stores nothing.
func TestTokenPolicySubjectGroupsFromTheDirectory(t *testing.T) {
	dir := ldaptest.Start(t, ldaptest.Options{
		Users:  []ldaptest.User{{UID: "alice", Password: "alice-pw-0123456789"}, {UID: "bob", Password: "bob-pw-0123456789"}},
		Groups: []ldaptest.Group{{CN: "etl-users", Members: []string{"alice"}}, {CN: "analysts", Members: []string{"alice", "bob"}}},
	})
	f := newTokenFixture(t, nil)
	ctx := context.Background()
	aliases := gatewayv1.NewAliasServiceClient(f.g.dial(t, adminCert(t, f.g.cfg)))
	if _, err := aliases.CreateAlias(ctx, &gatewayv1.CreateAliasRequest{Name: "ldap-bind", Topology: "corp", Value: []byte(dir.ServicePassword)}); err != nil {
		t.Fatal(err)
	}
	if _, err := deploy(ctx, f.g.topologies(t, adminCert(t, f.g.cfg)), corpTopology(dir), nil); err != nil {
		t.Fatal(err)
	}

	// A policy naming subject groups, or including groups for others,
	// without a group source is refused when stored.
	for _, p := range []*gatewayv1.TokenPolicy{
		{Name: "nosource", AllowedCertificateSubjects: []string{"broker"}, AllowedSubjectGroups: []string{"etl-users"}},
		{Name: "nosource", AllowedCertificateSubjects: []string{"broker"}, AllowedSubjects: []string{"alice"}, IncludeGroups: true},
	} {
		_, err := f.policy.PutTokenPolicy(ctx, &gatewayv1.PutTokenPolicyRequest{Policy: p})
		wantCode(t, err, codes.InvalidArgument, "policy without group_source")
		if !strings.Contains(status.Convert(err).Message(), "needs group_source") {
			t.Fatalf("message %q, want it to say group_source is needed", status.Convert(err).Message())
		}
	}

	for _, p := range []*gatewayv1.TokenPolicy{
		{Name: "etl-groups", AllowedCertificateSubjects: []string{"broker"}, AllowedSubjectGroups: []string{"etl-users"},
			GroupSource: "corp", IncludeGroups: true},
		{Name: "etl-nogroups", AllowedCertificateSubjects: []string{"broker"}, AllowedSubjectGroups: []string{"etl-users"},
			GroupSource: "corp"},
		{Name: "named", AllowedCertificateSubjects: []string{"broker"}, AllowedSubjects: []string{"alice"}},
		{Name: "nowhere", AllowedCertificateSubjects: []string{"broker"}, AllowedSubjectGroups: []string{"etl-users"},
			GroupSource: "absent"},
	} {
		if _, err := f.policy.PutTokenPolicy(ctx, &gatewayv1.PutTokenPolicyRequest{Policy: p}); err != nil {
			t.Fatalf("policy %s: %v", p.GetName(), err)
		}
	}

	r, err := f.broker.IssueToken(ctx, &gatewayv1.IssueTokenRequest{Policy: "etl-groups", OnBehalfOf: "alice"})
	if err != nil {
		t.Fatalf("alice, in etl-users: %v", err)
	}
	claims := claimsOf(t, r.GetToken())
	var groups []string
	for _, g := range claims["groups"].([]any) {
		groups = append(groups, g.(string))
	}
	slices.Sort(groups)
	if claims["sub"] != "alice" || !slices.Equal(groups, []string{"analysts", "etl-users"}) {
		t.Fatalf("claims %v: want sub alice and groups [analysts etl-users] from the directory", claims)
	}
	for _, pol := range []string{"etl-nogroups", "named"} {
		r, err := f.broker.IssueToken(ctx, &gatewayv1.IssueTokenRequest{Policy: pol, OnBehalfOf: "alice"})
		if err != nil {
			t.Fatalf("%s for alice: %v", pol, err)
		}
		if g, ok := claimsOf(t, r.GetToken())["groups"]; ok {
			t.Fatalf("%s: groups claim %v in a token whose policy does not include groups", pol, g)
		}
	}

	stored := func() int {
		t.Helper()
		list, err := f.admin.ListTokens(ctx, &gatewayv1.ListTokensRequest{IncludeRevoked: true})
		if err != nil {
			t.Fatal(err)
		}
		return len(list.GetTokens())
	}
	before := stored()
	for _, tc := range []struct {
		name, policy, subject string
		code                  codes.Code
		msg                   string
	}{
		{"bob is not in etl-users", "etl-groups", "bob", codes.PermissionDenied, `does not allow tokens on behalf of "bob"`},
		{"unknown user is in no group", "etl-groups", "carol", codes.PermissionDenied, `on behalf of "carol"`},
		{"group source not deployed", "nowhere", "alice", codes.Unavailable, `could not be looked up in topology "absent"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.broker.IssueToken(ctx, &gatewayv1.IssueTokenRequest{Policy: tc.policy, OnBehalfOf: tc.subject})
			wantCode(t, err, tc.code, tc.name)
			if !strings.Contains(status.Convert(err).Message(), tc.msg) {
				t.Fatalf("message %q, want it to contain %q", status.Convert(err).Message(), tc.msg)
			}
		})
	}

	// The directory goes away: issuances that need groups fail closed,
	// with a clear reason and nothing stored; one by name still works.
	dir.Stop(t)
	for _, pol := range []string{"etl-groups", "etl-nogroups"} {
		_, err := f.broker.IssueToken(ctx, &gatewayv1.IssueTokenRequest{Policy: pol, OnBehalfOf: "alice"})
		wantCode(t, err, codes.Unavailable, pol+" with the directory down")
		msg := status.Convert(err).Message()
		if !strings.Contains(msg, `the groups of "alice" could not be looked up in topology "corp"`) || !strings.Contains(msg, "nothing was issued") {
			t.Fatalf("message %q: want the group lookup named as the reason", msg)
		}
		if strings.Contains(msg, "127.0.0.1") || strings.Contains(msg, "ldap://") {
			t.Fatalf("message %q names the directory's address", msg)
		}
	}
	if n := stored(); n != before {
		t.Fatalf("refused issuances stored tokens: %d before, %d after", before, n)
	}
	if _, err := f.broker.IssueToken(ctx, &gatewayv1.IssueTokenRequest{Policy: "named", OnBehalfOf: "alice"}); err != nil {
		t.Fatalf("a policy naming alice needs no lookup: %v", err)
	}
}

// A policy's topologies bound where its tokens work: the jwt provider of a
// topology the policy does not name refuses them (JWTs and passcodes
// alike), while tokens of a policy naming none work everywhere.
func TestTokenPolicyTopologiesAreEnforced(t *testing.T) {
	f := newTokenFixture(t, nil)
	ctx := context.Background()
	be := headerBackend(t)
	for _, name := range []string{"tokenbased", "second"} {
		if _, err := deploy(ctx, f.g.topologies(t, adminCert(t, f.g.cfg)), jwtTopology(name, be.URL, ""), nil); err != nil {
			t.Fatal(err)
		}
	}
	_, err := f.policy.PutTokenPolicy(ctx, &gatewayv1.PutTokenPolicyRequest{Policy: &gatewayv1.TokenPolicy{Name: "bad", Topologies: []string{"a b"}}})
	wantCode(t, err, codes.InvalidArgument, "a topology name with a space")
	for _, p := range []*gatewayv1.TokenPolicy{
		{Name: "scoped", AllowedCertificateSubjects: []string{"broker"}, AllowedSubjects: []string{"alice"},
			Topologies: []string{"tokenbased"}, TokenTypes: []string{"jwt", "passcode"}},
		{Name: "anywhere", AllowedCertificateSubjects: []string{"broker"}, AllowedSubjects: []string{"alice"}},
	} {
		if _, err := f.policy.PutTokenPolicy(ctx, &gatewayv1.PutTokenPolicyRequest{Policy: p}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		policy, typ string
		second      int
	}{
		{"scoped", "jwt", 401},
		{"scoped", "passcode", 401},
		{"anywhere", "jwt", 200},
	} {
		r, err := f.broker.IssueToken(ctx, &gatewayv1.IssueTokenRequest{Policy: tc.policy, OnBehalfOf: "alice", Type: tc.typ})
		if err != nil {
			t.Fatal(err)
		}
		if tc.policy == "scoped" && !slices.Equal(r.GetInfo().GetTopologies(), []string{"tokenbased"}) {
			t.Fatalf("token info topologies %v, want [tokenbased]", r.GetInfo().GetTopologies())
		}
		auth := map[string]string{"Authorization": "Bearer " + r.GetToken()}
		if code, body := f.getWith(t, f.g.url("/gateway/tokenbased/echo/x"), auth); code != 200 {
			t.Fatalf("%s %s token on tokenbased: %d %s", tc.policy, tc.typ, code, body)
		}
		if code, _ := f.getWith(t, f.g.url("/gateway/second/echo/x"), auth); code != tc.second {
			t.Fatalf("%s %s token on second: %d, want %d", tc.policy, tc.typ, code, tc.second)
		}
	}
}

// hmacTopology issues HS256 tokens from its KNOXTOKEN service (Basic
// logins) and accepts them with its jwt provider, both with the secret
// under alias.
func hmacTopology(t *testing.T, name, backendURL, alias string) []byte {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte("alice-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(fmt.Sprintf(`name: %s
providers:
  - role: federation
    name: jwt
    params: {hmac_secret: "${alias:%s}"}
  - role: authentication
    name: basic
    params: {user.alice: %q}
  - role: identity-assertion
    name: default
services:
  - path: echo
    urls: [%s]
  - path: knoxtoken
    role: KNOXTOKEN
    params: {hmac_secret: "${alias:%s}"}
`, name, alias, h, backendURL, alias))
}

// HS256 only where a topology asks for it: its KNOXTOKEN service signs
// with the secret it names (an alias) and its jwt provider accepts the
// tokens; a topology trusting the gateway's keys, one with another secret
// and the gateway's own verification refuse them. Revoking one (Knox's
// API, by value) refuses it at once; a literal or short secret is refused
// at deploy.
func TestHS256OnlyForTheTopologyThatAsks(t *testing.T) {
	f := newTokenFixture(t, nil)
	ctx := context.Background()
	admin := adminCert(t, f.g.cfg)
	topo := f.g.topologies(t, admin)
	aliases := gatewayv1.NewAliasServiceClient(f.g.dial(t, admin))
	be := headerBackend(t)
	for _, a := range []struct{ name, topology string }{{"tok-hmac", "hmac"}, {"tok-hmac", "other"}} {
		if _, err := aliases.CreateAlias(ctx, &gatewayv1.CreateAliasRequest{Name: a.name, Topology: a.topology, GenerateLength: 48}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := aliases.CreateAlias(ctx, &gatewayv1.CreateAliasRequest{Name: "short", Topology: "bad", Value: []byte("0123456789")}); err != nil {
		t.Fatal(err)
	}
	for _, doc := range [][]byte{hmacTopology(t, "hmac", be.URL, "tok-hmac"), hmacTopology(t, "other", be.URL, "tok-hmac"), jwtTopology("tokenbased", be.URL, "")} {
		if _, err := deploy(ctx, topo, doc, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ doc, msg string }{
		{strings.Replace(string(hmacTopology(t, "bad", be.URL, "short")), "name: jwt\n    params: {hmac_secret: \"${alias:short}\"}", "name: jwt\n    params: {}", 1), "at least 32 bytes"},
		{strings.Replace(string(hmacTopology(t, "bad", be.URL, "short")), `{hmac_secret: "${alias:short}"}`, `{hmac_secret: "0123456789012345678901234567890123456789"}`, 2), "never the secret itself"},
	} {
		_, err := deploy(ctx, topo, []byte(tc.doc), nil)
		wantCode(t, err, codes.InvalidArgument, "bad hmac_secret")
		if !strings.Contains(status.Convert(err).Message(), tc.msg) {
			t.Fatalf("deploy: %q, want it to contain %q", status.Convert(err).Message(), tc.msg)
		}
	}

	r := f.rest(t, http.MethodGet, f.g.url("/gateway/hmac/knoxtoken/api/v1/token"), "alice", "")
	token, _ := r.body["access_token"].(string)
	if r.code != 200 || token == "" {
		t.Fatalf("issue: %d %s", r.code, r.raw)
	}
	if h := claimsHeader(t, token); h["alg"] != "HS256" || h["kid"] != nil {
		t.Fatalf("header %v: want alg HS256 and no kid", h)
	}
	auth := map[string]string{"Authorization": "Bearer " + token}
	for _, tc := range []struct {
		topology string
		code     int
	}{{"hmac", 200}, {"tokenbased", 401}, {"other", 401}} {
		if code, body := f.getWith(t, f.g.url("/gateway/"+tc.topology+"/echo/x"), auth); code != tc.code {
			t.Fatalf("HS256 token on %s: %d %s, want %d", tc.topology, code, body, tc.code)
		}
	}
	if v, err := f.admin.VerifyToken(ctx, &gatewayv1.VerifyTokenRequest{Token: token}); err != nil || v.GetValid() {
		t.Fatalf("the gateway's own verification accepted an HS256 token: %v %v", v, err)
	}
	list, err := f.admin.ListTokens(ctx, &gatewayv1.ListTokensRequest{Subject: "alice"})
	if err != nil || len(list.GetTokens()) != 1 || list.GetTokens()[0].GetAlgorithm() != "HS256" || !slices.Equal(list.GetTokens()[0].GetTopologies(), []string{"hmac"}) {
		t.Fatalf("state: %v %v, want one HS256 token bound to hmac", list, err)
	}

	if r := f.rest(t, http.MethodPost, f.g.url("/gateway/hmac/knoxtoken/api/v1/token/revoke"), "alice", token); r.code != 200 || r.body["revoked"] != "true" {
		t.Fatalf("revoke: %d %s", r.code, r.raw)
	}
	if code, _ := f.getWith(t, f.g.url("/gateway/hmac/echo/x"), auth); code != 401 {
		t.Fatalf("revoked HS256 token: %d, want 401", code)
	}
}

// An issuance through gRPC is audited exactly once: a success by the record
// written in the same commit as the token's state (naming the token), a
// refusal by a record of its own with the reason.
func TestTokenIssuanceIsAuditedOnce(t *testing.T) {
	f := newTokenFixture(t, nil)
	ctx := context.Background()
	if _, err := f.policy.PutTokenPolicy(ctx, &gatewayv1.PutTokenPolicyRequest{Policy: &gatewayv1.TokenPolicy{
		Name: "etl", AllowedCertificateSubjects: []string{"broker"}, AllowedSubjects: []string{"alice"}}}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range 3 {
		r, err := f.broker.IssueToken(ctx, &gatewayv1.IssueTokenRequest{Policy: "etl", OnBehalfOf: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.GetInfo().GetId())
	}
	_, err := f.broker.IssueToken(ctx, &gatewayv1.IssueTokenRequest{Policy: "etl", OnBehalfOf: "bob"})
	wantCode(t, err, codes.PermissionDenied, "bob")

	recs, err := gatewayv1.NewAuditServiceClient(f.g.dial(t, adminCert(t, f.g.cfg))).ListAudit(ctx, &gatewayv1.ListAuditRequest{Principal: "broker"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range slices.Backward(recs.GetRecords()) {
		if strings.HasSuffix(r.GetMethod(), "IssueToken") {
			got = append(got, r.GetTarget()+" "+r.GetOutcome())
		}
	}
	want := []string{"token/" + ids[0] + " ok", "token/" + ids[1] + " ok", "token/" + ids[2] + " ok", "token/bob denied"}
	if !slices.Equal(got, want) {
		t.Fatalf("IssueToken audit records %q, want %q", got, want)
	}
}
