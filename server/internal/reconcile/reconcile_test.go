package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/securegw/gateway/internal/secrets"
	"github.com/securegw/gateway/internal/testlog"
	"github.com/securegw/gateway/internal/topology"
	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
	"github.com/securegw/gateway/proxy"
	"github.com/securegw/gateway/server/internal/reconcile"
	"github.com/securegw/gateway/server/internal/secretsvc"
	"github.com/securegw/gateway/store"
	"github.com/securegw/gateway/store/bolt"
)

// env is a reconciler over a real bbolt store in a temporary directory,
// a real proxy behind a loopback listener, and the real secrets service as
// the proxy's alias resolver.
type env struct {
	t       *testing.T
	st      *bolt.Store
	px      *proxy.Proxy
	front   *httptest.Server
	secrets *secretsvc.Service
	rec     *reconcile.Reconciler
	src     *gatedSource
	backend *httptest.Server
	logs    *testlog.Buffer
	cancel  context.CancelFunc
	done    chan error
}

func newEnv(t *testing.T, o bolt.Options) *env {
	t.Helper()
	e := &env{t: t, logs: &testlog.Buffer{}}
	st, err := bolt.Open(filepath.Join(t.TempDir(), "gateway.db"), o)
	if err != nil {
		t.Fatal(err)
	}
	e.st = st
	settings := secrets.DefaultSettings()
	settings.KDF = secrets.KDFParams{Algorithm: secrets.KDFArgon2id, MemoryKiB: 8 << 10, Time: 1, Threads: 1}
	settings.AllowWeak = true
	kr, _, err := secrets.Unlock([]byte("reconcile test master secret"), nil, settings)
	if err != nil {
		t.Fatal(err)
	}
	e.secrets = secretsvc.New(st, kr, secretsvc.Options{Settings: settings})
	log := slog.New(slog.NewTextHandler(e.logs, nil))
	if e.px, err = proxy.New(proxy.Config{Logger: log, Resolver: e.secrets, Truststores: e.secrets}); err != nil {
		t.Fatal(err)
	}
	e.front = httptest.NewServer(e.px)
	e.backend = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "key=%s", r.Header.Get("X-Api-Key"))
	}))
	e.src = &gatedSource{Store: st}
	e.rec = reconcile.New(e.src, e.px, reconcile.Options{Log: log})
	t.Cleanup(func() {
		e.stop()
		e.front.Close()
		e.backend.Close()
		_ = e.px.Close()
		e.secrets.Close()
		_ = st.Close()
	})
	return e
}

// start loads the table and runs the reconciler until the test ends.
func (e *env) start() {
	e.t.Helper()
	if _, _, err := e.rec.Load(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	e.run()
}

// run runs the reconciler (loaded or not) until the test ends.
func (e *env) run() {
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan error, 1)
	go func() { e.done <- e.rec.Run(ctx) }()
}

func (e *env) stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	if err := <-e.done; err != nil {
		e.t.Errorf("reconciler: %v", err)
	}
	e.cancel = nil
}

// caughtUp waits until the reconciler applied the store's revision.
func (e *env) caughtUp() int64 {
	e.t.Helper()
	rev, err := e.st.Revision(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.rec.WaitFor(ctx, rev); err != nil {
		e.t.Fatalf("waiting for revision %d (applied %d): %v", rev, e.rec.AppliedRevision(), err)
	}
	return rev
}

// put stores a topology directly in the store, as any gateway sharing it
// would, bypassing the management API.
func (e *env) put(name string, providers ...topology.Provider) int64 {
	e.t.Helper()
	t := &topology.Topology{Name: name, Providers: append([]topology.Provider{
		{Role: "authentication", Name: "anonymous"},
		{Role: "identity-assertion", Name: "default"},
	}, providers...), Services: []topology.Service{{Path: "svc", URLs: []string{e.backend.URL}}}}
	spec, err := t.CanonicalJSON()
	if err != nil {
		e.t.Fatal(err)
	}
	rec, err := e.st.PutTopology(context.Background(), store.Topology{Name: name, Spec: spec, Action: "deploy"}, store.NoRevisionCheck)
	if err != nil {
		e.t.Fatal(err)
	}
	return rec.Revision
}

func (e *env) del(name string) {
	e.t.Helper()
	if _, err := e.st.DeleteTopology(context.Background(), name, "test", store.NoRevisionCheck); err != nil {
		e.t.Fatal(err)
	}
}

// get returns the status and body of a request to a topology's service.
func (e *env) get(name string) (int, string) {
	e.t.Helper()
	resp, err := http.Get(e.front.URL + "/gateway/" + name + "/svc/x")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *env) setAlias(name, value string) {
	e.t.Helper()
	_, err := e.secrets.AliasServer().CreateAlias(context.Background(), &gatewayv1.CreateAliasRequest{Name: name, Value: []byte(value), Overwrite: true})
	if err != nil {
		e.t.Fatal(err)
	}
}

// header is a provider sending ${alias:NAME} to the backend as X-Api-Key.
func header(alias string) topology.Provider {
	return topology.Provider{Role: "custom", Name: "header", Params: map[string]string{"name": "X-Api-Key", "value": "${alias:" + alias + "}"}}
}

// A topology put into or deleted from the store directly (as a second
// gateway sharing the store would) goes live, then goes away.
func TestStoreChangesGoLive(t *testing.T) {
	e := newEnv(t, bolt.Options{})
	e.put("before") // stored before the start: loaded
	e.start()
	if code, _ := e.get("before"); code != 200 {
		t.Fatalf("loaded topology: status %d", code)
	}
	rev := e.put("t")
	e.caughtUp()
	if got := e.rec.AppliedRevision(); got < rev {
		t.Fatalf("applied revision %d < %d", got, rev)
	}
	if code, body := e.get("t"); code != 200 || body != "key=" {
		t.Fatalf("put topology: status %d %q", code, body)
	}
	e.del("t")
	e.del("before")
	e.caughtUp()
	for _, name := range []string{"t", "before"} {
		if code, _ := e.get(name); code != 404 {
			t.Fatalf("deleted topology %s: status %d", name, code)
		}
	}
	if n := e.px.Topologies(); n != 0 {
		t.Fatalf("%d topologies live after deleting all", n)
	}
}

// Batches already queued when the reconciler looks are applied with one
// swap.
func TestQueuedBatchesAreOneSwap(t *testing.T) {
	e := newEnv(t, bolt.Options{})
	e.start()
	const n = 40
	e.src.hold(n) // the watch hands over nothing until n batches are queued
	for i := range n {
		e.put(fmt.Sprintf("t%02d", i))
	}
	gen := e.px.Generation()
	e.caughtUp()
	// The gated source hands the queued batches over one send at a time, so
	// the reconciler may wake at the first before the rest are in the
	// channel (seen once in CI): a few swaps, never one per batch.
	if got := e.px.Generation() - gen; got < 1 || got > 4 {
		t.Fatalf("%d batches took %d swaps, want 1 (at most 4)", n, got)
	}
	if got := e.px.Topologies(); got != n {
		t.Fatalf("%d topologies live, want %d", got, n)
	}
}

// Changing an alias compiles its users again; one that no longer compiles
// (its alias deleted) is withdrawn and comes back when the alias does.
func TestAliasChangesRecompileUsers(t *testing.T) {
	e := newEnv(t, bolt.Options{})
	e.setAlias("key", "one")
	e.put("user", header("key"))
	e.put("other")
	e.start()
	if code, body := e.get("user"); code != 200 || body != "key=one" {
		t.Fatalf("before: status %d %q", code, body)
	}
	gen := e.px.Generation()
	e.setAlias("key", "two")
	e.caughtUp()
	if code, body := e.get("user"); code != 200 || body != "key=two" {
		t.Fatalf("after the alias changed: status %d %q", code, body)
	}
	if got := e.px.Generation(); got != gen+1 {
		t.Fatalf("an alias change took %d swaps, want 1", got-gen)
	}

	// Deleted (behind the API's guard): fail closed.
	if _, err := e.secrets.AliasServer().DeleteAlias(context.Background(), &gatewayv1.DeleteAliasRequest{Name: "key"}); err != nil {
		t.Fatal(err)
	}
	e.caughtUp()
	if code, _ := e.get("user"); code != 404 {
		t.Fatalf("a topology whose alias is gone is served: status %d", code)
	}
	if err := e.rec.Failure("user"); err == nil || !strings.Contains(err.Error(), "key") {
		t.Fatalf("failure of the withdrawn topology: %v", err)
	}
	if err := e.rec.Withdrawn(store.KindAlias, "", "key"); err == nil || !strings.Contains(err.Error(), `topology "user" is no longer served`) {
		t.Fatalf("withdrawn users of the alias: %v", err)
	}
	if err := e.rec.Withdrawn(store.KindAlias, "", "other-key"); err != nil {
		t.Fatalf("withdrawn users of an unrelated alias: %v", err)
	}
	if code, _ := e.get("other"); code != 200 {
		t.Fatalf("a topology without the alias: status %d", code)
	}
	if !strings.Contains(e.logs.String(), "not served") || strings.Contains(e.logs.String(), "two") {
		t.Fatalf("log should say the topology is not served, and never hold the secret:\n%s", e.logs)
	}

	// The alias comes back: the withdrawn user is served again.
	e.setAlias("key", "three")
	e.caughtUp()
	if code, body := e.get("user"); code != 200 || body != "key=three" {
		t.Fatalf("after the alias came back: status %d %q", code, body)
	}
	if err := e.rec.Failure("user"); err != nil {
		t.Fatalf("failure after the alias came back: %v", err)
	}
	if err := e.rec.Withdrawn(store.KindAlias, "", "key"); err != nil {
		t.Fatalf("withdrawn users after the alias came back: %v", err)
	}
}

// A topology-scoped alias concerns its topology only; a gateway-scoped one
// every topology using its name.
func TestAliasScopes(t *testing.T) {
	e := newEnv(t, bolt.Options{})
	e.setAlias("key", "gw")
	e.put("a", header("key"))
	e.put("b", header("key"))
	e.start()
	_, err := e.secrets.AliasServer().CreateAlias(context.Background(), &gatewayv1.CreateAliasRequest{Topology: "a", Name: "key", Value: []byte("own")})
	if err != nil {
		t.Fatal(err)
	}
	e.caughtUp()
	if _, body := e.get("a"); body != "key=own" {
		t.Fatalf("a: %q, want its own alias", body)
	}
	if _, body := e.get("b"); body != "key=gw" {
		t.Fatalf("b: %q, want the gateway's alias", body)
	}
	e.setAlias("key", "gw2")
	e.caughtUp()
	if _, body := e.get("b"); body != "key=gw2" {
		t.Fatalf("b after the gateway alias changed: %q", body)
	}
	if _, body := e.get("a"); body != "key=own" {
		t.Fatalf("a after the gateway alias changed: %q, want its own alias still", body)
	}
}

// A stored topology that does not compile is not served; the others are.
func TestBrokenTopologyIsNotServed(t *testing.T) {
	e := newEnv(t, bolt.Options{})
	e.put("ok")
	e.put("broken", header("missing"))
	e.start()
	if code, _ := e.get("ok"); code != 200 {
		t.Fatalf("ok: status %d", code)
	}
	if code, _ := e.get("broken"); code != 404 {
		t.Fatalf("broken: status %d", code)
	}
	if e.rec.Failure("broken") == nil {
		t.Fatal("no failure recorded for the broken topology")
	}
	// Refresh compiles it again on request: still broken, and says why.
	if err := e.rec.Refresh(context.Background(), "broken"); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("refresh of a broken topology: %v", err)
	}
	e.setAlias("missing", "found")
	e.caughtUp()
	if code, body := e.get("broken"); code != 200 || body != "key=found" {
		t.Fatalf("after its alias was created: status %d %q", code, body)
	}
}

// When the revision to watch from was compacted away, the reconciler lists
// the store again and rebuilds the table from it.
func TestCompactedRevisionRelists(t *testing.T) {
	e := newEnv(t, bolt.Options{WatchRetention: 2})
	e.put("gone")
	e.put("stays")
	if _, _, err := e.rec.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	loaded := e.rec.AppliedRevision()
	// More changes than the store keeps for watchers, while not watching.
	e.del("gone")
	for i := range 5 {
		e.put(fmt.Sprintf("new%d", i))
	}
	e.run()
	rev := e.caughtUp()
	if rev <= loaded+2 {
		t.Fatalf("revision %d: the test did not outrun the retention", rev)
	}
	if code, _ := e.get("gone"); code != 404 {
		t.Fatalf("deleted while compacted: status %d", code)
	}
	for _, name := range []string{"stays", "new0", "new4"} {
		if code, _ := e.get(name); code != 200 {
			t.Fatalf("%s: status %d", name, code)
		}
	}
	if !strings.Contains(e.logs.String(), "compacted") {
		t.Fatalf("no log of the relist:\n%s", e.logs)
	}
	// And it keeps following the watch afterwards.
	e.put("later")
	e.caughtUp()
	if code, _ := e.get("later"); code != 200 {
		t.Fatalf("after the relist: status %d", code)
	}
}

// WaitFor returns when the revision is applied, not before; it honours its
// context and ends with ErrStopped when the reconciler stops.
func TestWaitFor(t *testing.T) {
	e := newEnv(t, bolt.Options{})
	if _, _, err := e.rec.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	rev := e.put("t") // stored, but the reconciler is not running yet

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := e.rec.WaitFor(ctx, rev); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitFor before applying: %v, want the context's deadline", err)
	}
	waited := make(chan error, 1)
	go func() { waited <- e.rec.WaitFor(context.Background(), rev) }()
	e.run()
	select {
	case err := <-waited:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WaitFor did not return once the revision was applied")
	}
	if code, _ := e.get("t"); code != 200 {
		t.Fatalf("live when WaitFor returned: status %d", code)
	}
	if err := e.rec.WaitFor(context.Background(), rev); err != nil {
		t.Fatalf("WaitFor an applied revision: %v", err)
	}

	stuck := make(chan error, 1)
	go func() { stuck <- e.rec.WaitFor(context.Background(), rev+100) }()
	e.stop()
	select {
	case err := <-stuck:
		if !errors.Is(err, reconcile.ErrStopped) {
			t.Fatalf("WaitFor after stop: %v, want ErrStopped", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WaitFor did not return when the reconciler stopped")
	}
	if err := e.rec.Refresh(context.Background(), "t"); !errors.Is(err, reconcile.ErrStopped) {
		t.Fatalf("Refresh after stop: %v, want ErrStopped", err)
	}
}

// gatedSource is the store, whose watch can be told to hand over nothing
// until a number of batches are queued: the reconciler then finds them all
// at once.
type gatedSource struct {
	*bolt.Store
	mu   sync.Mutex
	gate int
}

func (s *gatedSource) hold(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gate = n
}

func (s *gatedSource) Watch(ctx context.Context, from int64) (<-chan store.ChangeBatch, error) {
	in, err := s.Store.Watch(ctx, from)
	if err != nil {
		return nil, err
	}
	out := make(chan store.ChangeBatch, 1024)
	go func() {
		defer close(out)
		var held []store.ChangeBatch
		for b := range in {
			s.mu.Lock()
			gate := s.gate
			if gate > 0 {
				held = append(held, b)
				if len(held) >= gate {
					s.gate = 0
				}
			}
			s.mu.Unlock()
			if gate > 0 && len(held) < gate {
				continue
			}
			if held != nil {
				for _, h := range held {
					out <- h
				}
				held = nil
				continue
			}
			out <- b
		}
	}()
	return out, nil
}

// Stopping the reconciler ends its store watch (no watcher goroutine is
// left), and a Refresh asked after the stop returns ErrStopped instead of
// blocking.
func TestStopLeavesNoGoroutine(t *testing.T) {
	watchers := func() int {
		buf := make([]byte, 1<<20)
		return strings.Count(string(buf[:runtime.Stack(buf, true)]), "store/bolt.(*Store).watch(")
	}
	// Tests here do not run in parallel: the watchers of earlier tests end
	// soon after their reconciler stopped.
	settle := func(want int, what string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for watchers() != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d store watchers, want %d", what, watchers(), want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	settle(0, "before the test")
	e := newEnv(t, bolt.Options{})
	e.start()
	e.put("t")
	e.caughtUp()
	settle(1, "while running")
	e.stop()
	settle(0, "after the reconciler stopped")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.rec.Refresh(ctx, "t"); !errors.Is(err, reconcile.ErrStopped) {
		t.Fatalf("Refresh after stop: %v, want ErrStopped", err)
	}
}
