package api

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/securegw/gateway/internal/topology"
	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
	"github.com/securegw/gateway/proxy"
	"github.com/securegw/gateway/server/internal/apierr"
	"github.com/securegw/gateway/store"
)

// stuckReconciler never applies anything.
type stuckReconciler struct{}

func (stuckReconciler) WaitFor(ctx context.Context, _ int64) error {
	<-ctx.Done()
	return ctx.Err()
}
func (stuckReconciler) Failure(string) error { return nil }
func (stuckReconciler) Refresh(ctx context.Context, _ string) error {
	<-ctx.Done()
	return ctx.Err()
}
func (stuckReconciler) Offer(_ *topology.Topology, _ []byte, route *proxy.Compiled, _, _ int64) {
	route.Discard()
}

// A deploy whose change does not go live in time says that it is stored
// and that this gateway has not applied it, as Unavailable; the change is
// in the store.
func TestDeployWaitIsBounded(t *testing.T) {
	st := openStore(t)
	px := newProxy(t, proxy.Config{})
	svc := NewTopologyService(st, px, stuckReconciler{}, nil, slog.New(slog.DiscardHandler))
	svc.LiveTimeout = 50 * time.Millisecond
	doc := "name: t\nproviders:\n  - {role: authentication, name: anonymous}\nservices:\n  - {path: a, urls: [\"http://127.0.0.1:1\"]}\n"
	ctx := context.Background()

	start := time.Now()
	_, err := svc.Deploy(ctx, &gatewayv1.DeployRequest{Document: []byte(doc), Format: gatewayv1.Format_FORMAT_YAML})
	got := status.Convert(toStatus(ctx, slog.New(slog.DiscardHandler), "/Deploy", err))
	if got.Code() != codes.Unavailable || !strings.Contains(got.Message(), `topology "t" is stored at revision 1`) {
		t.Fatalf("deploy not applied in time: %v %q", got.Code(), got.Message())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the deploy waited %s", d)
	}
	if rec, err := st.GetTopology(ctx, "t"); err != nil || rec.Revision != 1 {
		t.Fatalf("the stored change: %v %v", rec, err)
	}

	_, err = svc.Delete(ctx, &gatewayv1.DeleteRequest{Name: "t"})
	got = status.Convert(toStatus(ctx, slog.New(slog.DiscardHandler), "/Delete", err))
	if got.Code() != codes.Unavailable || !strings.Contains(got.Message(), `topology "t" is deleted at revision 2`) {
		t.Fatalf("delete not applied in time: %v %q", got.Code(), got.Message())
	}
	if _, err := st.GetTopology(ctx, "t"); err == nil || !strings.Contains(err.Error(), store.ErrNotFound.Error()) {
		t.Fatalf("the deletion is not stored: %v", err)
	}
}

// Unused refuses, in the deletion's transaction, to delete what a stored
// topology uses; what no topology uses is deleted, even when its name
// appears in a document for another reason.
func TestUnusedRefusesWhatIsInUse(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	put := func(name, doc string) {
		t.Helper()
		tp, err := topology.Parse([]byte(doc), topology.FormatYAML, "", "")
		if err != nil {
			t.Fatal(err)
		}
		spec, err := tp.CanonicalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.PutTopology(ctx, store.Topology{Name: name, Spec: spec, Action: "deploy"}, store.NoRevisionCheck); err != nil {
			t.Fatal(err)
		}
	}
	put("user", "name: user\nproviders:\n  - {role: authentication, name: anonymous}\n  - {role: custom, name: header, params: {name: X-Key, value: \"${alias:key}\"}}\nservices:\n  - {path: a, urls: [\"http://h\"]}\n")
	put("other", "name: other\nproviders:\n  - {role: authentication, name: anonymous}\nservices:\n  - {path: spare, urls: [\"http://h\"]}\n")
	uses := func(name string) func(*topology.Topology) bool {
		return func(t *topology.Topology) bool { return t.UsesAlias(name) }
	}
	for _, name := range []string{"key", "spare"} {
		if _, err := st.PutObject(ctx, store.Object{Kind: store.KindAlias, Key: "@gateway/" + name, Value: []byte("sealed")}, 0); err != nil {
			t.Fatal(err)
		}
	}

	_, err := st.DeleteObjectIf(ctx, store.KindAlias, "@gateway/key", store.NoRevisionCheck, Unused("key", uses("key")))
	if apierr.KindOf(err) != apierr.FailedPrecondition || !strings.Contains(err.Error(), "[user]") {
		t.Fatalf("deleting an alias in use: %v", err)
	}
	if _, err := st.GetObject(ctx, store.KindAlias, "@gateway/key"); err != nil {
		t.Fatalf("the alias in use is gone: %v", err)
	}
	if _, err := st.DeleteObjectIf(ctx, store.KindAlias, "@gateway/spare", store.NoRevisionCheck, Unused("spare", uses("spare"))); err != nil {
		t.Fatalf("deleting an alias no topology uses: %v", err)
	}
	if _, err := st.GetObject(ctx, store.KindAlias, "@gateway/spare"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the unused alias is still there: %v", err)
	}
}

// liveReconciler applies everything at once.
type liveReconciler struct{}

func (liveReconciler) WaitFor(context.Context, int64) error  { return nil }
func (liveReconciler) Failure(string) error                  { return nil }
func (liveReconciler) Refresh(context.Context, string) error { return nil }
func (liveReconciler) Offer(_ *topology.Topology, _ []byte, route *proxy.Compiled, _, _ int64) {
	route.Discard()
}

// A deploy's warnings (a service forwarding the credentials the gateway
// consumed, issue 9 item 1) reach the gateway's log, not only the deployer.
func TestDeployWarningsAreLogged(t *testing.T) {
	st := openStore(t)
	px := newProxy(t, proxy.Config{})
	var logs strings.Builder
	svc := NewTopologyService(st, px, liveReconciler{}, nil, slog.New(slog.NewTextHandler(&logs, nil)))
	doc := "name: t\nproviders:\n  - {role: authentication, name: anonymous}\nservices:\n" +
		"  - {path: a, urls: [\"http://127.0.0.1:1\"], dispatch: {forward_credentials: true}}\n"
	resp, err := svc.Deploy(context.Background(), &gatewayv1.DeployRequest{Document: []byte(doc), Format: gatewayv1.Format_FORMAT_YAML})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetWarnings()) == 0 {
		t.Fatal("no deploy warning for forward_credentials")
	}
	if got := logs.String(); !strings.Contains(got, "level=WARN") || !strings.Contains(got, "forward_credentials") {
		t.Fatalf("the warning is not in the gateway's log:\n%s", got)
	}
}

// flakyAliases has every alias at the first check and none afterwards: the
// alias is deleted while the deploy compiles.
type flakyAliases struct{ calls int }

func (f *flakyAliases) MissingAliases(_ context.Context, _ store.Reader, _ string, names []string) ([]string, error) {
	f.calls++
	if f.calls == 1 {
		return nil, nil
	}
	return names, nil
}

// An alias deleted between a deploy's check and its write refuses the
// deploy (the second check runs in the store's write transaction), and
// nothing is stored.
func TestDeployRechecksAliasesInTheWrite(t *testing.T) {
	st := openStore(t)
	px := newProxy(t, proxy.Config{Resolver: anyAlias{}})
	aliases := &flakyAliases{}
	svc := NewTopologyService(st, px, liveReconciler{}, aliases, slog.New(slog.DiscardHandler))
	doc := "name: t\nproviders:\n  - {role: authentication, name: anonymous}\n" +
		"  - {role: custom, name: header, params: {name: X-Key, value: \"${alias:key}\"}}\n" +
		"services:\n  - {path: a, urls: [\"http://127.0.0.1:1\"]}\n"
	_, err := svc.Deploy(context.Background(), &gatewayv1.DeployRequest{Document: []byte(doc), Format: gatewayv1.Format_FORMAT_YAML})
	if apierr.KindOf(err) != apierr.Invalid || !strings.Contains(err.Error(), "missing aliases: [key]") {
		t.Fatalf("deploy after its alias was deleted: %v", err)
	}
	if aliases.calls != 2 {
		t.Fatalf("aliases checked %d times, want 2", aliases.calls)
	}
	if _, err := st.GetTopology(context.Background(), "t"); err == nil {
		t.Fatal("the refused deploy was stored")
	}
}

// anyAlias resolves every alias.
type anyAlias struct{}

func (anyAlias) Resolve(context.Context, string, string) ([]byte, error) { return []byte("v"), nil }

func newProxy(t *testing.T, c proxy.Config) *proxy.Proxy {
	t.Helper()
	px, err := proxy.New(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = px.Close() })
	return px
}
