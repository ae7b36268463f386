package kerberos_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/spnego"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy"
)

type aliasResolver map[string][]byte

func (a aliasResolver) Resolve(_ context.Context, _, alias string) ([]byte, error) {
	if v, ok := a[alias]; ok {
		return v, nil
	}
	return nil, errors.New("no such alias")
}

// gateway runs a proxy with topology "t" (kerberos, then identity
// assertion) whose service "echo" is a backend recording what it saw.
type gateway struct {
	url  string
	mu   sync.Mutex
	seen []*http.Request
}

func (g *gateway) last(t *testing.T) *http.Request {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.seen) == 0 {
		t.Fatal("the backend saw no request")
	}
	return g.seen[len(g.seen)-1]
}

func startGateway(t *testing.T, r *realm, params map[string]string) *gateway {
	t.Helper()
	g := &gateway{}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		g.mu.Lock()
		g.seen = append(g.seen, req.Clone(context.Background()))
		g.mu.Unlock()
		w.Write([]byte("hello " + req.Header.Get("X-Forwarded-User") + "\n"))
	}))
	t.Cleanup(backend.Close)
	p, err := proxy.New(proxy.Config{Resolver: aliasResolver(r.aliases)})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(p)
	t.Cleanup(func() { front.Close(); p.Close() })
	c, err := p.Compile(context.Background(), &topology.Topology{Name: "t",
		Providers: []topology.Provider{
			{Role: "authentication", Name: "kerberos", Params: r.params(params)},
			{Role: "identity-assertion", Name: "default", Params: map[string]string{"header": "X-Forwarded-User"}},
		},
		Services: []topology.Service{{Path: "echo", URLs: []string{backend.URL}}}})
	if err != nil {
		t.Fatal(err)
	}
	p.Apply(c)
	g.url = strings.Replace(front.URL, "127.0.0.1", "localhost", 1) + "/gateway/t/echo/"
	return g
}

// Through the gateway, a gokrb5 client gets the backend's answer; the
// backend sees neither the Negotiate token nor the session cookie, and the
// client gets its mutual-authentication token and cookie.
func TestGatewayGoClient(t *testing.T) {
	r := newRealm(t)
	g := startGateway(t, r, nil)
	cl := r.kdc.Login(t, "alice", r.alice)
	sc := spnego.NewClient(cl, nil, "HTTP/localhost")
	resp, err := sc.Get(g.url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	cookies := resp.Cookies()
	if len(cookies) != 1 || cookies[0].Name != "gateway.auth" {
		t.Fatalf("cookies %+v", cookies)
	}
	seen := g.last(t)
	if seen.Header.Get("Authorization") != "" || seen.Header.Get("Cookie") != "" {
		t.Fatalf("the backend saw Authorization %q, Cookie %q", seen.Header.Get("Authorization"), seen.Header.Get("Cookie"))
	}
	// The cookie alone, with another cookie of the client's beside it.
	req, _ := http.NewRequest(http.MethodGet, g.url, nil)
	req.AddCookie(cookies[0])
	req.AddCookie(&http.Cookie{Name: "app", Value: "kept"})
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("with the cookie: status %d", resp.StatusCode)
	}
	if c := g.last(t).Header.Get("Cookie"); c != "app=kept" {
		t.Fatalf("the backend saw Cookie %q", c)
	}
	// Mutual authentication asked for: the token comes back on the
	// backend's 200, beside the cookie.
	mutual, _, _ := negotiate(t, cl, "HTTP/localhost", tokenOpts{mutual: true})
	req, _ = http.NewRequest(http.MethodGet, g.url, nil)
	req.Header.Set("Authorization", mutual)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if v := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != 200 || !strings.HasPrefix(v, "Negotiate ") || len(v) < 40 || len(resp.Cookies()) != 1 {
		t.Fatalf("mutual: %d, WWW-Authenticate %q, cookies %d", resp.StatusCode, v, len(resp.Cookies()))
	}
	// Nothing: 401 Negotiate, from the gateway.
	resp, err = http.Get(g.url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != "Negotiate" {
		t.Fatalf("no credentials: %d %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
}

// The user's way in: kinit, then curl --negotiate (MIT's GSSAPI, which
// asks for mutual authentication and checks the gateway's answer). With
// the cookie jar, a second curl without a ticket gets through on the
// session cookie.
func TestGatewayKinitCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatal("curl is missing (Debian package curl)")
	}
	r := newRealm(t)
	g := startGateway(t, r, nil)
	r.kdc.Kinit(t, "alice", "alice", r.alice)
	jar := filepath.Join(t.TempDir(), "jar")
	run := func(ccache string, args ...string) (string, error) {
		cmd := exec.Command(curl, append([]string{"-sS", "--fail-with-body", "-c", jar, "-b", jar}, args...)...)
		cmd.Env = r.kdc.Env(ccache)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("alice", "--negotiate", "-u", ":", g.url)
	if err != nil || out != "hello alice\n" {
		t.Fatalf("curl --negotiate: %v: %q", err, out)
	}
	if a := g.last(t).Header.Get("Authorization"); a != "" {
		t.Fatalf("the backend saw Authorization %q", a)
	}
	b, err := os.ReadFile(jar)
	if err != nil || !strings.Contains(string(b), "gateway.auth") || !strings.Contains(string(b), "#HttpOnly_localhost") {
		t.Fatalf("cookie jar: %v\n%s", err, b)
	}
	// No ticket in this cache: the cookie authenticates.
	out, err = run("nobody", g.url)
	if err != nil || out != "hello alice\n" {
		t.Fatalf("curl with the session cookie: %v: %q", err, out)
	}
	// Without cookie and ticket: 401.
	if out, err := exec.Command(curl, "-s", "-o", "/dev/null", "-w", "%{http_code}", g.url).CombinedOutput(); err != nil || string(out) != "401" {
		t.Fatalf("no credentials: %v %q", err, out)
	}
}

// A Knox topology with HadoopAuth (type kerberos) converts to ours and
// serves: the keytab path became an alias named after the file.
func TestKnoxHadoopAuthTopology(t *testing.T) {
	r := newRealm(t)
	doc := `<topology><gateway>
<provider><role>authentication</role><name>HadoopAuth</name><enabled>true</enabled>
  <param><name>config.prefix</name><value>hadoop.auth.config</value></param>
  <param><name>hadoop.auth.config.type</name><value>kerberos</value></param>
  <param><name>hadoop.auth.config.token.validity</name><value>1800</value></param>
  <param><name>hadoop.auth.config.kerberos.principal</name><value>HTTP/localhost@EXAMPLE.TEST</value></param>
  <param><name>hadoop.auth.config.kerberos.keytab</name><value>/etc/security/keytabs/http-keytab</value></param>
  <param><name>hadoop.auth.config.kerberos.name.rules</name><value>RULE:[1:$1@$0](.*@EXAMPLE\.TEST)s/@.*//L
    DEFAULT</value></param>
</provider>
<provider><role>identity-assertion</role><name>Default</name><enabled>true</enabled></provider>
</gateway>
<service><role>ECHO</role><url>%s</url></service></topology>`
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { w.Write([]byte("ok")) }))
	t.Cleanup(backend.Close)
	top, err := topology.Parse([]byte(strings.Replace(doc, "%s", backend.URL, 1)), topology.FormatUnspecified, "secure.xml", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := topology.Validate(top); err != nil {
		t.Fatal(err)
	}
	p, err := proxy.New(proxy.Config{Resolver: aliasResolver(r.aliases)})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(p)
	t.Cleanup(func() { front.Close(); p.Close() })
	c, err := p.Compile(context.Background(), top)
	if err != nil {
		t.Fatal(err)
	}
	p.Apply(c)
	cl := r.kdc.Login(t, "alice", r.alice)
	resp, err := spnego.NewClient(cl, nil, "HTTP/localhost").Get(strings.Replace(front.URL, "127.0.0.1", "localhost", 1) + "/gateway/secure/echo/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// token.validity 1800 became cookie.validity 30m.
	if ck := resp.Cookies(); len(ck) != 1 || time.Until(ck[0].Expires) > 1800*time.Second || time.Until(ck[0].Expires) < 1700*time.Second {
		t.Fatalf("cookies %+v", ck)
	}
}
