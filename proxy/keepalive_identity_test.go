package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy/frontend"
)

// On one keep-alive connection of the lean front (whose plain heads reuse
// the connection's request and header map, and whose proxy context carries
// a principal in place), a request never passes as the one before it: not
// after an authenticated request, nor after one the chain authenticated
// and then refused (the ACL), nor for the gateway's own auth API.
func TestKeepAliveRequestsKeepTheirOwnIdentity(t *testing.T) {
	e := newEnv(t, proxyConfig())
	b := newBackend(t, nil)
	e.deploy(&topology.Topology{Name: "t", Services: []topology.Service{svc("echo", b.URL)},
		Providers: []topology.Provider{{Role: "authentication", Name: "test-auth"},
			prov("authorization", "acls", "echo.acl", "alice;*;*")}})
	fe := newTestFront(t, e.p, frontend.KindLean)
	c, err := net.Dial("tcp", strings.TrimPrefix(fe.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	do := func(path, user string) (int, string) {
		t.Helper()
		auth := ""
		if user != "" {
			auth = "X-Test-Token: let-me-in\r\nX-Test-User: " + user + "\r\n"
		}
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: gw\r\n%s\r\n", path, auth)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Close {
			t.Fatalf("GET %s: the gateway closes the connection (%d): the test needs one connection", path, resp.StatusCode)
		}
		return resp.StatusCode, string(body)
	}
	const groups, echo = "/gateway/t/auth/api/v1/groups", "/gateway/t/echo/x"
	steps := []struct {
		path, user string
		want       int
		body       string // in the answer, when set
	}{
		{groups, "alice", 200, `"user":"alice"`},
		{groups, "", 401, ""},
		{echo, "alice", 200, ""},
		{echo, "", 401, ""},
		{echo, "bob", 403, ""}, // authenticated, then refused by the ACL
		{echo, "", 401, ""},
		{groups, "", 401, ""},
		{echo, "bob", 403, ""},
		{groups, "", 401, ""},
	}
	for i, s := range steps {
		st, body := do(s.path, s.user)
		if st != s.want || !strings.Contains(body, s.body) {
			t.Fatalf("step %d: GET %s as %q: %d %q, want %d with %q", i+1, s.path, s.user, st, body, s.want, s.body)
		}
	}
	b.mu.Lock()
	n := len(b.reqs)
	b.mu.Unlock()
	if n != 1 {
		t.Fatalf("the backend got %d requests, want 1 (alice's)", n)
	}
}
