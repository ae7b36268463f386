package proxy_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/securegw/gateway/internal/topology"
)

const knoxShapes = "../internal/topology/testdata/knox"

func parseKnoxShape(t *testing.T, file string) *topology.Topology {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(knoxShapes, file))
	if err != nil {
		t.Fatal(err)
	}
	top, err := topology.Parse(doc, topology.FormatKnoxXML, file, "")
	if err != nil {
		t.Fatal(err)
	}
	return top
}

// Documents in the shape of Knox's shipped topologies get the same verdict
// on the server's compile path as offline (internal/topology's golden
// files): sandbox compiles; admin, knoxsso and manager are refused with
// every unsupported item named at once.
func TestKnoxShapesCompile(t *testing.T) {
	e := newEnv(t, proxyConfig())
	for _, file := range []string{"sandbox.xml", "admin.xml", "knoxsso.xml", "manager.xml"} {
		t.Run(file, func(t *testing.T) {
			top := parseKnoxShape(t, file)
			_, offline := topology.Validate(top)
			c, err := e.p.Compile(context.Background(), top)
			if offline == nil {
				if err != nil {
					t.Fatalf("valid offline, refused by the compiler: %v", err)
				}
				c.Discard()
				return
			}
			var ve *topology.ValidationError
			if !errors.As(err, &ve) || !strings.HasSuffix(err.Error(), offline.Error()) {
				t.Fatalf("compiler: %v\noffline: %v", err, offline)
			}
			var off *topology.ValidationError
			if errors.As(offline, &off); len(ve.Errors) != len(off.Errors) {
				t.Fatalf("compiler named %d problems, offline %d", len(ve.Errors), len(off.Errors))
			}
		})
	}
}

// Knox's RPC-only roles are kept in the topology, and a request to one
// answers a clear 404 (before authentication: there is nothing to serve).
func TestNotRoutedService(t *testing.T) {
	e := newEnv(t, proxyConfig())
	b := newBackend(t, nil)
	top := topo("k", svc("app", b.URL))
	top.Services = append(top.Services, topology.Service{Role: "NAMENODE", Path: "namenode", URLs: []string{"hdfs://127.0.0.1:8020"}})
	e.deploy(top)
	for _, path := range []string{"/gateway/k/namenode", "/gateway/k/namenode/", "/gateway/k/namenode/webhdfs/v1/x"} {
		resp, body := e.get(path)
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "service namenode is not routed: the topology keeps it for service discovery only") {
			t.Errorf("%s: %d %q", path, resp.StatusCode, body)
		}
		if strings.Contains(body, "8020") {
			t.Errorf("%s: the answer shows the service's URL: %q", path, body)
		}
	}
	if resp, body := e.get("/gateway/k/app/"); resp.StatusCode != http.StatusOK {
		t.Fatalf("routed service: %d %q", resp.StatusCode, body)
	}
	if b.count() != 1 {
		t.Fatalf("backend saw %d requests, want 1", b.count())
	}
	// The sandbox shape deploys, NAMENODE and JOBTRACKER included.
	sb := parseKnoxShape(t, "sandbox.xml")
	e.deploy(sb)
	if resp, body := e.get("/gateway/sandbox/jobtracker"); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "not routed") {
		t.Fatalf("jobtracker: %d %q", resp.StatusCode, body)
	}
}

// The hostmap provider maps the host names backends give themselves to the
// topology's; response headers naming them reach the client as gateway
// URLs, and an internal name no service covers never reaches it.
func TestHostMapInResponseHeaders(t *testing.T) {
	e := newEnv(t, proxyConfig())
	var location, cookie string
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", location)
		if cookie != "" {
			w.Header().Set("Set-Cookie", cookie)
		}
		w.WriteHeader(http.StatusFound)
	})
	_, port, _ := strings.Cut(strings.TrimPrefix(b.URL, "http://"), ":")
	top := topo("t", svc("app", b.URL+"/app"), svc("other", "http://127.0.0.1:1/other"))
	top.Providers = append(top.Providers, topology.Provider{Role: "hostmap", Name: "static",
		Params: map[string]string{"127.0.0.1": "vm, vm.cluster.test"}})
	e.deploy(top)
	gw := "http://gw.example/gateway/t"
	tests := []struct {
		in         string
		wantStatus int
		want       string
	}{
		{"http://VM.cluster.test:" + port + "/app/next?x=1", 302, gw + "/app/next?x=1"},
		{"http://vm:1/other/page", 302, gw + "/other/page"},
		{"http://127.0.0.1:" + port + "/app", 302, gw + "/app"},
		{"http://vm:" + port + "/admin", 502, ""},
		{"http://vm.cluster.test:50075/webhdfs/v1/x", 502, ""}, // an internal host on no backend's port
		{"http://elsewhere.example/x", 302, "http://elsewhere.example/x"},
	}
	location = gw + "/app/x"
	for _, d := range []string{"VM.cluster.test", "vm.cluster.test.", ".Vm"} {
		cookie = "sid=1; Domain=" + d + "; Path=/app"
		if resp, body := rawGet(t, e.addr(), "/gateway/t/app/"); resp == nil || resp.Header.Get("Set-Cookie") != "sid=1; Path=/gateway/t/app" {
			t.Errorf("Set-Cookie with the internal Domain %s: %v %q", d, resp, body)
		}
	}
	cookie = ""
	for _, tc := range tests {
		location = tc.in
		resp, body := rawGet(t, e.addr(), "/gateway/t/app/")
		if resp == nil {
			t.Fatal(body)
		}
		if resp.StatusCode != tc.wantStatus || resp.Header.Get("Location") != tc.want {
			t.Errorf("Location %s: %d %q, want %d %q", tc.in, resp.StatusCode, resp.Header.Get("Location"), tc.wantStatus, tc.want)
		}
		if strings.Contains(body, "vm") || strings.Contains(body, port) {
			t.Errorf("Location %s: the answer names an internal address: %q", tc.in, body)
		}
	}
}
