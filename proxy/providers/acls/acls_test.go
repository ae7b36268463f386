package acls_test

import (
	"context"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/identity"
	_ "github.com/securegw/gateway/proxy/providers/acls"
	"github.com/securegw/gateway/proxy/route"
)

func build(kv ...string) (*chain.Chain, error) {
	pr := topology.Provider{Role: "authorization", Name: "acls", Params: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		pr.Params[kv[i]] = kv[i+1]
	}
	return chain.Build(context.Background(), "t", []topology.Provider{pr}, nil)
}

var services = []chain.Service{{Path: "webhdfs", Role: "WEBHDFS"}, {Path: "echo"}, {Path: "yarn/ui", Role: "YARNUI"}, {Path: "auth"}}

func TestACLs(t *testing.T) {
	type req struct {
		service, role, user string
		groups              []string
		client              string
		status              int // 0: allowed
	}
	tests := []struct {
		name   string
		params []string
		reqs   []req
	}{
		{"users only (AND, * elsewhere)", []string{"webhdfs.acl", "hdfs, guest ;*;*"}, []req{
			{"webhdfs", "WEBHDFS", "guest", nil, "192.0.2.1", 0},
			{"webhdfs", "WEBHDFS", "alice", nil, "192.0.2.1", 403},
			{"echo", "", "alice", nil, "192.0.2.1", 0}, // no ACL: allowed (Knox)
		}},
		{"by role, case-insensitive", []string{"WebHdfs.acl", "hdfs;*;*"}, []req{
			{"webhdfs", "WEBHDFS", "alice", nil, "192.0.2.1", 403},
			{"webhdfs", "WEBHDFS", "hdfs", nil, "192.0.2.1", 0},
		}},
		{"AND: user, group and address", []string{"echo.acl", "alice,bob;admins;10.0.0.0/8,2001:db8::/32"}, []req{
			{"echo", "", "alice", []string{"users", "admins"}, "10.9.8.7", 0},
			{"echo", "", "alice", []string{"admins"}, "2001:db8::1", 0},
			{"echo", "", "alice", []string{"users"}, "10.9.8.7", 403},
			{"echo", "", "carol", []string{"admins"}, "10.9.8.7", 403},
			{"echo", "", "alice", []string{"admins"}, "11.0.0.1", 403},
			{"echo", "", "alice", []string{"admins"}, "", 403}, // unknown address
		}},
		{"OR: one part suffices, * counts as none", []string{"echo.acl", "alice;admins;*", "echo.acl.mode", "or"}, []req{
			{"echo", "", "alice", nil, "192.0.2.1", 0},
			{"echo", "", "carol", []string{"admins"}, "192.0.2.1", 0},
			{"echo", "", "carol", []string{"users"}, "192.0.2.1", 403},
		}},
		{"topology-wide OR, service AND", []string{"acl.mode", "OR", "echo.acl", "alice;admins;*", "webhdfs.acl", "hdfs;admins;*", "webhdfs.acl.mode", "AND"}, []req{
			{"echo", "", "alice", nil, "192.0.2.1", 0},
			{"webhdfs", "WEBHDFS", "hdfs", nil, "192.0.2.1", 403},
			{"webhdfs", "WEBHDFS", "hdfs", []string{"admins"}, "192.0.2.1", 0},
		}},
		{"Knox IP wildcard", []string{"echo.acl", "*;*;192.168.*"}, []req{
			{"echo", "", "alice", nil, "192.168.7.7", 0},
			{"echo", "", "alice", nil, "192.169.0.1", 403},
		}},
		{"default deny", []string{"default", "deny", "echo.acl", "*;*;*"}, []req{
			{"echo", "", "alice", nil, "192.0.2.1", 0},
			{"webhdfs", "WEBHDFS", "alice", nil, "192.0.2.1", 403},
			{"auth", "", "alice", nil, "192.0.2.1", 403},
		}},
		{"service path with a slash", []string{"yarn/ui.acl", "alice;*;*"}, []req{
			{"yarn/ui", "YARNUI", "bob", nil, "192.0.2.1", 403},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := build(tc.params...)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.CheckServices(services); err != nil {
				t.Fatal(err)
			}
			for _, rq := range tc.reqs {
				r := httptest.NewRequest("GET", "/gateway/t/"+rq.service, nil)
				info := &route.Info{Topology: "t", Service: rq.service, Role: rq.role}
				if rq.client != "" {
					info.Client = netip.MustParseAddr(rq.client)
				}
				r = r.WithContext(route.NewContext(r.Context(), info))
				r = identity.WithPrincipal(r, &identity.Principal{Name: rq.user, Groups: rq.groups})
				w := httptest.NewRecorder()
				got := c.ServeInbound(w, r)
				switch {
				case rq.status == 0 && got == nil:
					t.Errorf("%+v refused: %d %s", rq, w.Code, w.Body)
				case rq.status != 0 && (got != nil || w.Code != rq.status):
					t.Errorf("%+v: passed=%v code %d, want %d", rq, got != nil, w.Code, rq.status)
				case rq.status == 403:
					want := `{"error":"access denied: user ` + rq.user + ` is not allowed to use service ` + rq.service + `"}` + "\n"
					if w.Body.String() != want {
						t.Errorf("body %q, want %q", w.Body, want)
					}
				}
			}
		})
	}
}

// The reason never carries raw client input: the name is JSON-escaped.
func TestDenialEscapes(t *testing.T) {
	c, err := build("echo.acl", "alice;*;*")
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/gateway/t/echo", nil)
	r = r.WithContext(route.NewContext(r.Context(), &route.Info{Service: "echo"}))
	r = identity.WithPrincipal(r, &identity.Principal{Name: `<img src=x onerror="alert(1)">`})
	w := httptest.NewRecorder()
	c.ServeInbound(w, r)
	if w.Code != 403 || strings.ContainsAny(w.Body.String(), "<>") || !strings.Contains(w.Body.String(), `\u003cimg src=x onerror=\"alert(1)\"\u003e`) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

func TestWithoutRouteOrPrincipal(t *testing.T) {
	c, err := build("echo.acl", "*;*;*")
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	if c.ServeInbound(w, httptest.NewRequest("GET", "/", nil)) != nil || w.Code != 403 {
		t.Fatalf("no route info: %d", w.Code)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r = r.WithContext(route.NewContext(r.Context(), &route.Info{Service: "echo"}))
	w = httptest.NewRecorder()
	if c.ServeInbound(w, r) != nil || w.Code != 401 {
		t.Fatalf("no principal: %d", w.Code)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		params []string
		want   string
	}{
		{[]string{"echo.acl", "*;*;10.0.0.0/33"}, `param "echo.acl": "10.0.0.0/33" is not a CIDR range`},
		{[]string{"echo.acl", "*;*;not-an-ip"}, `param "echo.acl": "not-an-ip" is not an IP address`},
		{[]string{"echo.acl", "alice;admins"}, `param "echo.acl": must be users;groups;ips`},
		{[]string{"echo.acl", "alice;admins;*;x"}, `param "echo.acl": must be users;groups;ips`},
		{[]string{"echo.acl", ";admins;*"}, `param "echo.acl": empty entry`},
		{[]string{"echo.acl", "*;*;*", "echo.acl.mode", "XOR"}, `param "echo.acl.mode": "XOR": must be AND or OR`},
		{[]string{"acl.mode", "maybe"}, `param "acl.mode"`},
		{[]string{"webhdfs.acl.mode", "OR"}, `param "webhdfs.acl.mode": there is no webhdfs.acl`},
		{[]string{"echo.acl", "*;*;*", "echo.acl.mode", "OR"}, `param "echo.acl": *;*;* in OR mode allows nobody`},
		{[]string{"default", "block"}, `param "default": "block": must be allow or deny`},
		{[]string{"echo.acls", "*;*;*"}, `param "echo.acls": is not a parameter of this provider`},
		{[]string{"echo.acl", "*;*;*", "ECHO.acl", "*;*;*"}, `repeats`},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			_, err := build(tc.params...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

func TestCheckServices(t *testing.T) {
	for _, tc := range []struct {
		param, want string
	}{
		{"webhfds.acl", `provider "acls" (role "authorization"): param "webhfds.acl": no service of the topology has the path or role "webhfds"`},
		{"YARNUI.acl", ""},
		{"yarn/ui.acl", ""},
		{"auth.acl", ""},
	} {
		c, err := build(tc.param, "*;*;*")
		if err != nil {
			t.Fatal(err)
		}
		err = c.CheckServices(services)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || err.Error() != tc.want) {
			t.Errorf("%s: %v, want %q", tc.param, err, tc.want)
		}
	}
}

func TestAllowedDoesNotAllocate(t *testing.T) {
	c, err := build("echo.acl", "alice,bob;admins;10.0.0.0/8", "WEBHDFS.acl", "*;*;*")
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/gateway/t/echo", nil)
	r = r.WithContext(route.NewContext(r.Context(), &route.Info{Service: "echo", Client: netip.MustParseAddr("10.1.1.1")}))
	r = identity.WithPrincipal(r, &identity.Principal{Name: "bob", Groups: []string{"users", "admins"}})
	w := httptest.NewRecorder()
	if n := testing.AllocsPerRun(100, func() {
		if c.ServeInbound(w, r) == nil {
			t.Fatal("refused")
		}
	}); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}
