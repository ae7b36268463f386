package daemon

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/securegw/gateway/internal/pki"
	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

// backend answers with its name, so a test sees which one served.
func backend(t *testing.T, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", name, r.URL.Path)
	}))
	t.Cleanup(s.Close)
	return s
}

func topologyYAML(name string, urls ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\nproviders:\n  - role: authentication\n    name: anonymous\n  - role: identity-assertion\n    name: default\nservices:\n  - path: echo\n    urls:\n", name)
	for _, u := range urls {
		fmt.Fprintf(&b, "      - %s\n", u)
	}
	return []byte(b.String())
}

func deploy(ctx context.Context, c gatewayv1.TopologyServiceClient, doc []byte, mod func(*gatewayv1.DeployRequest)) (*gatewayv1.DeployResponse, error) {
	req := &gatewayv1.DeployRequest{Document: doc, Format: gatewayv1.Format_FORMAT_YAML}
	if mod != nil {
		mod(req)
	}
	return c.Deploy(ctx, req)
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func storeRevision(t *testing.T, g *testGateway) int64 {
	t.Helper()
	st, err := gatewayv1.NewStatusServiceClient(g.dial(t, adminCert(t, g.cfg))).GetStatus(context.Background(), &gatewayv1.GetStatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return st.GetStoreRevision()
}

func TestDeployIsLiveWhenTheCallReturns(t *testing.T) {
	c, secret := initGateway(t)
	g := startGateway(t, c, secret)
	ctx := context.Background()
	topo := g.topologies(t, adminCert(t, c))
	hc := g.httpClient(t)
	a, b := backend(t, "A"), backend(t, "B")

	if code, _ := get(t, hc, g.url("/gateway/sandbox/echo/x")); code != http.StatusNotFound {
		t.Fatalf("before deploy: status %d, want 404", code)
	}
	resp, err := deploy(ctx, topo, topologyYAML("sandbox", a.URL), nil)
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	if !resp.GetChanged() || resp.GetTopology().GetRevision() == 0 {
		t.Fatalf("deploy response %v: want changed with a revision", resp)
	}
	if code, body := get(t, hc, g.url("/gateway/sandbox/echo/x")); code != 200 || body != "A /x" {
		t.Fatalf("after deploy: %d %q, want 200 \"A /x\"", code, body)
	}
	// A redeploy is live when it returns: no request sees the old backend after.
	if _, err := deploy(ctx, topo, topologyYAML("sandbox", b.URL), nil); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, hc, g.url("/gateway/sandbox/echo/y")); code != 200 || body != "B /y" {
		t.Fatalf("after redeploy: %d %q, want 200 \"B /y\"", code, body)
	}
	// The same document again changes nothing and bumps no revision.
	rev := storeRevision(t, g)
	again, err := deploy(ctx, topo, topologyYAML("sandbox", b.URL), nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.GetChanged() || storeRevision(t, g) != rev {
		t.Fatalf("identical redeploy: changed=%v, revision %d → %d", again.GetChanged(), rev, storeRevision(t, g))
	}
	if _, err := topo.Delete(ctx, &gatewayv1.DeleteRequest{Name: "sandbox"}); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, hc, g.url("/gateway/sandbox/echo/x")); code != http.StatusNotFound {
		t.Fatalf("after delete: status %d, want 404", code)
	}
}

func TestDeployRefusesBadInputAndChangesNothing(t *testing.T) {
	c, secret := initGateway(t)
	g := startGateway(t, c, secret)
	ctx := context.Background()
	topo := g.topologies(t, adminCert(t, c))
	a := backend(t, "A")
	if _, err := deploy(ctx, topo, topologyYAML("live", a.URL), nil); err != nil {
		t.Fatal(err)
	}
	before := storeRevision(t, g)

	cases := []struct {
		name   string
		doc    string
		format gatewayv1.Format
		want   string
	}{
		{"malformed yaml", "name: [x\n", gatewayv1.Format_FORMAT_YAML, "line"},
		{"unknown field", "name: t\nservicez: []\n", gatewayv1.Format_FORMAT_YAML, "servicez"},
		{"malformed json", `{"name": "t", "services": [`, gatewayv1.Format_FORMAT_JSON, ""},
		{"xxe", `<?xml version="1.0"?><!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]><topology><service><role>ECHO</role><url>http://h/&x;</url></service></topology>`, gatewayv1.Format_FORMAT_KNOX_XML, "DOCTYPE"},
		{"duplicate paths", "name: t\nproviders:\n  - {role: authentication, name: anonymous}\nservices:\n  - {path: a, urls: [\"http://h\"]}\n  - {path: a, urls: [\"http://h\"]}\n", gatewayv1.Format_FORMAT_YAML, "duplicate"},
		{"url without scheme", "name: t\nproviders:\n  - {role: authentication, name: anonymous}\nservices:\n  - {path: a, urls: [\"localhost:80\"]}\n", gatewayv1.Format_FORMAT_YAML, "services[0].urls[0]"},
		{"url without host", "name: t\nproviders:\n  - {role: authentication, name: anonymous}\nservices:\n  - {path: a, urls: [\"http://\"]}\n", gatewayv1.Format_FORMAT_YAML, "services[0].urls[0]"},
		{"traversal name", "name: ../etc\nproviders:\n  - {role: authentication, name: anonymous}\nservices:\n  - {path: a, urls: [\"http://h\"]}\n", gatewayv1.Format_FORMAT_YAML, "name"},
		{"unknown provider", "name: t\nproviders:\n  - {role: authentication, name: kerberos-magic}\nservices:\n  - {path: a, urls: [\"http://h\"]}\n", gatewayv1.Format_FORMAT_YAML, "kerberos-magic"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := topo.Deploy(ctx, &gatewayv1.DeployRequest{Document: []byte(tc.doc), Format: tc.format, Name: nameFor(tc.format)})
			if status.Code(err) != codes.InvalidArgument {
				t.Fatalf("got %v, want InvalidArgument", err)
			}
			if !strings.Contains(status.Convert(err).Message(), tc.want) {
				t.Errorf("message %q does not name %q", status.Convert(err).Message(), tc.want)
			}
			if rev := storeRevision(t, g); rev != before {
				t.Fatalf("store revision moved %d → %d", before, rev)
			}
		})
	}
	list, err := topo.List(ctx, &gatewayv1.ListRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetTopologies()) != 1 || list.GetTopologies()[0].GetTopology().GetName() != "live" {
		t.Fatalf("topologies after refused deploys: %v", list.GetTopologies())
	}
	if code, body := get(t, g.httpClient(t), g.url("/gateway/live/echo/ok")); code != 200 || body != "A /ok" {
		t.Fatalf("live topology after refused deploys: %d %q", code, body)
	}
}

func nameFor(f gatewayv1.Format) string {
	if f == gatewayv1.Format_FORMAT_KNOX_XML {
		return "xml"
	}
	return ""
}

func TestCompareAndSet(t *testing.T) {
	c, secret := initGateway(t)
	g := startGateway(t, c, secret)
	ctx := context.Background()
	topo := g.topologies(t, adminCert(t, c))
	a, b := backend(t, "A"), backend(t, "B")
	expect := func(r int64) func(*gatewayv1.DeployRequest) {
		return func(req *gatewayv1.DeployRequest) { req.ExpectRevision = proto.Int64(r) }
	}

	first, err := deploy(ctx, topo, topologyYAML("cas", a.URL), expect(0))
	if err != nil {
		t.Fatalf("create with expect 0: %v", err)
	}
	rev := first.GetTopology().GetRevision()
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"create again", func() error { _, err := deploy(ctx, topo, topologyYAML("cas", b.URL), expect(0)); return err }},
		{"stale deploy", func() error { _, err := deploy(ctx, topo, topologyYAML("cas", b.URL), expect(rev-1)); return err }},
		{"stale dry run", func() error {
			_, err := deploy(ctx, topo, topologyYAML("cas", b.URL), func(r *gatewayv1.DeployRequest) { expect(rev + 5)(r); r.DryRun = true })
			return err
		}},
		{"stale delete", func() error {
			_, err := topo.Delete(ctx, &gatewayv1.DeleteRequest{Name: "cas", ExpectRevision: proto.Int64(rev + 1)})
			return err
		}},
		{"stale rollback", func() error {
			_, err := topo.Rollback(ctx, &gatewayv1.RollbackRequest{Name: "cas", Revision: rev, ExpectRevision: proto.Int64(rev + 1)})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if status.Code(err) != codes.FailedPrecondition {
				t.Fatalf("got %v, want FailedPrecondition", err)
			}
			if got := storeRevision(t, g); got != rev {
				t.Fatalf("store revision moved %d → %d", rev, got)
			}
			if code, body := get(t, g.httpClient(t), g.url("/gateway/cas/echo/")); code != 200 || !strings.HasPrefix(body, "A ") {
				t.Fatalf("live route changed: %d %q", code, body)
			}
		})
	}
	if _, err := deploy(ctx, topo, topologyYAML("cas", b.URL), expect(rev)); err != nil {
		t.Fatalf("deploy with the current revision: %v", err)
	}
}

func TestDryRunReportsChangesAndStoresNothing(t *testing.T) {
	c, secret := initGateway(t)
	g := startGateway(t, c, secret)
	ctx := context.Background()
	topo := g.topologies(t, adminCert(t, c))
	a, b := backend(t, "A"), backend(t, "B")
	if _, err := deploy(ctx, topo, topologyYAML("dry", a.URL), nil); err != nil {
		t.Fatal(err)
	}
	rev := storeRevision(t, g)
	doc := []byte(strings.Replace(string(topologyYAML("dry", b.URL)), "services:\n", "services:\n  - path: added\n    urls: [\""+b.URL+"\"]\n", 1))
	resp, err := deploy(ctx, topo, doc, func(r *gatewayv1.DeployRequest) { r.DryRun = true })
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]gatewayv1.ServiceChange_Kind{}
	for _, ch := range resp.GetChanges() {
		kinds[ch.GetPath()] = ch.GetKind()
	}
	if kinds["added"] != gatewayv1.ServiceChange_KIND_ADDED || kinds["echo"] != gatewayv1.ServiceChange_KIND_CHANGED {
		t.Fatalf("dry-run changes %v: want added=ADDED, echo=CHANGED", resp.GetChanges())
	}
	if !resp.GetDryRun() || storeRevision(t, g) != rev {
		t.Fatal("dry run stored something")
	}
	if code, body := get(t, g.httpClient(t), g.url("/gateway/dry/echo/")); code != 200 || !strings.HasPrefix(body, "A ") {
		t.Fatalf("dry run changed the live route: %d %q", code, body)
	}
}

func TestHistoryAndRollback(t *testing.T) {
	c, secret := initGateway(t)
	g := startGateway(t, c, secret)
	ctx := context.Background()
	topo := g.topologies(t, adminCert(t, c))
	a, b := backend(t, "A"), backend(t, "B")
	v1, err := deploy(ctx, topo, topologyYAML("h", a.URL), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := deploy(ctx, topo, topologyYAML("h", b.URL), nil); err != nil {
		t.Fatal(err)
	}
	rb, err := topo.Rollback(ctx, &gatewayv1.RollbackRequest{Name: "h", Revision: v1.GetTopology().GetRevision()})
	if err != nil {
		t.Fatalf("rollback: %v", err)
	}
	if code, body := get(t, g.httpClient(t), g.url("/gateway/h/echo/")); code != 200 || !strings.HasPrefix(body, "A ") {
		t.Fatalf("after rollback: %d %q, want backend A", code, body)
	}
	h, err := topo.History(ctx, &gatewayv1.HistoryRequest{Name: "h"})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range h.GetEntries() {
		actions = append(actions, e.GetAction())
	}
	if strings.Join(actions, ",") != "rollback,deploy,deploy" || h.GetEntries()[0].GetRevision() != rb.GetTopology().GetRevision() {
		t.Fatalf("history %v", h.GetEntries())
	}
	if _, err := topo.Rollback(ctx, &gatewayv1.RollbackRequest{Name: "h", Revision: 999}); status.Code(err) != codes.NotFound {
		t.Fatalf("rollback to a missing revision: %v, want NotFound", err)
	}
	got, err := topo.Get(ctx, &gatewayv1.GetRequest{Name: "h", Revision: v1.GetTopology().GetRevision()})
	if err != nil || got.GetTopology().GetTopology().GetServices()[0].GetUrls()[0] != a.URL {
		t.Fatalf("get at revision: %v %v", got, err)
	}
}

func TestManagementRefusesUnauthorizedCallers(t *testing.T) {
	c, secret := initGateway(t)
	viewer := clientCert(t, c, secret, "viewer")
	stranger := clientCert(t, c, secret, "mallory") // our CA, no role
	otherCA, err := pki.NewCA("other CA", pki.DefaultKeySpec(), 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cp, kp, err := otherCA.IssueClient("admin", nil, pki.DefaultKeySpec(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := tls.X509KeyPair(cp, kp)
	if err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, c, secret)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a := backend(t, "A")
	before := storeRevision(t, g)

	cases := []struct {
		name  string
		certs []tls.Certificate
		codes []codes.Code
	}{
		{"no client certificate", nil, []codes.Code{codes.Unavailable, codes.Unauthenticated}},
		{"certificate from another CA", []tls.Certificate{forged}, []codes.Code{codes.Unavailable, codes.Unauthenticated}},
		{"principal without a role", []tls.Certificate{stranger}, []codes.Code{codes.PermissionDenied}},
		{"viewer may not deploy", []tls.Certificate{viewer}, []codes.Code{codes.PermissionDenied}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client := gatewayv1.NewTopologyServiceClient(g.dial(t, tc.certs...))
			_, err := deploy(ctx, client, topologyYAML("sneaky", a.URL), nil)
			ok := false
			for _, c := range tc.codes {
				ok = ok || status.Code(err) == c
			}
			if !ok {
				t.Fatalf("got %v, want one of %v", err, tc.codes)
			}
			if rev := storeRevision(t, g); rev != before {
				t.Fatalf("store changed: %d → %d", before, rev)
			}
		})
	}
	// A viewer may read.
	if _, err := gatewayv1.NewTopologyServiceClient(g.dial(t, viewer)).List(ctx, &gatewayv1.ListRequest{}); err != nil {
		t.Fatalf("viewer list: %v", err)
	}
	// Refusals by role are audited.
	recs, err := gatewayv1.NewAuditServiceClient(g.dial(t, adminCert(t, c))).ListAudit(ctx, &gatewayv1.ListAuditRequest{Principal: "viewer"})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs.GetRecords()) != 1 || recs.GetRecords()[0].GetOutcome() != "denied" {
		t.Fatalf("audit of the viewer's deploy: %v", recs.GetRecords())
	}
}

func TestMutationsAreAudited(t *testing.T) {
	c, secret := initGateway(t)
	ops := clientCert(t, c, secret, "ops")
	g := startGateway(t, c, secret)
	ctx := context.Background()
	a := backend(t, "A")
	topo := gatewayv1.NewTopologyServiceClient(g.dial(t, ops))
	if _, err := deploy(ctx, topo, topologyYAML("audited", a.URL), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := topo.Delete(ctx, &gatewayv1.DeleteRequest{Name: "missing"}); status.Code(err) != codes.NotFound {
		t.Fatalf("delete missing: %v", err)
	}
	if _, err := deploy(ctx, topo, topologyYAML("audited", a.URL), func(r *gatewayv1.DeployRequest) { r.DryRun = true }); err != nil {
		t.Fatal(err)
	}
	recs, err := gatewayv1.NewAuditServiceClient(g.dial(t, ops)).ListAudit(ctx, &gatewayv1.ListAuditRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs.GetRecords() {
		got = append(got, fmt.Sprintf("%s %s %s %s", r.GetPrincipal(), shortMethodName(r.GetMethod()), r.GetTarget(), r.GetOutcome()))
	}
	want := []string{"ops Delete topology/missing NotFound", "ops Deploy topology/audited ok"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("audit records:\n got %q\nwant %q", got, want)
	}
}

func shortMethodName(m string) string { return m[strings.LastIndex(m, "/")+1:] }

func TestWrongMasterSecretRefusesToStart(t *testing.T) {
	c, _ := initGateway(t)
	sum := func() [32]byte {
		b, err := os.ReadFile(Layout{c.DataDir}.Store())
		if err != nil {
			t.Fatal(err)
		}
		return sha256.Sum256(b)
	}
	before := sum()
	err := Serve(context.Background(), ServeOptions{
		Config: c,
		Secret: SecretSource{File: secretFile(t, "not the secret")},
		Log:    slog.New(slog.DiscardHandler),
	})
	if !errors.Is(err, ErrWrongMasterSecret) || !strings.Contains(err.Error(), "wrong master secret") {
		t.Fatalf("got %v, want wrong master secret", err)
	}
	if sum() != before {
		t.Fatal("the store file changed")
	}
}

func TestRestartServesStoredTopologies(t *testing.T) {
	c, secret := initGateway(t)
	g := startGateway(t, c, secret)
	a := backend(t, "A")
	if _, err := deploy(context.Background(), g.topologies(t, adminCert(t, c)), topologyYAML("kept", a.URL), nil); err != nil {
		t.Fatal(err)
	}
	g.stop(t)
	g2 := startGateway(t, c, secret)
	if code, body := get(t, g2.httpClient(t), g2.url("/gateway/kept/echo/again")); code != 200 || body != "A /again" {
		t.Fatalf("after restart: %d %q", code, body)
	}
}

func TestInitRefusesAnInitializedDataDir(t *testing.T) {
	c, _ := initGateway(t)
	o := DefaultInitOptions(c)
	o.Secret = SecretSource{File: secretFile(t, testSecret)}
	if err := Init(context.Background(), o); !errors.Is(err, ErrInitialized) {
		t.Fatalf("second init: %v, want ErrInitialized", err)
	}
}

func TestDataFilesArePrivate(t *testing.T) {
	c, _ := initGateway(t)
	l := Layout{c.DataDir}
	for _, p := range []string{l.Store(), l.AdminKey(), l.Gatewayctl()} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", p, fi.Mode().Perm())
		}
	}
	fi, err := os.Stat(c.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("data dir mode %v, want no group/other access", fi.Mode().Perm())
	}
}

func TestHealthAndMetricsEndpoints(t *testing.T) {
	c, secret := initGateway(t)
	g := startGateway(t, c, secret)
	hc := g.httpClient(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, _ := get(t, hc, g.url(p)); code != 200 {
			t.Errorf("proxy %s: %d", p, code)
		}
	}
	code, body := get(t, http.DefaultClient, "http://"+g.addrs.Metrics+"/metrics")
	if code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("metrics: %d, %d bytes", code, len(body))
	}
}
