package cli

import (
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

// analyticsYAML is a second topology, so that listings have rows to sort.
const analyticsYAML = `name: analytics
providers:
  - role: authentication
    name: anonymous
services:
  - path: livy
    urls: [http://livy.example:8998]
    websocket: true
`

// newDeployedEnv deploys sandbox (r1), analytics (r2) and sandbox v2 (r3).
func newDeployedEnv(t *testing.T) *testEnv {
	t.Helper()
	e := newEnv(t, fakeOptions{})
	e.deploy(t, "sandbox.yaml", sandboxYAML)
	e.deploy(t, "analytics.yaml", analyticsYAML)
	e.deploy(t, "sandbox-v2.yaml", sandboxV2YAML)
	return e
}

func TestTopologyReadOutputs(t *testing.T) {
	t.Parallel()
	e := newDeployedEnv(t)
	v1 := writeFile(t, e.dir, "v1.yaml", []byte(sandboxYAML))
	tests := []struct {
		golden string
		args   []string
	}{
		{"topology_list.table", []string{"topology", "list"}},
		{"topology_list.json", []string{"topology", "list", "-o", "json"}},
		{"topology_list.yaml", []string{"topology", "list", "-o", "yaml"}},
		{"topology_get.table", []string{"topology", "get", "sandbox"}},
		{"topology_get.json", []string{"topology", "get", "sandbox", "-o", "json"}},
		{"topology_get.yaml", []string{"topology", "get", "sandbox", "-o", "yaml"}},
		{"topology_get_revision.yaml", []string{"topology", "get", "sandbox", "--revision", "1", "-o", "yaml"}},
		{"topology_history.table", []string{"topology", "history", "sandbox"}},
		{"topology_history.json", []string{"topology", "history", "sandbox", "-o", "json"}},
		{"topology_history.yaml", []string{"topology", "history", "sandbox", "-o", "yaml"}},
		{"topology_deploy_dry_run.table", []string{"topology", "deploy", v1, "--dry-run"}},
		{"topology_deploy_dry_run.json", []string{"topology", "deploy", v1, "--dry-run", "-o", "json"}},
		{"topology_deploy_dry_run.yaml", []string{"topology", "deploy", v1, "--dry-run", "-o", "yaml"}},
		{"topology_rollback_dry_run.table", []string{"topology", "rollback", "sandbox", "--revision", "1", "--dry-run"}},
		{"status.table", []string{"status"}},
		{"status.json", []string{"status", "-o", "json"}},
		{"status.yaml", []string{"status", "-o", "yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			r := e.run(t, tt.args...)
			mustSucceed(t, r)
			if r.stderr != "" {
				t.Errorf("unexpected stderr: %q", r.stderr)
			}
			golden(t, tt.golden, r.stdout)
		})
	}
	// A dry run stores nothing.
	if r := e.run(t, "topology", "get", "sandbox", "-o", "json"); !strings.Contains(r.stdout, `"revision": 3,`) {
		t.Errorf("dry runs changed the topology:\n%s", r.stdout)
	}
}

// TestTopologyMutations walks a topology through deploys, a rollback and a
// delete, checking what each step prints.
func TestTopologyMutations(t *testing.T) {
	t.Parallel()
	e := newEnv(t, fakeOptions{})
	v1 := writeFile(t, e.dir, "sandbox.yaml", []byte(sandboxYAML))
	v2 := writeFile(t, e.dir, "sandbox-v2.yaml", []byte(sandboxV2YAML))
	steps := []struct {
		golden string
		args   []string
	}{
		{"deploy_created.table", []string{"topology", "deploy", v1}},
		{"deploy_unchanged.table", []string{"topology", "deploy", v1}},
		{"deploy_changed.table", []string{"topology", "deploy", v2}},
		{"deploy_changed_again.json", []string{"topology", "deploy", v1, "-o", "json"}},
		{"rollback.table", []string{"topology", "rollback", "sandbox", "--revision", "2"}},
		{"rollback_unchanged.table", []string{"topology", "rollback", "sandbox", "--revision", "4"}},
		{"delete.table", []string{"topology", "delete", "sandbox"}},
	}
	for _, s := range steps {
		r := e.run(t, s.args...)
		mustSucceed(t, r)
		golden(t, s.golden, r.stdout)
	}
	r := e.run(t, "topology", "history", "sandbox")
	mustSucceed(t, r)
	golden(t, "history_after_mutations.table", r.stdout)
}

func TestTopologyDeployFromStdin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, fakeOptions{})
	r := e.runWith(t, runOpts{stdin: sandboxYAML}, "topology", "deploy", "-", "--name", "piped", "--format", "yaml")
	mustSucceed(t, r)
	reqs := e.g.received("TopologyService/Deploy")
	if len(reqs) != 1 {
		t.Fatalf("got %d Deploy calls, want 1", len(reqs))
	}
	req := reqs[0].(*gatewayv1.DeployRequest)
	if string(req.GetDocument()) != sandboxYAML || req.GetName() != "piped" || req.GetFormat() != gatewayv1.Format_FORMAT_YAML || req.GetSourceName() != "<stdin>" {
		t.Errorf("request = name %q format %v source %q document %q", req.GetName(), req.GetFormat(), req.GetSourceName(), req.GetDocument())
	}
	if want := `topology "piped" deployed at revision 1`; !strings.Contains(r.stdout, want) {
		t.Errorf("stdout %q does not contain %q", r.stdout, want)
	}
}

// TestGetYAMLRoundTrips checks that `get -o yaml > f; deploy f` changes
// nothing.
func TestGetYAMLRoundTrips(t *testing.T) {
	t.Parallel()
	e := newDeployedEnv(t)
	r := e.run(t, "topology", "get", "sandbox", "-o", "yaml")
	mustSucceed(t, r)
	p := writeFile(t, e.dir, "roundtrip.yaml", []byte(r.stdout))
	r = e.run(t, "topology", "deploy", p)
	mustSucceed(t, r)
	if want := "topology \"sandbox\" unchanged (revision 3)\n"; r.stdout != want {
		t.Errorf("redeploying get -o yaml printed %q, want %q", r.stdout, want)
	}
}

// TestExpectRevisionSentOnlyWhenSet asserts on the requests gatewayd
// received: expect_revision is absent without the flag, and present (even
// when 0) with it.
func TestExpectRevisionSentOnlyWhenSet(t *testing.T) {
	t.Parallel()
	doc := func(e *testEnv, t *testing.T) string { return writeFile(t, e.dir, "s.yaml", []byte(sandboxYAML)) }
	tests := []struct {
		name   string
		method string
		args   func(e *testEnv, t *testing.T) []string
		want   *int64
	}{
		{"deploy without flag", "TopologyService/Deploy", func(e *testEnv, t *testing.T) []string { return []string{"topology", "deploy", doc(e, t)} }, nil},
		{"deploy with 0", "TopologyService/Deploy", func(e *testEnv, t *testing.T) []string {
			return []string{"topology", "deploy", doc(e, t), "--expect-revision", "0"}
		}, proto.Int64(0)},
		{"deploy with 1", "TopologyService/Deploy", func(e *testEnv, t *testing.T) []string {
			return []string{"topology", "deploy", doc(e, t), "--expect-revision=1"}
		}, proto.Int64(1)},
		{"delete without flag", "TopologyService/Delete", func(*testEnv, *testing.T) []string { return []string{"topology", "delete", "sandbox"} }, nil},
		{"delete with 1", "TopologyService/Delete", func(*testEnv, *testing.T) []string {
			return []string{"topology", "delete", "sandbox", "--expect-revision", "1"}
		}, proto.Int64(1)},
		{"rollback without flag", "TopologyService/Rollback", func(*testEnv, *testing.T) []string {
			return []string{"topology", "rollback", "sandbox", "--revision", "1", "--dry-run"}
		}, nil},
		{"rollback with 1", "TopologyService/Rollback", func(*testEnv, *testing.T) []string {
			return []string{"topology", "rollback", "sandbox", "--revision", "1", "--expect-revision", "1"}
		}, proto.Int64(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, fakeOptions{})
			// Every case but "must not exist" needs the topology at revision 1.
			if tt.want == nil || *tt.want != 0 {
				e.deploy(t, "sandbox.yaml", sandboxYAML)
			}
			r := e.run(t, tt.args(e, t)...)
			mustSucceed(t, r)
			reqs := e.g.received(tt.method)
			if len(reqs) == 0 {
				t.Fatalf("no %s call received", tt.method)
			}
			var got *int64
			switch m := reqs[len(reqs)-1].(type) {
			case *gatewayv1.DeployRequest:
				got = m.ExpectRevision
			case *gatewayv1.DeleteRequest:
				got = m.ExpectRevision
			case *gatewayv1.RollbackRequest:
				got = m.ExpectRevision
			}
			if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
				t.Errorf("expect_revision = %v, want %v", fmtPtr(got), fmtPtr(tt.want))
			}
		})
	}
}

func fmtPtr(p *int64) string {
	if p == nil {
		return "absent"
	}
	return strconv.FormatInt(*p, 10)
}
