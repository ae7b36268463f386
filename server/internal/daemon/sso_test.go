package daemon

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/securegw/gateway/internal/browsertest"
	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

// deploySSO deploys "sso" (Basic users, a KNOXSSO service) and "app" (the
// sso-cookie provider in front of an HTML backend that shows the cookies it
// was sent).
func deploySSO(t *testing.T, f *tokenFixture, ssoParams string) {
	t.Helper()
	ctx := context.Background()
	h, err := bcrypt.GenerateFromPassword([]byte("alice-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!DOCTYPE html><title>app</title><h1 id=who>proxied page</h1><p id=cookies>%s</p>", r.Header.Get("Cookie"))
	}))
	t.Cleanup(be.Close)
	topo := f.g.topologies(t, adminCert(t, f.g.cfg))
	sso := fmt.Sprintf(`name: sso
providers:
  - role: authentication
    name: basic
    params: {user.alice: %q}
  - role: identity-assertion
    name: default
services:
  - path: knoxsso
    role: KNOXSSO
    params: {%s}
`, h, ssoParams)
	if _, err := deploy(ctx, topo, []byte(sso), nil); err != nil {
		t.Fatal(err)
	}
	app := fmt.Sprintf(`name: app
providers:
  - role: federation
    name: sso-cookie
    params: {login_url: /gateway/sso/knoxsso/login}
  - role: identity-assertion
    name: default
services:
  - path: ui
    urls: [%s]
`, be.URL)
	if _, err := deploy(ctx, topo, []byte(app), nil); err != nil {
		t.Fatal(err)
	}
}

// A real browser signs in on the login page, lands on the page it asked
// for, sees it proxied (the SSO cookie never reaches the backend), signs
// out, and is sent to the login page again.
func TestSSOLoginAndLogoutInChromium(t *testing.T) {
	f := newTokenFixture(t, nil)
	deploySSO(t, f, "")
	b := browsertest.New(t, browsertest.Options{AcceptCerts: true})
	page := f.g.url("/gateway/app/ui/home?tab=1")

	b.Navigate(page)
	loc := b.Location()
	if !strings.HasPrefix(loc, f.g.url("/gateway/sso/knoxsso/login?originalUrl=")) {
		t.Fatalf("unauthenticated browser at %s, want the login page", loc)
	}
	b.Submit(map[string]string{"#username": "alice", "#password": "wrong"}, "#signin")
	if got := b.Text("#error"); !strings.Contains(got, "invalid user name or password") {
		t.Fatalf("wrong password: page says %q", got)
	}
	b.Submit(map[string]string{"#username": "alice", "#password": "alice-pw"}, "#signin")
	if loc := b.Location(); loc != page {
		t.Fatalf("after sign-in at %s, want %s", loc, page)
	}
	if got := b.Text("#who"); got != "proxied page" {
		t.Fatalf("proxied page says %q", got)
	}
	if got := b.Text("#cookies"); strings.Contains(got, "hadoop-jwt") {
		t.Fatalf("the backend was sent the SSO cookie: %q", got)
	}
	var sso bool
	for _, c := range b.Cookies(f.g.url("/")) {
		if c.Name == "hadoop-jwt" {
			sso = true
			if !c.HTTPOnly || !c.Secure || c.SameSite != "Strict" {
				t.Fatalf("SSO cookie %+v: want HttpOnly, Secure, SameSite=Strict", c)
			}
		}
	}
	if !sso {
		t.Fatal("no hadoop-jwt cookie after sign-in")
	}
	if foreign := b.ForeignRequests(f.g.url("/")); len(foreign) > 0 {
		t.Fatalf("requests left the gateway's origin: %v", foreign)
	}
	for _, line := range b.Console() {
		if strings.Contains(line, "Content Security Policy") {
			t.Fatalf("the login flow broke its own CSP: %s", line)
		}
	}
	// An API client without the cookie gets a 401, not the login page.
	if code, _ := f.getWith(t, page, map[string]string{"Accept": "application/json"}); code != http.StatusUnauthorized {
		t.Fatalf("API client without a cookie: %d, want 401", code)
	}

	b.Navigate(f.g.url("/gateway/sso/knoxsso/logout"))
	if got := b.Text("#message"); got != "Signed out." {
		t.Fatalf("logout page says %q", got)
	}
	list, err := f.admin.ListTokens(context.Background(), &gatewayv1.ListTokensRequest{Subject: "alice", IncludeRevoked: true})
	if err != nil || len(list.GetTokens()) != 1 || !list.GetTokens()[0].GetRevoked() {
		t.Fatalf("after logout the SSO token is not revoked: %v %v", list, err)
	}
	b.Navigate(page)
	if loc := b.Location(); !strings.HasPrefix(loc, f.g.url("/gateway/sso/knoxsso/login?originalUrl=")) {
		t.Fatalf("after logout the browser is at %s, want the login page", loc)
	}
}

// The login page refuses to send anyone elsewhere, whatever the trick, and
// its headers forbid scripts and framing.
func TestSSOLoginRefusesOpenRedirects(t *testing.T) {
	f := newTokenFixture(t, nil)
	deploySSO(t, f, "")
	login := f.g.url("/gateway/sso/knoxsso/login")
	for _, target := range []string{
		"https://evil.example/", "//evil.example/", `https://` + f.g.addrs.Proxy + `\@evil.example/`,
		"https://" + f.g.addrs.Proxy + "@evil.example/", "javascript:alert(1)", "/%5Cevil.example",
	} {
		code, body := f.getWith(t, login+"?originalUrl="+url.QueryEscape(target), nil)
		if code != http.StatusBadRequest || !strings.Contains(body, "not allowed") {
			t.Errorf("GET login?originalUrl=%s: %d, want 400", target, code)
		}
		// A POST with good credentials and a bad target sets no cookie.
		form := url.Values{"username": {"alice"}, "password": {"alice-pw"}, "originalUrl": {target}}
		resp, err := f.hc.PostForm(login, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || len(resp.Cookies()) > 0 || resp.Header.Get("Location") != "" {
			t.Errorf("POST with originalUrl=%s: %d, cookies %v, Location %q", target, resp.StatusCode, resp.Cookies(), resp.Header.Get("Location"))
		}
	}
	resp, err := f.hc.Get(login)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "script-src") {
		t.Fatalf("login page CSP %q", csp)
	}
}
