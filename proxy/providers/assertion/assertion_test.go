package assertion_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/identity"
	_ "github.com/securegw/gateway/proxy/providers/assertion"
	"github.com/securegw/gateway/proxy/route"
)

func build(t *testing.T, log *slog.Logger, name string, kv ...string) (*chain.Chain, error) {
	t.Helper()
	pr := topology.Provider{Role: "identity-assertion", Name: name, Params: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		pr.Params[kv[i]] = kv[i+1]
	}
	return chain.BuildWith(context.Background(), "t", []topology.Provider{pr}, chain.Options{Logger: log})
}

// request is a request as the proxy hands it to identity assertion: routed
// (client address in the context) and authenticated as user.
func request(method, target, user string, groups []string, client string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	info := &route.Info{Topology: "t", Service: "echo"}
	if client != "" {
		info.Client = netip.MustParseAddr(client)
	}
	r = r.WithContext(route.NewContext(r.Context(), info))
	return identity.WithPrincipal(r, &identity.Principal{Name: user, Groups: groups, AuthenticatedAs: user, Provider: "test"})
}

type want struct {
	status int // 0: passes
	name   string
	groups []string
	authAs string
	log    string // a substring of the log, "" for none expected
}

type inbound struct {
	name     string
	provider string
	params   []string
	user     string
	groups   []string
	query    string
	client   string
	want     want
}

func runInbound(t *testing.T, tests []inbound) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			c, err := build(t, slog.New(slog.NewTextHandler(&logs, nil)), tc.provider, tc.params...)
			if err != nil {
				t.Fatal(err)
			}
			client := tc.client
			if client == "" {
				client = "192.0.2.10"
			}
			w := httptest.NewRecorder()
			r := c.ServeInbound(w, request("GET", "/gateway/t/echo/x?"+tc.query, tc.user, tc.groups, client))
			if tc.want.status != 0 {
				if r != nil || w.Code != tc.want.status {
					t.Fatalf("passed=%v status %d, want %d", r != nil, w.Code, tc.want.status)
				}
			} else {
				if r == nil {
					t.Fatalf("refused: %d %s", w.Code, w.Body)
				}
				pr, _ := identity.FromContext(r.Context())
				authAs := tc.want.authAs
				if authAs == "" {
					authAs = tc.user
				}
				if pr.Name != tc.want.name || !slices.Equal(pr.Groups, tc.want.groups) || pr.AuthenticatedAs != authAs {
					t.Fatalf("principal %q %q (authenticated as %q); want %q %q (%q)", pr.Name, pr.Groups, pr.AuthenticatedAs, tc.want.name, tc.want.groups, authAs)
				}
			}
			if tc.want.log != "" && !strings.Contains(logs.String(), tc.want.log) {
				t.Fatalf("log %q does not mention %q", logs.String(), tc.want.log)
			}
			if tc.want.log == "" && logs.Len() > 0 {
				t.Fatalf("unexpected log %q", logs.String())
			}
		})
	}
}

func TestMapping(t *testing.T) {
	runInbound(t, []inbound{
		{name: "default: unchanged", provider: "default", user: "alice", groups: []string{"g"},
			want: want{name: "alice", groups: []string{"g"}}},
		{name: "principal.mapping", provider: "default", params: []string{"principal.mapping", "guest,alice=hdfs;mary=alice2;"},
			user: "alice", want: want{name: "hdfs"}},
		{name: "principal.mapping, other user", provider: "default", params: []string{"principal.mapping", "guest=hdfs"},
			user: "bob", want: want{name: "bob"}},
		{name: "principal.mapping wildcard", provider: "default", params: []string{"principal.mapping", "*=guest;root=root"},
			user: "bob", want: want{name: "guest"}},
		{name: "group.principal.mapping by mapped name", provider: "default",
			params: []string{"principal.mapping", "guest=hdfs", "group.principal.mapping", "*=users;hdfs=admin,ops"},
			user:   "guest", groups: []string{"ldap1"}, want: want{name: "hdfs", groups: []string{"ldap1", "admin", "ops", "users"}}},
		{name: "group mapping without duplicates", provider: "default", params: []string{"group.principal.mapping", "alice=users;*=users"},
			user: "alice", groups: []string{"users"}, want: want{name: "alice", groups: []string{"users"}}},
		{name: "concat", provider: "concat", params: []string{"concat.prefix", "ext_", "concat.suffix", "_domain1"},
			user: "alice", want: want{name: "ext_alice_domain1"}},
		{name: "regex with lookup", provider: "regex",
			params: []string{"input", `(.*)@(.*?)\..*`, "output", "{1}_{[2]}", "lookup", "us=USA;ca=CANADA"},
			user:   "nobody@us.imaginary.tld", want: want{name: "nobody_USA"}},
		{name: "regex lookup failure, original kept", provider: "regex",
			params: []string{"input", `(.*)@(.*?)\..*`, "output", "{1}_{[2]}", "lookup", "us=USA", "use.original.on.lookup.failure", "true"},
			user:   "nobody@uk.imaginary.tld", want: want{name: "nobody_uk"}},
		{name: "regex lookup failure, empty", provider: "regex",
			params: []string{"input", `(.*)@(.*?)\..*`, "output", "{1}_{[2]}", "lookup", "us=USA"},
			user:   "nobody@uk.imaginary.tld", want: want{name: "nobody_"}},
		{name: "regex no match: unchanged", provider: "regex", params: []string{"input", `(.*)@(.*)`, "output", "{2}-{1}"},
			user: "plain", want: want{name: "plain"}},
		{name: "regex replacement is not expanded again", provider: "regex", params: []string{"input", `^(.*)$`, "output", "u-{1}"},
			user: "{1}", want: want{name: "u-{1}"}},
		{name: "regex to nothing: refused", provider: "regex", params: []string{"input", `^x(.*)$`, "output", "{1}"},
			user: "x", want: want{status: 403, log: "mapped principal is empty"}},
		{name: "switch-case default lower", provider: "switch-case", user: "Alice", groups: []string{"Admins"},
			want: want{name: "alice", groups: []string{"admins"}}},
		{name: "switch-case upper user, groups none", provider: "switch-case", params: []string{"principal.case", "upper", "group.principal.case", "none"},
			user: "Alice", groups: []string{"Admins"}, want: want{name: "ALICE", groups: []string{"Admins"}}},
		{name: "hadoop-groups static overrides", provider: "hadoop-groups",
			params: []string{"hadoop.user.group.static.mapping.overrides", "alice=etl,analysts;bob="},
			user:   "alice", groups: []string{"ldap"}, want: want{name: "alice", groups: []string{"ldap", "etl", "analysts"}}},
		{name: "hadoop-groups, user mapped to none", provider: "hadoop-groups",
			params: []string{"hadoop.user.group.static.mapping.overrides", "alice=etl;bob="},
			user:   "bob", want: want{name: "bob"}},
	})
}

// The principal in context is never modified: a copy carries the mapping.
func TestPrincipalNotModified(t *testing.T) {
	c, err := build(t, nil, "switch-case", "group.principal.mapping", "*=Users")
	if err != nil {
		t.Fatal(err)
	}
	in := request("GET", "/x", "Alice", []string{"Admins", "Ops"}, "192.0.2.1")
	orig, _ := identity.FromContext(in.Context())
	r := c.ServeInbound(httptest.NewRecorder(), in)
	got, _ := identity.FromContext(r.Context())
	if orig.Name != "Alice" || !slices.Equal(orig.Groups, []string{"Admins", "Ops"}) {
		t.Fatalf("original principal modified: %+v", orig)
	}
	if got.Name != "alice" || !slices.Equal(got.Groups, []string{"admins", "ops", "users"}) {
		t.Fatalf("mapped principal %+v", got)
	}
}

func TestNoPrincipal(t *testing.T) {
	c, err := build(t, nil, "default")
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	if c.ServeInbound(w, httptest.NewRequest("GET", "/", nil)) != nil || w.Code != 401 {
		t.Fatalf("code %d", w.Code)
	}
}

// The impersonation rules of the tests: svc may act as bob and as members
// of etl (carol, by the static mapping) from 10.0.0.0/8 and 2001:db8::/32;
// members of the group schedulers may act as anyone from 192.0.2.0/24.
var rules = []string{
	"hadoop.proxyuser.svc.users", "bob",
	"hadoop.proxyuser.svc.groups", "etl",
	"hadoop.proxyuser.svc.hosts", "10.0.0.0/8, 2001:db8::/32",
	"hadoop.proxygroup.schedulers.users", "*",
	"hadoop.proxygroup.schedulers.hosts", "192.0.2.0/24",
	"group.principal.mapping", "carol=etl",
}

func TestImpersonation(t *testing.T) {
	runInbound(t, []inbound{
		{name: "allowed user", provider: "default", params: rules, user: "svc", query: "doAs=bob", client: "10.1.2.3",
			want: want{name: "bob", authAs: "svc", log: `msg="identity assertion: impersonation" topology=t provider=default caller=svc as=bob client=10.1.2.3`}},
		{name: "allowed by the target's group", provider: "default", params: rules, user: "svc", query: "doAs=carol", client: "2001:db8::7",
			want: want{name: "carol", groups: []string{"etl"}, authAs: "svc", log: "as=carol"}},
		{name: "case variant DOAS", provider: "default", params: rules, user: "svc", query: "DOAS=bob", client: "10.1.2.3",
			want: want{name: "bob", authAs: "svc", log: "as=bob"}},
		{name: "case variant User.Name", provider: "default", params: rules, user: "svc", query: "User.Name=bob", client: "10.1.2.3",
			want: want{name: "bob", authAs: "svc", log: "as=bob"}},
		{name: "caller's groups are not the target's", provider: "default", params: rules, user: "svc", groups: []string{"admins"},
			query: "doAs=bob", client: "10.1.2.3", want: want{name: "bob", authAs: "svc", log: "as=bob"}},
		{name: "proxygroup member", provider: "default", params: rules, user: "cron", groups: []string{"schedulers"},
			query: "doAs=dave", client: "192.0.2.44", want: want{name: "dave", authAs: "cron", log: "as=dave"}},
		{name: "then principal.mapping (Knox: transitive)", provider: "default", params: append([]string{"principal.mapping", "bob=tom"}, rules...),
			user: "svc", query: "doAs=bob", client: "10.1.2.3", want: want{name: "tom", authAs: "svc", log: "as=bob"}},
		{name: "doAs of oneself: nothing to do", provider: "default", params: rules, user: "alice", query: "doAs=alice&user.name=alice",
			want: want{name: "alice"}},
		{name: "empty doAs", provider: "default", params: rules, user: "alice", query: "doAs=", want: want{name: "alice"}},

		// Spoofing: the parameter never makes the request act as someone else.
		{name: "no rule for the caller: removed, logged", provider: "default", params: rules, user: "alice", query: "doAs=bob",
			want: want{name: "alice", log: `without proxy-user rules removed" topology=t provider=default caller=alice requested=bob`}},
		{name: "no rules at all", provider: "default", user: "alice", query: "user.name=root",
			want: want{name: "alice", log: "requested=root"}},
		{name: "caller in the wrong group: removed", provider: "default", params: rules, user: "alice", groups: []string{"analysts"},
			query: "doAs=bob", client: "192.0.2.44", want: want{name: "alice", groups: []string{"analysts"}, log: "without proxy-user rules"}},
		{name: "wrong target", provider: "default", params: rules, user: "svc", query: "doAs=root", client: "10.1.2.3",
			want: want{status: 403, log: `impersonation refused" topology=t provider=default caller=svc requested=root`}},
		{name: "wrong address", provider: "default", params: rules, user: "svc", query: "doAs=bob", client: "192.0.2.44",
			want: want{status: 403, log: "client=192.0.2.44"}},
		{name: "unknown address", provider: "default", params: rules, user: "svc", query: "doAs=bob", client: "",
			want: want{status: 403, log: "impersonation refused"}},
		{name: "proxygroup member from the wrong address", provider: "default", params: rules, user: "cron", groups: []string{"schedulers"},
			query: "doAs=dave", client: "10.1.2.3", want: want{status: 403, log: "impersonation refused"}},
		{name: "two different targets", provider: "default", params: rules, user: "svc", query: "doAs=bob&DOAS=carol", client: "10.1.2.3",
			want: want{status: 400}},
		{name: "control characters", provider: "default", params: rules, user: "svc", query: "doAs=bob%0Aroot", client: "10.1.2.3",
			want: want{status: 400}},
		{name: "impersonation disabled", provider: "default", params: append([]string{"hadoop.proxyuser.impersonation.enabled", "false"}, rules...),
			user: "svc", query: "doAs=bob", client: "10.1.2.3", want: want{name: "svc", log: "impersonation is disabled"}},
	})
}

func TestOutbound(t *testing.T) {
	tests := []struct {
		name    string
		params  []string
		query   string
		headers map[string]string
		outQ    string
	}{
		{"nothing asserted by default", nil, "op=OPEN", map[string]string{}, "op=OPEN"},
		{"header", []string{"header", "x-forwarded-user"}, "", map[string]string{"X-Forwarded-User": "alice"}, ""},
		{"groups header", []string{"header", "SM_USER", "groups_header", "X-Forwarded-Groups"}, "",
			map[string]string{"Sm_user": "alice", "X-Forwarded-Groups": "a,b"}, ""},
		{"query param appended", []string{"query_param", "doAs"}, "op=OPEN", map[string]string{}, "op=OPEN&doAs=alice"},
		{"query param alone", []string{"query_param", "user.name"}, "", map[string]string{}, "user.name=alice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := build(t, nil, "default", tc.params...)
			if err != nil {
				t.Fatal(err)
			}
			in := request("GET", "/gateway/t/echo", "alice", []string{"a", "b"}, "192.0.2.1")
			out := httptest.NewRequest("GET", "http://backend/echo?"+tc.query, nil)
			c.RewriteOutbound(out, in)
			if out.URL.RawQuery != tc.outQ {
				t.Fatalf("query %q, want %q", out.URL.RawQuery, tc.outQ)
			}
			if len(out.Header) != len(tc.headers) {
				t.Fatalf("headers %v, want %v", out.Header, tc.headers)
			}
			for k, v := range tc.headers {
				if got := out.Header[k]; len(got) != 1 || got[0] != v {
					t.Fatalf("%s = %q, want %q", k, got, v)
				}
			}
			// What it sets is an identity header: the client's copies are stripped.
			var hs []string
			for k := range tc.headers {
				hs = append(hs, k)
			}
			if got := c.IdentityHeaders(); len(got) != len(hs) {
				t.Fatalf("IdentityHeaders %v, want %v", got, hs)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		provider string
		params   []string
		want     string
	}{
		{"default", []string{"principal.mapping", "alice"}, `param "principal.mapping": entry "alice" has no '='`},
		{"default", []string{"principal.mapping", "alice=bob,carol"}, `param "principal.mapping"`},
		{"default", []string{"principal.mapping", "alice=bob;alice=carol"}, `user "alice" is mapped twice`},
		{"default", []string{"principal.mapping", ";"}, `param "principal.mapping": no mapping`},
		{"default", []string{"group.principal.mapping", "alice="}, `param "group.principal.mapping": no groups`},
		{"default", []string{"concat.prefix", "x"}, `param "concat.prefix": is not a parameter of this provider`},
		{"default", []string{"hadoop.security.group.mapping", "org.apache.hadoop.security.LdapGroupsMapping"}, "Hadoop group mapping services are not available"},
		{"hadoop-groups", nil, `param "hadoop.user.group.static.mapping.overrides": is required`},
		{"hadoop-groups", []string{"hadoop.user.group.static.mapping.overrides", "a,b=g"}, "one user per entry"},
		{"regex", []string{"input", "(a", "output", "{1}"}, `param "input": error parsing regexp`},
		{"regex", []string{"input", "(?<=a)b", "output", "x"}, `param "input"`},
		{"regex", []string{"input", "(a)", "output", "{2}"}, `param "output": "{2}" refers to a group`},
		{"regex", []string{"input", "(a)", "output", "{[1}"}, `param "output"`},
		{"regex", []string{"output", "{1}"}, `param "input": is required`},
		{"switch-case", []string{"principal.case", "title"}, `param "principal.case": "title": must be lower, upper or none`},
		{"switch-case", []string{"group.principal.case", "camel"}, `param "group.principal.case"`},
		{"default", []string{"hadoop.proxyuser.svc.users", "bob"}, `param "hadoop.proxyuser.svc.hosts": is required`},
		{"default", []string{"hadoop.proxyuser.svc.hosts", "*"}, `param "hadoop.proxyuser.svc.users": is required`},
		{"default", []string{"hadoop.proxyuser.svc.users", "bob", "hadoop.proxyuser.svc.hosts", "10.0.0.0/33"}, `param "hadoop.proxyuser.svc.hosts": "10.0.0.0/33" is not a CIDR range`},
		{"default", []string{"hadoop.proxyuser.svc.users", "bob", "hadoop.proxyuser.svc.hosts", "gw.example"}, "host names are not supported"},
		{"default", []string{"hadoop.proxyuser.svc.users", "bob,,x", "hadoop.proxyuser.svc.hosts", "*"}, `param "hadoop.proxyuser.svc.users": empty entry`},
		{"default", []string{"hadoop.proxyuser.svc.admins", "x"}, `param "hadoop.proxyuser.svc.admins": is not a parameter`},
		{"default", []string{"hadoop.proxyuser.impersonation.enabled", "yes"}, `param "hadoop.proxyuser.impersonation.enabled": must be true or false`},
		{"default", []string{"header", "X-Forwarded-For"}, `param "header": header "X-Forwarded-For" is managed by the gateway`},
		{"default", []string{"header", "X User"}, `param "header"`},
		{"default", []string{"header", "X-User", "groups_header", "x-user"}, `param "groups_header": must differ`},
		{"default", []string{"query_param", "user"}, `param "query_param": must be "doAs" or "user.name"`},
		{"default", []string{"query_param", "do%41s"}, `param "query_param"`},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			_, err := build(t, nil, tc.provider, tc.params...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

func TestLookupGroups(t *testing.T) {
	c, err := build(t, nil, "switch-case", "group.principal.case", "upper", "group.principal.mapping", "*=users;alice=etl,analysts")
	if err != nil {
		t.Fatal(err)
	}
	hs := c.Handlers()
	gl, ok := hs[0].(chain.GroupLookup)
	if !ok {
		t.Fatalf("%T is not a group source", hs[0])
	}
	for user, want := range map[string][]string{"alice": {"ETL", "ANALYSTS", "USERS"}, "bob": {"USERS"}} {
		got, err := gl.LookupGroups(context.Background(), user)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%s: %q %v, want %q", user, got, err, want)
		}
	}
	// Without a group mapping, identity assertion is no group source.
	c, err = build(t, nil, "default", "principal.mapping", "a=b")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Handlers()[0].(chain.GroupLookup); ok {
		t.Fatal("a handler without group mapping claims to be a group source")
	}
}

// The common path (no mapping, no doAs) leaves the request as it is and
// does not allocate.
func TestNoAllocationWhenNothingApplies(t *testing.T) {
	c, err := build(t, nil, "default", "header", "X-Forwarded-User")
	if err != nil {
		t.Fatal(err)
	}
	r := request("GET", "/gateway/t/echo/x?op=OPEN&offset=0", "alice", nil, "192.0.2.1")
	w := httptest.NewRecorder()
	if n := testing.AllocsPerRun(100, func() {
		if c.ServeInbound(w, r) != r {
			t.Fatal("request replaced")
		}
	}); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}
