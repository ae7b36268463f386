package proxy_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy/frontend"
)

func TestRouting(t *testing.T) {
	e := newEnv(t, proxyConfig())
	var backends = map[string]*backend{}
	for _, n := range []string{"hive", "hive-api", "public", "webhdfs"} {
		n := n
		backends[n] = newBackend(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(n)) })
	}
	e.deploy(topo("sandbox",
		svc("hive", backends["hive"].URL),
		svc("hive/api", backends["hive-api"].URL+"/api/v2/"),
		svc("public", backends["public"].URL),
		svc("webhdfs", backends["webhdfs"].URL+"/webhdfs"),
	))
	e.deploy(topo("other", svc("public", backends["public"].URL+"/other")))

	tests := []struct {
		path        string
		status      int
		backend     string // body = the backend's name
		backendPath string
	}{
		{"/gateway/sandbox/hive", 200, "hive", "/"},
		{"/gateway/sandbox/hive/", 200, "hive", "/"},
		{"/gateway/sandbox/hive/x/y", 200, "hive", "/x/y"},
		{"/gateway/sandbox/hive/api", 200, "hive-api", "/api/v2"},
		{"/gateway/sandbox/hive/api/", 200, "hive-api", "/api/v2/"},
		{"/gateway/sandbox/hive/api/q?x=1", 200, "hive-api", "/api/v2/q"},
		{"/gateway/sandbox/hive/apix", 200, "hive", "/apix"}, // whole segments only
		{"/gateway/sandbox/webhdfs/v1/tmp", 200, "webhdfs", "/webhdfs/v1/tmp"},
		{"/gateway/other/public/a", 200, "public", "/other/a"},
		{"/gateway/sandbox/publicx", 404, "", ""},
		{"/gateway/sandbox/public../admin", 404, "", ""},
		{"/gateway/sandbox/nosuch/x", 404, "", ""},
		{"/gateway/nosuch/hive", 404, "", ""},
		{"/gateway/sandbox", 404, "", ""},
		{"/gateway/sandbox/", 404, "", ""},
		{"/gateway/", 404, "", ""},
		{"/elsewhere/sandbox/hive", 404, "", ""},
		{"/", 404, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := e.get(tc.path)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tc.status, body)
			}
			if tc.status == 404 {
				var v struct{ Error string }
				if err := json.Unmarshal([]byte(body), &v); err != nil || v.Error == "" ||
					resp.Header.Get("Content-Type") != "application/json" {
					t.Fatalf("404 body %q (%s): want small JSON {\"error\":…}", body, resp.Header.Get("Content-Type"))
				}
				return
			}
			if body != tc.backend {
				t.Fatalf("served by %q, want %q", body, tc.backend)
			}
			if got := backends[tc.backend].last().URL.Path; got != tc.backendPath {
				t.Fatalf("backend path %q, want %q", got, tc.backendPath)
			}
		})
	}
}

// TestPathOneView checks that routing, the chain and the backend see one
// path, and that refused paths reach neither the chain nor a backend,
// through both front servers.
func TestPathOneView(t *testing.T) {
	for _, kind := range []string{frontend.KindLean, frontend.KindNetHTTP} {
		t.Run(kind, func(t *testing.T) { testPathOneView(t, kind) })
	}
}

func testPathOneView(t *testing.T, kind string) {
	e := newEnv(t, proxyConfig())
	e.fe = newTestFront(t, e.p, kind)
	b := newBackend(t, nil)
	top := topo("t", svc("svc", b.URL+"/base"), svc("public", b.URL+"/public"))
	top.Providers = append(top.Providers, topology.Provider{Role: "custom", Name: "test-recorder"})
	e.deploy(top)

	tests := []struct {
		target     string
		status     int
		chainPath  string // what the chain saw
		backendRaw string // the request-target's path the backend received
	}{
		{"/gateway/t/svc/a/b", 200, "/gateway/t/svc/a/b", "/base/a/b"},
		{"/gateway//t//svc//a//b//", 200, "/gateway/t/svc/a/b/", "/base/a/b/"},
		{"/gateway/t/svc/./a/%2e/b", 200, "/gateway/t/svc/a/b", "/base/a/b"},
		{"/gateway/t/%73vc/%41", 200, "/gateway/t/svc/A", "/base/A"},
		{"/gateway/t/svc/a%23b", 200, "/gateway/t/svc/a#b", "/base/a%23b"},
		{"/gateway/t/svc/a%3Fb?q=1", 200, "/gateway/t/svc/a?b", "/base/a%3Fb"},
		{"/gateway/t/svc/a;jsessionid=x", 200, "/gateway/t/svc/a;jsessionid=x", "/base/a;jsessionid=x"},
		{"/gateway/t/svc/100%25", 200, "/gateway/t/svc/100%", "/base/100%25"},
		{"/gateway/t/svc/a%20b", 200, "/gateway/t/svc/a b", "/base/a%20b"},
		{"/gateway/t/svc/../public/x", 400, "", ""},
		{"/gateway/t/public/..;/svc/x", 400, "", ""},
		{"/gateway/t/public/%2e%2e/svc", 400, "", ""},
		{"/gateway/t/public%2F..%2Fsvc", 400, "", ""},
		{"/gateway/t/public/..%5Csvc", 400, "", ""},
		{"/gateway/t/svc/a%00", 400, "", ""},
		{"/gateway/t/svc/%252e%252e/x", 400, "", ""},
		{"/gateway/t/svc/a\\b", 400, "", ""},
		{"/gateway/t/public../svc", 404, "", ""},
	}
	for i, tc := range tests {
		t.Run(tc.target, func(t *testing.T) {
			before := b.count()
			id := "path-" + strconv.Itoa(i)
			resp, body := rawGet(t, e.addr(), tc.target, "X-Request-Id", id)
			if resp == nil || resp.StatusCode != tc.status {
				t.Fatalf("got %v %s, want %d", resp, body, tc.status)
			}
			seen, chainRan := chainSaw.Load(id)
			if tc.status != 200 {
				if chainRan || b.count() != before {
					t.Fatalf("refused request reached the chain (%v) or the backend (%d→%d)", chainRan, before, b.count())
				}
				return
			}
			if !chainRan || seen.(string) != tc.chainPath {
				t.Fatalf("chain saw %v, want %q", seen, tc.chainPath)
			}
			r := b.last()
			if got := r.URL.EscapedPath(); got != tc.backendRaw {
				t.Fatalf("backend got %q (RequestURI %q), want %q", got, r.RequestURI, tc.backendRaw)
			}
			// The backend's decoded view is the chain's, rebased.
			if want := "/base" + tc.chainPath[len("/gateway/t/svc"):]; r.URL.Path != want {
				t.Fatalf("backend decoded path %q, want %q", r.URL.Path, want)
			}
		})
	}
}
