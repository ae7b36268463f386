package kerberos_test

import (
	"crypto/tls"
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/securegw/gateway/internal/topology"
	"golang.org/x/crypto/bcrypt"

	"github.com/securegw/gateway/proxy/chain"
	_ "github.com/securegw/gateway/proxy/providers/basic"
	"github.com/securegw/gateway/proxy/providers/kerberos/krbtest"
)

// A gokrb5 client logged in with a password gets through with gokrb5's own
// SPNEGO header; the principal is the short name; the Authorization
// header and the session cookie are what the provider consumed.
func TestNegotiateGoClient(t *testing.T) {
	r := newRealm(t)
	c := r.mustBuild(t, r.params(nil))
	cl := r.kdc.Login(t, "alice", r.alice)
	req := request("")
	if err := spnego.SetSPNEGOHeader(cl, req, "HTTP/localhost"); err != nil {
		t.Fatal(err)
	}
	res := serve(c, req)
	if res.code != 0 || res.principal == nil {
		t.Fatalf("status %d, challenges %q", res.code, res.challenges)
	}
	p := res.principal
	if p.Name != "alice" || p.Provider != "kerberos" || p.Expires.IsZero() {
		t.Fatalf("principal %+v", p)
	}
	var consumed []string
	for _, cr := range p.Consumed {
		consumed = append(consumed, cr.String())
	}
	if !slices.Equal(consumed, []string{"header Authorization", "cookie gateway.auth"}) {
		t.Fatalf("consumed %q", consumed)
	}
	// Without mutual authentication asked for, no token comes back.
	if len(res.challenges) != 0 {
		t.Fatalf("WWW-Authenticate %q without mutual authentication", res.challenges)
	}
}

// No ticket: 401 with the Negotiate challenge; with Basic beside it, one
// 401 with both challenges (and a Windows client's NTLM token sent as
// Negotiate gets both too, so that it can fall back to Basic).
func TestChallenges(t *testing.T) {
	r := newRealm(t)
	c := r.mustBuild(t, r.params(nil))
	if res := serve(c, request("")); res.code != 401 || !slices.Equal(res.challenges, []string{"Negotiate"}) {
		t.Fatalf("no credentials: %d %q", res.code, res.challenges)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte("carol-password"), 4)
	if err != nil {
		t.Fatal(err)
	}
	both, err := r.build(t, chain.Host{},
		topology.Provider{Role: "authentication", Name: "kerberos", Params: r.params(nil)},
		topology.Provider{Role: "authentication", Name: "basic", Params: map[string]string{"users": "carol:" + string(hash)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, authz := range []string{"", "Negotiate TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw=="} {
		res := serve(both, request(authz))
		if res.code != 401 || len(res.challenges) != 2 || !slices.Contains(res.challenges, "Negotiate") ||
			!slices.ContainsFunc(res.challenges, func(c string) bool { return strings.HasPrefix(c, "Basic ") }) {
			t.Fatalf("%q: %d %q", authz, res.code, res.challenges)
		}
	}
	// A Kerberos client still gets through the combined chain.
	cl := r.kdc.Login(t, "bob", r.bob)
	h, _, _ := negotiate(t, cl, "HTTP/localhost", tokenOpts{})
	if res := serve(both, request(h)); res.code != 0 || res.principal.Name != "bob" {
		t.Fatalf("negotiate beside basic: %d %q", res.code, res.challenges)
	}
}

// Every bad token is refused with 401 and the Negotiate challenge, and
// nothing says which check failed.
func TestBadTokensRefused(t *testing.T) {
	r := newRealm(t)
	r.kdc.AddService(t, "HTTP/other")
	c := r.mustBuild(t, r.params(map[string]string{"clock_skew": "1m"}))
	anyPrincipal := r.mustBuild(t, r.params(map[string]string{"principal": "*"}))
	cl := r.kdc.Login(t, "alice", r.alice)

	good, _, _ := negotiate(t, cl, "HTTP/localhost", tokenOpts{})
	otherSPN, _, _ := negotiate(t, cl, "HTTP/other", tokenOpts{})
	skewed, _, _ := negotiate(t, cl, "HTTP/localhost", tokenOpts{skew: -3 * time.Minute})
	ahead, _, _ := negotiate(t, cl, "HTTP/localhost", tokenOpts{skew: 3 * time.Minute})

	// An expired ticket: made with the service's own key, as the KDC would
	// have made it an hour ago.
	kt := krbtest.Keytab(t, r.keytab)
	sname := types.NewPrincipalName(1, "HTTP/localhost")
	now := time.Now()
	tkt, key, err := messages.NewTicket(cl.Credentials.CName(), krbtest.Realm, sname, krbtest.Realm,
		types.NewKrbFlags(), kt, 18, 0, now.Add(-2*time.Hour), now.Add(-2*time.Hour), now.Add(-time.Hour), now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	expired, _, _ := negotiateWith(t, krbtest.Realm, cl.Credentials.CName(), tkt, key, tokenOpts{})
	// Ended 20s ago: within the clock skew, still expired.
	tkt, key, err = messages.NewTicket(cl.Credentials.CName(), krbtest.Realm, sname, krbtest.Realm,
		types.NewKrbFlags(), kt, 18, 0, now.Add(-time.Hour), now.Add(-time.Hour), now.Add(-20*time.Second), now.Add(-20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	justExpired, _, _ := negotiateWith(t, krbtest.Realm, cl.Credentials.CName(), tkt, key, tokenOpts{})

	if res := serve(c, request(good)); res.code != 0 {
		t.Fatalf("good token: %d", res.code)
	}
	tests := []struct {
		name, authz string
		c           *chain.Chain
	}{
		{"replayed authenticator", good, c},
		{"ticket for another service principal", otherSPN, c},
		{"another principal, any principal of the keytab", otherSPN, anyPrincipal},
		{"expired ticket", expired, c},
		{"ticket expired within the clock skew", justExpired, c},
		{"clock skew beyond the limit (behind)", skewed, c},
		{"clock skew beyond the limit (ahead)", ahead, c},
		{"empty token", "Negotiate", c},
		{"not base64", "Negotiate !!!notbase64", c},
		{"base64 garbage", "Negotiate " + base64.StdEncoding.EncodeToString([]byte("hello, gateway")), c},
		{"truncated token", good[:len(good)/2], c},
		{"oversized token", "Negotiate " + strings.Repeat("A", 70<<10), c},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := serve(tc.c, request(tc.authz))
			if res.code != 401 || !slices.Equal(res.challenges, []string{"Negotiate"}) {
				t.Fatalf("status %d, challenges %q; want 401 Negotiate", res.code, res.challenges)
			}
			if res.header.Get("Set-Cookie") != "" {
				t.Fatal("a refused request got a session cookie")
			}
		})
	}
	// Within the skew: accepted.
	within, _, _ := negotiate(t, cl, "HTTP/localhost", tokenOpts{skew: -30 * time.Second})
	if res := serve(c, request(within)); res.code != 0 {
		t.Fatalf("within the skew: %d", res.code)
	}
	// A bare Kerberos token (no SPNEGO wrapper) is accepted too.
	bare, _, _ := negotiate(t, cl, "HTTP/localhost", tokenOpts{raw: true})
	if res := serve(c, request(bare)); res.code != 0 {
		t.Fatalf("bare Kerberos token: %d", res.code)
	}
}

// A replay is caught across topologies too: the cache is the gateway's.
func TestReplayAcrossHandlers(t *testing.T) {
	r := newRealm(t)
	host := chain.Host{Replay: newReplay()}
	p := topology.Provider{Role: "authentication", Name: "kerberos", Params: r.params(nil)}
	a, err := r.build(t, host, p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.build(t, host, p)
	if err != nil {
		t.Fatal(err)
	}
	cl := r.kdc.Login(t, "alice", r.alice)
	h, _, _ := negotiate(t, cl, "HTTP/localhost", tokenOpts{})
	if res := serve(a, request(h)); res.code != 0 {
		t.Fatalf("first: %d", res.code)
	}
	if res := serve(b, request(h)); res.code != 401 {
		t.Fatalf("replay to another topology: %d", res.code)
	}
}

// Two authenticators made in the same microsecond (two processes of one
// user) are two authenticators, not a replay; the same one twice is.
func TestSameMicrosecondNotAReplay(t *testing.T) {
	r := newRealm(t)
	c := r.mustBuild(t, r.params(nil))
	cl := r.kdc.Login(t, "alice", r.alice)
	at := time.Now().Truncate(time.Microsecond)
	a, _, _ := negotiate(t, cl, "HTTP/localhost", tokenOpts{at: at})
	b, _, _ := negotiate(t, cl, "HTTP/localhost", tokenOpts{at: at})
	for i, h := range []string{a, b} {
		if res := serve(c, request(h)); res.code != 0 {
			t.Fatalf("authenticator %d: %d", i, res.code)
		}
	}
	if res := serve(c, request(b)); res.code != 401 {
		t.Fatalf("replay: %d", res.code)
	}
}

// Asked for mutual authentication, the gateway answers with an AP-REP in a
// SPNEGO accept-completed token that the client can decrypt with the
// session key and that carries its authenticator's time.
func TestMutualAuthentication(t *testing.T) {
	r := newRealm(t)
	c := r.mustBuild(t, r.params(nil))
	cl := r.kdc.Login(t, "alice", r.alice)
	for _, raw := range []bool{false, true} {
		h, key, auth := negotiate(t, cl, "HTTP/localhost", tokenOpts{mutual: true, raw: raw})
		res := serve(c, request(h))
		if res.code != 0 || len(res.challenges) != 1 {
			t.Fatalf("raw %v: status %d, challenges %q", raw, res.code, res.challenges)
		}
		tok, ok := strings.CutPrefix(res.challenges[0], "Negotiate ")
		if !ok {
			t.Fatalf("answer %q", res.challenges[0])
		}
		b, err := base64.StdEncoding.DecodeString(tok)
		if err != nil {
			t.Fatal(err)
		}
		gss := b
		if !raw {
			var st spnego.SPNEGOToken
			if err := st.Unmarshal(b); err != nil || !st.Resp {
				t.Fatalf("not a NegTokenResp: %v", err)
			}
			if st.NegTokenResp.NegState != 0 {
				t.Fatalf("negState %d", st.NegTokenResp.NegState)
			}
			gss = st.NegTokenResp.ResponseToken
		}
		var kt spnego.KRB5Token
		if err := kt.Unmarshal(gss); err != nil || !kt.IsAPRep() {
			t.Fatalf("not an AP-REP: %v", err)
		}
		plain, err := crypto.DecryptEncPart(kt.APRep.EncPart, key, keyusage.AP_REP_ENCPART)
		if err != nil {
			t.Fatalf("decrypting the AP-REP with the session key: %v", err)
		}
		var enc messages.EncAPRepPart
		if err := enc.Unmarshal(plain); err != nil {
			t.Fatal(err)
		}
		if !enc.CTime.Equal(auth.CTime.Truncate(time.Second)) || enc.Cusec != auth.Cusec {
			t.Fatalf("AP-REP time %v.%d, authenticator %v.%d", enc.CTime, enc.Cusec, auth.CTime, auth.Cusec)
		}
	}
}

// Principal names are mapped with Hadoop auth_to_local rules; a name no
// rule maps is refused.
func TestNameRules(t *testing.T) {
	r := newRealm(t)
	c := r.mustBuild(t, r.params(map[string]string{"kerberos.name.rules": `RULE:[1:$1@$0](alice@EXAMPLE\.TEST)s/@.*/-krb/`}))
	alice := r.kdc.Login(t, "alice", r.alice)
	h, _, _ := negotiate(t, alice, "HTTP/localhost", tokenOpts{})
	if res := serve(c, request(h)); res.code != 0 || res.principal.Name != "alice-krb" {
		t.Fatalf("alice: %d %+v", res.code, res.principal)
	}
	bob := r.kdc.Login(t, "bob", r.bob)
	h, _, _ = negotiate(t, bob, "HTTP/localhost", tokenOpts{})
	if res := serve(c, request(h)); res.code != 401 {
		t.Fatalf("bob, whom no rule maps: %d", res.code)
	}
}

// After a ticket was accepted the client gets a signed session cookie
// (HttpOnly, Secure on TLS or behind an https public URL, never past the ticket) that authenticates it
// without Kerberos until it expires; a tampered or expired one is ignored.
func TestSessionCookie(t *testing.T) {
	r := newRealm(t)
	clock := &fakeClock{now: time.Now()}
	c, err := r.build(t, chain.Host{Clock: clock}, topology.Provider{Role: "authentication", Name: "kerberos",
		Params: r.params(map[string]string{"cookie.validity": "30m"})})
	if err != nil {
		t.Fatal(err)
	}
	cl := r.kdc.Login(t, "alice", r.alice)
	h, _, _ := negotiate(t, cl, "HTTP/localhost", tokenOpts{})
	req := request(h)
	req.TLS = &tls.ConnectionState{}
	res := serve(c, req)
	if res.code != 0 {
		t.Fatalf("negotiate: %d", res.code)
	}
	resp := http.Response{Header: res.header}
	cookies := resp.Cookies()
	if len(cookies) != 1 {
		t.Fatalf("Set-Cookie %q", res.header.Values("Set-Cookie"))
	}
	ck := cookies[0]
	if ck.Name != "gateway.auth" || !ck.HttpOnly || !ck.Secure || ck.Path != "/gateway/t" ||
		ck.Expires.Sub(clock.now) > 30*time.Minute+time.Second || !strings.Contains(ck.Value, "u=alice&p=alice%40EXAMPLE.TEST&t=kerberos&e=") {
		t.Fatalf("cookie %+v", ck)
	}
	withCookie := func(v string) result {
		req := request("")
		req.AddCookie(&http.Cookie{Name: "gateway.auth", Value: v})
		return serve(c, req)
	}
	if res := withCookie(ck.Value); res.code != 0 || res.principal.Name != "alice" || !res.principal.Expires.Equal(ck.Expires.Truncate(time.Second)) && res.principal.Expires.Sub(ck.Expires) > time.Second {
		t.Fatalf("with the cookie: %d %+v", res.code, res.principal)
	}
	for name, v := range map[string]string{
		"user changed":      strings.Replace(ck.Value, "u=alice", "u=admin", 1),
		"expiry changed":    strings.Replace(ck.Value, "&e=", "&e=9", 1),
		"signature removed": ck.Value[:strings.Index(ck.Value, "&s=")],
		"garbage":           "x",
	} {
		if res := withCookie(v); res.code != 401 || !slices.Equal(res.challenges, []string{"Negotiate"}) {
			t.Fatalf("%s: %d %q", name, res.code, res.challenges)
		}
	}
	// Another topology's handler (another key) does not take it either.
	r.topology = "other"
	other := r.mustBuild(t, r.params(map[string]string{"signature.secret": "0123456789abcdef0123"}))
	req = request("")
	req.AddCookie(&http.Cookie{Name: "gateway.auth", Value: ck.Value})
	if res := serve(other, req); res.code != 401 {
		t.Fatalf("cookie of another topology: %d", res.code)
	}
	clock.now = clock.now.Add(31 * time.Minute)
	if res := withCookie(ck.Value); res.code != 401 {
		t.Fatalf("expired cookie: %d", res.code)
	}
	// No cookie without TLS is Secure; cookie.validity 0 issues none.
	clock.now = time.Now()
	plain := serve(c, request(mustNegotiate(t, cl)))
	if pc := (&http.Response{Header: plain.header}).Cookies(); len(pc) != 1 || pc[0].Secure {
		t.Fatalf("plain-HTTP cookie %+v", pc)
	}
	// Behind TLS that ends in front of the gateway (an https public URL),
	// a plain-HTTP request's cookie is Secure too.
	behind, err := r.build(t, chain.Host{Clock: clock, PublicOrigin: "https://gw.example.com"}, topology.Provider{Role: "authentication", Name: "kerberos",
		Params: r.params(map[string]string{"cookie.validity": "30m"})})
	if err != nil {
		t.Fatal(err)
	}
	fronted := serve(behind, request(mustNegotiate(t, cl)))
	if pc := (&http.Response{Header: fronted.header}).Cookies(); len(pc) != 1 || !pc[0].Secure {
		t.Fatalf("cookie behind an https public URL %+v", pc)
	}
	none := r.mustBuild(t, r.params(map[string]string{"cookie.validity": "0"}))
	if res := serve(none, request(mustNegotiate(t, cl))); res.code != 0 || res.header.Get("Set-Cookie") != "" || len(res.principal.Consumed) != 1 {
		t.Fatalf("cookie.validity 0: %d %q", res.code, res.header.Get("Set-Cookie"))
	}
}

func mustNegotiate(t *testing.T, cl *client.Client) string {
	t.Helper()
	h, _, _ := negotiate(t, cl, "HTTP/localhost", tokenOpts{})
	return h
}

type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

// Deploy-time errors name the param and never hold a secret.
func TestConfigErrors(t *testing.T) {
	r := newRealm(t)
	tests := []struct {
		name   string
		params map[string]string
		err    string
	}{
		{"keytab alias missing", map[string]string{"keytab": "${alias:nope}"}, `param "keytab": alias "nope": no such alias`},
		{"keytab not an alias", map[string]string{"keytab": "/etc/krb5.keytab"}, `param "keytab": must be ${alias:NAME}`},
		{"keytab absent", map[string]string{"keytab": ""}, `param "keytab": is required`},
		{"alias holds no keytab", map[string]string{"keytab": "${alias:junk}"}, "does not hold a keytab"},
		{"principal not in the keytab", map[string]string{"principal": "HTTP/gw.example.test"}, `holds no key for "HTTP/gw.example.test"`},
		{"principal in another realm", map[string]string{"principal": "HTTP/localhost@OTHER.TEST"}, "holds no key"},
		{"principal absent", map[string]string{"principal": ""}, `param "principal"`},
		{"bad rules", map[string]string{"name_rules": "RULE:[1:$1"}, `param "name_rules": invalid rule`},
		{"skew too large", map[string]string{"clock_skew": "2h"}, `param "clock_skew"`},
		{"short secret", map[string]string{"signature.secret": "short"}, `param "signature.secret": must be at least 16 bytes`},
		{"cookie params without a cookie", map[string]string{"cookie.validity": "0", "cookie.name": "x"}, "has no effect"},
		{"bad cookie name", map[string]string{"cookie.name": "a;b"}, "not a valid cookie name"},
		{"unknown param", map[string]string{"kerberos.keytab.path": "x"}, "is not a parameter"},
	}
	r.aliases["junk"] = []byte("not a keytab")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.build(t, chain.Host{}, topology.Provider{Role: "authentication", Name: "kerberos", Params: r.params(tc.params)})
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err %v; want %q", err, tc.err)
			}
		})
	}
	// The Knox names are accepted.
	if _, err := r.build(t, chain.Host{}, topology.Provider{Role: "authentication", Name: "kerberos", Params: map[string]string{
		"kerberos.principal": "HTTP/localhost@EXAMPLE.TEST", "kerberos.keytab": "${alias:http-keytab}", "kerberos.name.rules": "DEFAULT"}}); err != nil {
		t.Fatal(err)
	}
}
