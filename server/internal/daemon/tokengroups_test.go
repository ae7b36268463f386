package daemon

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

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
