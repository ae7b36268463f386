package daemon

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
	"github.com/securegw/gateway/server/internal/config"
)

// proxy.public_url reaches the whole data plane: a backend's redirect to
// itself, and the token service's target_url, are on the configured
// origin, whatever Host the client sent.
func TestPublicURLReachesTheDataPlane(t *testing.T) {
	f := newTokenFixture(t, func(c *config.Config) { c.Proxy.PublicURL = "https://gw.example.com" })
	ctx := context.Background()
	topo := f.g.topologies(t, adminCert(t, f.g.cfg))
	var self string
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, self+"/next", http.StatusFound)
	}))
	t.Cleanup(be.Close)
	self = be.URL
	if _, err := deploy(ctx, topo, jwtTopology("tokenbased", be.URL, ""), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.policy.PutTokenPolicy(ctx, &gatewayv1.PutTokenPolicyRequest{Policy: &gatewayv1.TokenPolicy{
		Name: "knox", AllowedCallers: []string{"alice"}, AllowedSubjects: []string{"alice"},
		DefaultTtl: durationpb.New(time.Hour), MaxTtl: durationpb.New(time.Hour), MaxLifetime: durationpb.New(time.Hour),
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := deploy(ctx, topo, sandboxWithToken(t, "policy: knox, target_url: tokenbased"), nil); err != nil {
		t.Fatal(err)
	}

	req, _ := http.NewRequest(http.MethodGet, f.g.url("/gateway/sandbox/knoxtoken/api/v1/token"), nil)
	req.Host = "evil.example"
	req.SetBasicAuth("alice", "alice-pw")
	hc := *f.hc
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var issued struct {
		AccessToken string `json:"access_token"`
		TargetURL   string `json:"target_url"`
	}
	err = json.NewDecoder(resp.Body).Decode(&issued)
	resp.Body.Close()
	if resp.StatusCode != 200 || err != nil || issued.TargetURL != "https://gw.example.com/gateway/tokenbased" {
		t.Fatalf("issue: %d %v, target_url %q, want https://gw.example.com/gateway/tokenbased", resp.StatusCode, err, issued.TargetURL)
	}

	req, _ = http.NewRequest(http.MethodGet, f.g.url("/gateway/tokenbased/echo/page"), nil)
	req.Host = "evil.example"
	req.Header.Set("Authorization", "Bearer "+issued.AccessToken)
	if resp, err = hc.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || loc != "https://gw.example.com/gateway/tokenbased/echo/next" {
		t.Fatalf("redirect: %d to %q, want 302 to https://gw.example.com/gateway/tokenbased/echo/next", resp.StatusCode, loc)
	}
}
