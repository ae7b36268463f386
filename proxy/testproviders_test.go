package proxy_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/identity"
)

// Test-only providers, registered like real ones.
func init() {
	chain.Register(chain.Factory{Name: "test-recorder", Role: chain.RoleCustom,
		New: func(context.Context, chain.Config) (chain.Handler, error) { return recorder{}, nil }})
	chain.Register(chain.Factory{Name: "test-auth", Role: chain.RoleAuthentication,
		New: func(context.Context, chain.Config) (chain.Handler, error) { return testAuth{}, nil }})
	chain.Register(chain.Factory{Name: "test-session", Role: chain.RoleAuthentication,
		New: func(context.Context, chain.Config) (chain.Handler, error) { return testSession{}, nil }})
	chain.Register(chain.Factory{Name: "test-groups", Role: chain.RoleCustom,
		New: func(context.Context, chain.Config) (chain.Handler, error) { return testGroups{}, nil }})
}

// testGroups is a group source (as the LDAP provider is): alice is in
// ldap-a and ldap-b; looking up "broken" fails.
type testGroups struct{}

func (testGroups) ServeInbound(_ http.ResponseWriter, r *http.Request) *http.Request { return r }

func (testGroups) LookupGroups(_ context.Context, user string) ([]string, error) {
	switch user {
	case "broken":
		return nil, errors.New("directory unreachable")
	case "alice":
		return []string{"ldap-b", "ldap-a"}, nil
	}
	return nil, nil
}

// chainSaw maps X-Request-Id to the path the chain saw.
var chainSaw sync.Map

type recorder struct{}

func (recorder) ServeInbound(_ http.ResponseWriter, r *http.Request) *http.Request {
	chainSaw.Store(r.Header.Get("X-Request-Id"), r.URL.Path)
	return r
}

// testAuth lets in requests with X-Test-Token: let-me-in as X-Test-User
// (an identity header: the gateway must not forward the client's copy),
// with the credential id X-Test-Credential, expiring X-Test-Expires-In
// from now; another token is refused.
type testAuth struct{}

func (testAuth) Authenticate(r *http.Request) chain.Outcome {
	const challenge = `Bearer realm="test"`
	switch r.Header.Get("X-Test-Token") {
	case "":
		return chain.Pass(challenge)
	case "let-me-in":
		p := &identity.Principal{Name: r.Header.Get("X-Test-User"), Provider: "test-auth",
			CredentialID: r.Header.Get("X-Test-Credential")}
		if d, err := time.ParseDuration(r.Header.Get("X-Test-Expires-In")); err == nil {
			p.Expires = time.Now().Add(d)
		}
		return chain.Authenticate(p)
	}
	return chain.Refuse(http.StatusUnauthorized, "unauthenticated", challenge)
}

func (testAuth) IdentityHeaders() []string { return []string{"X-Test-User"} }

// testSession lets in requests with the cookie test-session=ok (consumed)
// or, failing that, the query parameter test_token=ok (consumed), as an
// SSO cookie or a token parameter provider would. It also names the header
// X-Test-Session-Key among its credentials (as an API-key provider would),
// which the gateway therefore never forwards.
type testSession struct{}

var (
	sessionCookie = []identity.Credential{identity.CookieCredential("test-session")}
	sessionToken  = []identity.Credential{identity.QueryCredential("test_token")}
)

func (testSession) Credentials() []identity.Credential {
	return []identity.Credential{sessionCookie[0], sessionToken[0], identity.HeaderCredential("X-Test-Session-Key")}
}

func (testSession) Authenticate(r *http.Request) chain.Outcome {
	if c, err := r.Cookie("test-session"); err == nil && c.Value == "ok" {
		return chain.Authenticate(&identity.Principal{Name: "carol", Provider: "test-session", Consumed: sessionCookie})
	}
	if r.URL.Query().Get("test_token") == "ok" {
		return chain.Authenticate(&identity.Principal{Name: "carol", Provider: "test-session", Consumed: sessionToken})
	}
	return chain.Pass("")
}
