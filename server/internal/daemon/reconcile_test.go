package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

// Status reports the applied revision beside the store's; after a deploy
// returned they are equal.
func TestStatusShowsTheAppliedRevision(t *testing.T) {
	c, secret := initGateway(t)
	g := startGateway(t, c, secret)
	ctx := context.Background()
	if _, err := deploy(ctx, g.topologies(t, adminCert(t, c)), topologyYAML("s", backend(t, "A").URL), nil); err != nil {
		t.Fatal(err)
	}
	st, err := gatewayv1.NewStatusServiceClient(g.dial(t, adminCert(t, c))).GetStatus(ctx, &gatewayv1.GetStatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if st.GetAppliedRevision() == 0 || st.GetAppliedRevision() != st.GetStoreRevision() {
		t.Fatalf("applied revision %d, store revision %d: want equal and set", st.GetAppliedRevision(), st.GetStoreRevision())
	}
}

// A rollback to the document that is already current stores nothing and
// says it changed nothing.
func TestRollbackToTheCurrentRevisionIsUnchanged(t *testing.T) {
	c, secret := initGateway(t)
	g := startGateway(t, c, secret)
	ctx := context.Background()
	topo := g.topologies(t, adminCert(t, c))
	v1, err := deploy(ctx, topo, topologyYAML("r", backend(t, "A").URL), nil)
	if err != nil {
		t.Fatal(err)
	}
	rev := storeRevision(t, g)
	rb, err := topo.Rollback(ctx, &gatewayv1.RollbackRequest{Name: "r", Revision: v1.GetTopology().GetRevision()})
	if err != nil {
		t.Fatal(err)
	}
	if rb.GetChanged() || rb.GetTopology().GetRevision() != v1.GetTopology().GetRevision() || storeRevision(t, g) != rev {
		t.Fatalf("no-op rollback: changed=%v at revision %d, store %d → %d", rb.GetChanged(), rb.GetTopology().GetRevision(), rev, storeRevision(t, g))
	}
	if code, body := get(t, g.httpClient(t), g.url("/gateway/r/echo/")); code != 200 || !strings.HasPrefix(body, "A ") {
		t.Fatalf("after a no-op rollback: %d %q", code, body)
	}
}

// Errors say what happened once, and a refused deploy names every problem
// of the document, missing aliases included.
func TestTopologyErrorsAreWholeAndSaidOnce(t *testing.T) {
	c, secret := initGateway(t)
	g := startGateway(t, c, secret)
	ctx := context.Background()
	topo := g.topologies(t, adminCert(t, c))

	_, err := topo.Delete(ctx, &gatewayv1.DeleteRequest{Name: "nope"})
	if msg := status.Convert(err).Message(); status.Code(err) != codes.NotFound || msg != `topology "nope": not found` {
		t.Fatalf("deleting a missing topology: %v %q", status.Code(err), msg)
	}

	doc := `name: many
providers:
  - {role: authentication, name: anonymous}
  - role: custom
    name: header
    params: {name: X-Key, value: "${alias:nowhere}"}
services:
  - {path: a, urls: ["localhost:80"]}
`
	before := storeRevision(t, g)
	_, err = topo.Deploy(ctx, &gatewayv1.DeployRequest{Document: []byte(doc), Format: gatewayv1.Format_FORMAT_YAML})
	msg := status.Convert(err).Message()
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(msg, "services[0].urls[0]") || !strings.Contains(msg, "missing aliases: [nowhere]") {
		t.Fatalf("deploy with a bad URL and a missing alias: %v %q, want both named", status.Code(err), msg)
	}
	if storeRevision(t, g) != before {
		t.Fatal("a refused deploy stored something")
	}
}

// Apache Knox's own sandbox.xml deploys through the management API (issue 9
// item 10): its RPC-only roles are kept, shown by get, and answer a clear
// 404 when requested.
func TestKnoxSandboxDeploys(t *testing.T) {
	c, secret := initGateway(t)
	g := startGateway(t, c, secret)
	ctx := context.Background()
	topo := g.topologies(t, adminCert(t, c))
	doc, err := os.ReadFile(filepath.Join("..", "..", "..", "internal", "topology", "testdata", "knox", "sandbox.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := topo.Deploy(ctx, &gatewayv1.DeployRequest{Document: doc, Format: gatewayv1.Format_FORMAT_KNOX_XML, Name: "sandbox"}); err != nil {
		t.Fatalf("deploying Knox's sandbox.xml: %v", err)
	}
	got, err := topo.Get(ctx, &gatewayv1.GetRequest{Name: "sandbox"})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, s := range got.GetTopology().GetTopology().GetServices() {
		if s.GetRole() == "NAMENODE" || s.GetRole() == "JOBTRACKER" {
			paths = append(paths, s.GetPath())
		}
	}
	if len(paths) != 2 {
		t.Fatalf("topology get shows the RPC-only services %v, want NAMENODE and JOBTRACKER", paths)
	}
	for _, p := range paths {
		code, body := get(t, g.httpClient(t), g.url("/gateway/sandbox/"+p+"/x"))
		if code != 404 || !strings.Contains(body, "not routed") || strings.Contains(body, "127.0.0.1") {
			t.Fatalf("GET %s: %d %q, want a 404 saying it is not routed, without its address", p, code, body)
		}
	}
}
