package reconcile_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/store"
	"github.com/securegw/gateway/store/bolt"
)

// An offered route is published for the revision that stored its document
// instead of a second compile, unless an alias or truststore changed after
// it was compiled (it may hold the old secret), or the store holds another
// document. To tell the two apart, the offered route is compiled from a
// document whose backend answers "offered".
func TestOfferedRoutes(t *testing.T) {
	e := newEnv(t, bolt.Options{})
	offered := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "offered")
	}))
	t.Cleanup(offered.Close)
	e.setAlias("key", "one")
	e.start()
	ctx := context.Background()
	doc := func(url string) *topology.Topology {
		return &topology.Topology{Name: "user", Providers: []topology.Provider{
			{Role: "authentication", Name: "anonymous"}, {Role: "identity-assertion", Name: "default"}, header("key"),
		}, Services: []topology.Service{{Path: "svc", URLs: []string{url}}}}
	}
	// offer compiles the "offered" document now, runs between (which may
	// write to the store), then stores the real document and offers the
	// route for its revision (the next one: nothing else writes).
	offer := func(between func(), storedURL string) {
		t.Helper()
		at, err := e.st.Revision(ctx)
		if err != nil {
			t.Fatal(err)
		}
		route, err := e.px.Compile(ctx, doc(offered.URL))
		if err != nil {
			t.Fatal(err)
		}
		between()
		stored := doc(storedURL)
		spec, err := stored.CanonicalJSON()
		if err != nil {
			t.Fatal(err)
		}
		rev, err := e.st.Revision(ctx)
		if err != nil {
			t.Fatal(err)
		}
		e.rec.Offer(stored, spec, route, at, rev+1)
		if _, err := e.st.PutTopology(ctx, store.Topology{Name: "user", Spec: spec, Action: "deploy"}, store.NoRevisionCheck); err != nil {
			t.Fatal(err)
		}
		e.caughtUp()
	}

	offer(func() {}, e.backend.URL)
	if _, body := e.get("user"); body != "offered" {
		t.Fatalf("the offered route was not published: %q", body)
	}

	// An alias changes between the compile and the commit: the offer may
	// hold the old value and is compiled again from the store.
	offer(func() { e.setAlias("key", "two"); e.caughtUp() }, e.backend.URL+"/b")
	if _, body := e.get("user"); body != "key=two" {
		t.Fatalf("an offer compiled before an alias change was published: %q", body)
	}

	// An offer for a revision already applied is not kept.
	route, err := e.px.Compile(ctx, doc(offered.URL))
	if err != nil {
		t.Fatal(err)
	}
	stale := doc(e.backend.URL + "/b")
	spec, _ := stale.CanonicalJSON()
	at := e.caughtUp()
	e.rec.Offer(stale, spec, route, at, at)
	if err := e.rec.Refresh(ctx, "user"); err != nil { // compiles "user" again
		t.Fatal(err)
	}
	if _, body := e.get("user"); body != "key=two" {
		t.Fatalf("an offer for an applied revision was kept and published later: %q", body)
	}
}
