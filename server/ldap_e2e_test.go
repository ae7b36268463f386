package main

// End-to-end test of the ldap authentication provider (search-then-bind
// against a real slapd, group lookup, ACLs on groups, the auth API and
// gatewayctl groups) through the real gatewayd and gatewayctl (helpers in
// e2e_test.go).

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/securegw/gateway/proxy/providers/ldap/ldaptest"
)

// identityBackend answers with JSON: the path it got and every value of
// every header that is X-Forwarded-User in any spelling (X_Forwarded_User,
// x.forwarded.user, …). hits counts the requests that reached it.
func identityBackend(t *testing.T, hits *atomic.Int64) string {
	t.Helper()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		users := []string{}
		for k, vs := range r.Header {
			if strings.NewReplacer("_", "-", ".", "-").Replace(strings.ToLower(k)) == "x-forwarded-user" {
				users = append(users, vs...)
			}
		}
		slices.Sort(users)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(backendSaw{Path: r.URL.Path, Users: users})
	})}
	ln := listen(t)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

type backendSaw struct {
	Path  string   `json:"path"`
	Users []string `json:"users"`
}

// ldapTopologyDoc is the topology corp: search-then-bind against url with
// the service password from the alias ldap-bind, group lookup, no login
// cache (every attempt goes to the directory: the outage below is then
// seen at once), echo open to the group analysts only. extra is added to
// the ldap provider's params.
func ldapTopologyDoc(url, backend, extra string) string {
	return fmt.Sprintf(`name: corp
providers:
  - role: authentication
    name: ldap
    params:
      url: %q
      bind_dn: %q
      bind_password: ${alias:ldap-bind}
      search_base: %q
      lookup_groups: "true"
      cache_ttl: 0s
      timeout: 2s
      realm: Corp Realm
%s  - role: identity-assertion
    name: default
    params:
      header: X-Forwarded-User
  - role: authorization
    name: acls
    params:
      echo.acl: "*;analysts;*"
services:
  - path: echo
    urls: [%q]
`, url, ldaptest.ServiceDN, ldaptest.Suffix, extra, backend)
}

func randomSecret(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

// gwResponse is what a request through the proxy got.
type gwResponse struct {
	code   int
	header http.Header
	body   string
}

// errorBody is the JSON error the gateway answers with.
func (r gwResponse) errorBody(t *testing.T) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") || json.Unmarshal([]byte(r.body), &e) != nil || e.Error == "" {
		t.Fatalf("%d answer is not a JSON error: %q %q", r.code, r.header.Get("Content-Type"), r.body)
	}
	return e.Error
}

// saw decodes what the identity backend saw.
func (r gwResponse) saw(t *testing.T) backendSaw {
	t.Helper()
	var s backendSaw
	if err := json.Unmarshal([]byte(r.body), &s); err != nil {
		t.Fatalf("backend answer %q: %v", r.body, err)
	}
	return s
}

// duplicateKeys returns the names that occur more than once among the
// top-level keys of the JSON object line.
func duplicateKeys(line string) ([]string, error) {
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object (%v)", err)
	}
	seen := map[string]bool{}
	var dups []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		if seen[key] {
			dups = append(dups, key)
		}
		seen[key] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
	}
	return dups, nil
}

func TestLDAPEndToEnd(t *testing.T) {
	start := time.Now()
	pw := map[string]string{
		"alice":  randomSecret(t, "alice-pw-"),
		"bob":    randomSecret(t, "bob-pw-"),
		"o*neil": randomSecret(t, "oneil-pw-"),
	}
	dir := ldaptest.Start(t, ldaptest.Options{
		Users: []ldaptest.User{
			{UID: "alice", Password: pw["alice"]},
			{UID: "bob", Password: pw["bob"]},
			{UID: "o*neil", Password: pw["o*neil"]},
		},
		Groups: []ldaptest.Group{
			{CN: "analysts", Members: []string{"alice", "o*neil"}},
			{CN: "admins", Members: []string{"bob"}},
		},
	})
	wrongPassword := randomSecret(t, "wrong-pw-")
	secrets := []string{dir.ServicePassword, pw["alice"], pw["bob"], pw["o*neil"], wrongPassword}

	e := newEnv(t)
	d := e.start("--log-level", "debug")
	hc := e.httpClient()
	var hits atomic.Int64
	backend := identityBackend(t, &hits)
	base := "https://" + d.proxy + "/gateway/corp"

	// The service password goes in on stdin, never argv.
	e.mustCtlIn(dir.ServicePassword+"\n", "alias", "create", "ldap-bind", "--topology", "corp")
	e.mustCtl("topology", "deploy", writeFile(t, "corp.yaml", ldapTopologyDoc(dir.URL, backend, "")))
	e.mustCtl("topology", "deploy", writeFile(t, "open.yaml", topologyDoc("open", echoBackend(t, "open"))))
	t.Logf("directory and gateway ready in %v", time.Since(start))

	// get sends a GET as user:password (no Authorization when user is
	// "-"), with extra request headers in key, value pairs, spelled as given.
	get := func(url, user, password string, header ...string) gwResponse {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if user != "-" {
			req.SetBasicAuth(user, password)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header[header[i]] = append(req.Header[header[i]], header[i+1])
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("GET %s as %q: %v", url, user, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("GET %s as %q: reading the body: %v", url, user, err)
		}
		return gwResponse{resp.StatusCode, resp.Header, string(b)}
	}
	const challenge = `Basic realm="Corp Realm", charset="UTF-8"`
	// refused checks a 401 with the challenge that did not reach the backend.
	refused := func(what string, r gwResponse) {
		t.Helper()
		if r.code != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") != challenge {
			t.Errorf("%s: %d, WWW-Authenticate %q, want 401 with %q; body %q", what, r.code, r.header.Get("WWW-Authenticate"), challenge, r.body)
			return
		}
		r.errorBody(t)
	}
	// allowed checks a 200 from the backend as user, for path.
	allowed := func(what string, r gwResponse, user, path string) {
		t.Helper()
		if r.code != http.StatusOK {
			t.Fatalf("%s: %d %q, want 200", what, r.code, r.body)
		}
		if s := r.saw(t); s.Path != path || !slices.Equal(s.Users, []string{user}) {
			t.Errorf("%s: the backend saw path %q as %q, want %q as [%s]", what, s.Path, s.Users, path, user)
		}
	}

	// Authentication and authorization through the proxy.
	hitsBefore := hits.Load()
	refused("no credentials", get(base+"/echo/x", "-", ""))
	refused("alice, wrong password", get(base+"/echo/x", "alice", wrongPassword))
	refused("alice, empty password", get(base+"/echo/x", "alice", ""))
	refused("user *, alice's password", get(base+"/echo/x", "*", pw["alice"]))
	refused("user *, any password", get(base+"/echo/x", "*", wrongPassword))
	refused("user o*, o*neil's password", get(base+"/echo/x", "o*", pw["o*neil"]))
	refused("user a*, alice's password", get(base+"/echo/x", "a*", pw["alice"]))
	refused("user alice)(uid=*, alice's password", get(base+"/echo/x", "alice)(uid=*", pw["alice"]))
	refused("alice, o*neil's password", get(base+"/echo/x", "alice", pw["o*neil"]))
	refused("user alice<NUL>, alice's password", get(base+"/echo/x", "alice\x00", pw["alice"]))
	r := get(base+"/echo/x", "bob", pw["bob"])
	if r.code != http.StatusForbidden {
		t.Errorf("bob (not in analysts): %d %q, want 403", r.code, r.body)
	} else if msg := r.errorBody(t); !strings.Contains(msg, "bob") || !strings.Contains(msg, "echo") {
		t.Errorf("bob's 403 does not say who and what: %q", msg)
	}
	if n := hits.Load() - hitsBefore; n != 0 {
		t.Errorf("%d refused requests reached the backend", n)
	}

	allowed("alice", get(base+"/echo/a/b", "alice", pw["alice"]), "alice", "/a/b")
	allowed("o*neil", get(base+"/echo/c", "o*neil", pw["o*neil"]), "o*neil", "/c")
	// The directory matches case and spaces loosely; the principal is its
	// own spelling, so one person is one identity at the backend.
	allowed("ALICE", get(base+"/echo/e", "ALICE", pw["alice"]), "alice", "/e")
	allowed("' alice '", get(base+"/echo/f", " alice ", pw["alice"]), "alice", "/f")
	allowed("alice sending X-Forwarded-User: admin", get(base+"/echo/d", "alice", pw["alice"],
		"X-Forwarded-User", "admin", "X_Forwarded_User", "admin", "x-forwarded-user", "root"), "alice", "/d")

	// The auth API, as alice.
	r = get(base+"/auth/api/v1/groups", "alice", pw["alice"])
	var groups struct {
		User   string   `json:"user"`
		Groups []string `json:"groups"`
	}
	if r.code != http.StatusOK || json.Unmarshal([]byte(r.body), &groups) != nil ||
		groups.User != "alice" || !slices.Equal(groups.Groups, []string{"analysts"}) {
		t.Errorf("auth API groups as alice: %d %q, want alice in [analysts]", r.code, r.body)
	}
	r = get(base+"/auth/api/v1/pre", "alice", pw["alice"])
	if r.code != http.StatusOK || r.header.Get("X-Knox-Actor-ID") != "alice" || r.header.Get("X-Knox-Actor-Groups-1") != "analysts" {
		t.Errorf("auth API pre as alice: %d, actor %q, groups %q", r.code, r.header.Get("X-Knox-Actor-ID"), r.header.Get("X-Knox-Actor-Groups-1"))
	}
	refused("auth API without credentials", get(base+"/auth/api/v1/groups", "-", ""))

	// gatewayctl groups: the directory's answer, through the service account.
	var lookup struct {
		User   string   `json:"user"`
		Groups []string `json:"groups"`
		Source string   `json:"source"`
	}
	out := e.mustCtl("groups", "alice", "--topology", "corp", "-o", "json")
	if err := json.Unmarshal([]byte(out), &lookup); err != nil || lookup.User != "alice" ||
		!slices.Equal(lookup.Groups, []string{"analysts"}) || lookup.Source != "ldap" {
		t.Errorf("gatewayctl groups alice --topology corp: %v\n%s", err, out)
	}
	out = e.mustCtl("groups", "bob", "--topology", "corp", "-o", "json")
	if err := json.Unmarshal([]byte(out), &lookup); err != nil || !slices.Equal(lookup.Groups, []string{"admins"}) {
		t.Errorf("gatewayctl groups bob --topology corp: %v\n%s", err, out)
	}
	for _, user := range []string{"nobody", "*", "o*"} {
		// Not in the directory (and no wildcard): in no group.
		out := e.mustCtl("groups", user, "--topology", "corp", "-o", "json")
		lookup.Groups = nil
		if err := json.Unmarshal([]byte(out), &lookup); err != nil || len(lookup.Groups) != 0 {
			t.Errorf("gatewayctl groups %s --topology corp: %v\n%s", user, err, out)
		}
	}
	out, errOut, code := e.ctl("", "groups", "alice", "--topology", "nope")
	if code == 0 || !strings.Contains(errOut, "nope") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("gatewayctl groups alice --topology nope: exit %d, stdout %q, stderr %q; want a one-line error naming the topology", code, out, errOut)
	}

	// The directory goes away: 503 for corp (never 401), other topologies
	// unaffected; back when it is back.
	dir.Stop(t)
	hitsBefore = hits.Load()
	for _, user := range []string{"alice", "bob"} {
		r := get(base+"/echo/down", user, pw[user])
		if r.code != http.StatusServiceUnavailable || r.header.Get("WWW-Authenticate") != "" {
			t.Errorf("%s with the directory down: %d, WWW-Authenticate %q, body %q; want 503 without a challenge", user, r.code, r.header.Get("WWW-Authenticate"), r.body)
		} else if msg := r.errorBody(t); msg != "authentication service unavailable" {
			t.Errorf("%s with the directory down: %q", user, msg)
		}
	}
	if n := hits.Load() - hitsBefore; n != 0 {
		t.Errorf("%d requests reached the backend with the directory down", n)
	}
	if out, errOut, code := e.ctl("", "groups", "alice", "--topology", "corp"); code == 0 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 ||
		!strings.Contains(errOut, "try again") {
		t.Errorf("gatewayctl groups with the directory down: exit %d, stdout %q, stderr %q; want a one-line 'try again' error", code, out, errOut)
	}
	if code, body := httpGet(t, hc, "https://"+d.proxy+"/gateway/open/echo/still"); code != http.StatusOK || body != "open /still" {
		t.Errorf("anonymous topology with the directory down: %d %q", code, body)
	}
	dir.Restart(t)
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		r = get(base+"/echo/up", "alice", pw["alice"])
		if r.code == http.StatusOK || time.Now().After(deadline) {
			break
		}
		<-tick.C
	}
	allowed("alice after the directory restarted", r, "alice", "/up")

	// Misconfigured ldap providers are refused; corp stays as it was.
	revision := func() string {
		t.Helper()
		var got struct {
			Revision json.Number `json:"revision"`
		}
		out := e.mustCtl("topology", "get", "corp", "-o", "json")
		if err := json.Unmarshal([]byte(out), &got); err != nil || got.Revision == "" {
			t.Fatalf("topology get corp -o json: %v\n%s", err, out)
		}
		if !strings.Contains(out, "${alias:ldap-bind}") || strings.Contains(out, dir.ServicePassword) {
			t.Errorf("topology get corp does not show the alias reference, or shows the password:\n%s", out)
		}
		return got.Revision.String()
	}
	rev := revision()
	for _, bad := range []struct{ name, param, doc string }{
		{"plain-text bind password", "bind_password",
			strings.Replace(ldapTopologyDoc(dir.URL, backend, ""), "${alias:ldap-bind}", fmt.Sprintf("%q", dir.ServicePassword), 1)},
		{"DN template without {0}", "user_dn_template",
			strings.Replace(ldapTopologyDoc(dir.URL, backend, "      user_dn_template: uid=alice,"+ldaptest.PeopleDN+"\n"),
				"      search_base: "+fmt.Sprintf("%q", ldaptest.Suffix)+"\n", "", 1)},
	} {
		out, errOut, code := e.ctl("", "topology", "deploy", writeFile(t, "bad.yaml", bad.doc))
		if code == 0 || !strings.Contains(errOut, bad.param) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want a one-line refusal naming %s", bad.name, code, out, errOut, bad.param)
		}
		if strings.Contains(out+errOut, dir.ServicePassword) {
			t.Errorf("%s: gatewayctl prints the service password", bad.name)
		}
		if got := revision(); got != rev {
			t.Errorf("%s: corp went from revision %s to %s", bad.name, rev, got)
		}
	}
	allowed("alice after the refused deploys", get(base+"/echo/e", "alice", pw["alice"]), "alice", "/e")

	// No password, the service account's included, in the daemon's log, in
	// clear or as the Basic credentials that carried it.
	logs := d.logs()
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the daemon's log holds a password (%.10s…)", s)
		}
	}
	for user, p := range pw {
		if strings.Contains(logs, base64.StdEncoding.EncodeToString([]byte(user+":"+p))) {
			t.Errorf("the daemon's log holds %s's Basic credentials", user)
		}
	}
	// The provider's log records are well-formed JSON: one value per key
	// (log processors such as Elasticsearch refuse duplicate keys).
	ldapLines := 0
	for _, line := range strings.Split(logs, "\n") {
		if !strings.Contains(line, `"msg":"ldap: `) {
			continue
		}
		ldapLines++
		if dups, err := duplicateKeys(line); err != nil || len(dups) > 0 {
			t.Errorf("ldap log record with duplicate keys %q (%v): %s", dups, err, line)
			break
		}
	}
	if ldapLines == 0 {
		t.Errorf("the ldap provider logged nothing (not even the outage):\n%s", logs)
	}
	t.Logf("done in %v", time.Since(start))
}
