package proxy_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/internal/webhdfstest"
	"github.com/securegw/gateway/proxy"
	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/frontend"
	"github.com/securegw/gateway/proxy/seal"
)

// fakeClock is a settable clock for the proxy's Host.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// webhdfsTopology publishes a WebHDFS namenode (Knox role WEBHDFS) to
// alice (Basic), asserting her to the backend as user.name.
func webhdfsTopology(t *testing.T, name string, nn string, paths ...string) *topology.Topology {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte("alice-secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	top := &topology.Topology{Name: name, Providers: []topology.Provider{
		{Role: "authentication", Name: "basic", Params: map[string]string{"user.alice": string(hash)}},
		{Role: "identity-assertion", Name: "default", Params: map[string]string{"query_param": "user.name"}},
	}}
	if len(paths) == 0 {
		paths = []string{"webhdfs"}
	}
	for _, p := range paths {
		top.Services = append(top.Services, topology.Service{Role: "WEBHDFS", Path: p, URLs: []string{nn}})
	}
	return top
}

type webhdfsEnv struct {
	*env
	cluster *webhdfstest.Cluster
	clock   *fakeClock
	key     []byte
}

func newWebHDFSEnv(t *testing.T) *webhdfsEnv {
	key := make([]byte, seal.KeySize)
	_, _ = rand.Read(key)
	clock := &fakeClock{t: time.Now()}
	e := newEnv(t, proxy.Config{SealKey: key, Host: chain.Host{Clock: clock}})
	c := webhdfstest.Start(t)
	e.deploy(webhdfsTopology(t, "sandbox", c.NamenodeURL()))
	return &webhdfsEnv{env: e, cluster: c, clock: clock, key: key}
}

func (w *webhdfsEnv) client(userName string) *webhdfstest.Client {
	return &webhdfstest.Client{Base: w.fe.URL + "/gateway/sandbox/webhdfs/v1", HTTP: w.fe.Client(), User: "alice", Pass: "alice-secret", UserName: userName}
}

// The whole WebHDFS API through the gateway with a Go client: the two-step
// CREATE and APPEND and OPEN reach the datanode through sealed gateway
// URLs; the client never sees the datanode's address; the datanode sees
// the asserted user, never the one the client claimed.
func TestWebHDFSThroughGateway(t *testing.T) {
	w := newWebHDFSEnv(t)
	cl := w.client("mallory") // a claimed user.name the gateway must replace
	dn := strings.TrimPrefix(w.cluster.DatanodeURL(), "http://")

	if ok, err := cl.Mkdirs("/user/alice/in"); err != nil || !ok {
		t.Fatalf("MKDIRS: %t %v", ok, err)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 256<<10) // 4 MiB
	created, err := cl.Create("/user/alice/in/data.bin", bytes.NewReader(data), int64(len(data)), false)
	if err != nil {
		t.Fatalf("CREATE: %v", err)
	}
	// The datanode's 201 names the file as hdfs://{namenode RPC
	// address}/…: the client gets the gateway's URL of the file instead
	// (Knox's WEBHDFS outbound rule), never the namenode's address.
	if want := w.fe.URL + "/gateway/sandbox/webhdfs/v1/user/alice/in/data.bin"; created != want {
		t.Fatalf("CREATE answered Location %q, want %q", created, want)
	}
	if err := cl.Append("/user/alice/in/data.bin", strings.NewReader("tail"), 4); err != nil {
		t.Fatalf("APPEND: %v", err)
	}
	rc, err := cl.Open("/user/alice/in/data.bin")
	if err != nil {
		t.Fatalf("OPEN: %v", err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, append(data, "tail"...)) {
		t.Fatalf("OPEN read %d bytes (%v), want %d", len(got), err, len(data)+4)
	}
	st, err := cl.GetFileStatus("/user/alice/in/data.bin")
	if err != nil || st.Owner != "alice" || st.Length != int64(len(data)+4) {
		t.Fatalf("GETFILESTATUS = %+v, %v; want owner alice (the asserted user)", st, err)
	}
	if ok, err := cl.Rename("/user/alice/in/data.bin", "/user/alice/in/renamed.bin"); err != nil || !ok {
		t.Fatalf("RENAME: %t %v", ok, err)
	}
	ls, err := cl.ListStatus("/user/alice/in")
	if err != nil || len(ls) != 1 || ls[0].PathSuffix != "renamed.bin" {
		t.Fatalf("LISTSTATUS = %+v, %v", ls, err)
	}
	if ok, err := cl.Delete("/user/alice", true); err != nil || !ok {
		t.Fatalf("DELETE: %t %v", ok, err)
	}

	// The redirect the client got: a gateway URL, the datanode sealed.
	resp, _ := noRedirect(w.fe.Client()).Do(basicReq(t, http.MethodPut, w.fe.URL+"/gateway/sandbox/webhdfs/v1/x?op=CREATE"))
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusTemporaryRedirect || !strings.HasPrefix(loc, w.fe.URL+"/gateway/sandbox/webhdfs/data/v1/webhdfs/v1/x?_=") {
		t.Fatalf("CREATE redirect: %d %q", resp.StatusCode, loc)
	}
	if strings.Contains(loc, dn) || strings.Contains(loc, "127.0.0.1:"+portOf(dn)) || strings.Contains(loc, "namenoderpcaddress") {
		t.Fatalf("the redirect shows the datanode: %q", loc)
	}
	// Every request reached the datanode as alice.
	reqs := w.cluster.DatanodeRequests()
	if len(reqs) != 3 {
		t.Fatalf("%d datanode requests, want 3 (CREATE, APPEND, OPEN)", len(reqs))
	}
	for _, r := range reqs {
		if u := r.Query["user.name"]; len(u) != 1 || u[0] != "alice" {
			t.Errorf("datanode %s as user.name %q, want alice", r.Query.Get("op"), u)
		}
	}
	for _, r := range w.cluster.NamenodeRequests() {
		if u := r.Query["user.name"]; len(u) != 1 || u[0] != "alice" {
			t.Errorf("namenode %s as user.name %q, want alice", r.Query.Get("op"), u)
		}
	}
	if strings.Contains(w.logs.String(), "alice-secret") {
		t.Error("a password reached the log")
	}
}

// ~ is the home directory of the user the gateway asserts, as Knox's
// WEBHDFS rules make it (/v1/~/… is /v1/user/{user}/…): never the one the
// client claims in user.name; ~ elsewhere in a path is a name like any.
func TestWebHDFSHomeDir(t *testing.T) {
	w := newWebHDFSEnv(t)
	cl := w.client("mallory")
	if ok, err := cl.Mkdirs("/~/in"); err != nil || !ok {
		t.Fatalf("MKDIRS ~/in: %t %v", ok, err)
	}
	if _, err := cl.Create("/~/in/f.txt", strings.NewReader("home"), 4, false); err != nil {
		t.Fatalf("CREATE ~/in/f.txt: %v", err)
	}
	st, err := cl.GetFileStatus("/user/alice/in/f.txt")
	if err != nil || st.Owner != "alice" || st.Length != 4 {
		t.Fatalf("/user/alice/in/f.txt: %+v %v; want alice's 4 bytes", st, err)
	}
	if ls, err := cl.ListStatus("/~"); err != nil || len(ls) != 1 || ls[0].PathSuffix != "in" {
		t.Fatalf("LISTSTATUS ~ = %+v, %v; want [in]", ls, err)
	}
	if _, err := cl.GetFileStatus("/user/mallory"); err == nil {
		t.Fatal("~ followed the client's user.name")
	}
	if ok, err := cl.Mkdirs("/~x/~"); err != nil || !ok {
		t.Fatalf("MKDIRS ~x/~: %t %v", ok, err)
	}
	if _, err := cl.GetFileStatus("/~x/~"); err != nil {
		t.Fatalf("a ~ that is not the home shortcut was mapped: %v", err)
	}
}

func portOf(hostport string) string { return hostport[strings.LastIndexByte(hostport, ':')+1:] }

func noRedirect(c *http.Client) *http.Client {
	cc := *c
	cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cc
}

func basicReq(t *testing.T, method, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("alice", "alice-secret")
	return req
}

// curl -L -T uploads through the two steps and curl -L downloads: what a
// Knox user types.
func TestWebHDFSCurl(t *testing.T) {
	w := newWebHDFSEnv(t)
	curlWebHDFS(t, w.fe.URL+"/gateway/sandbox/webhdfs/v1")
}

// TestWebHDFSCurlHTTP2: the same over TLS, where curl speaks HTTP/2 and
// sends the file with the first PUT (no Expect: 100-continue there). The
// namenode answers that PUT with its redirect before reading the body; the
// gateway then reads the rest of the body before it ends the stream:
// curl 7.88 (Debian 12's) fails an upload whose stream is reset while it
// still sends (exit 92) instead of following the redirect.
func TestWebHDFSCurlHTTP2(t *testing.T) {
	w := newWebHDFSEnv(t)
	fe := httptest.NewUnstartedServer(w.p)
	fe.EnableHTTP2 = true
	fe.StartTLS()
	t.Cleanup(fe.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: fe.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	curlWebHDFS(t, fe.URL+"/gateway/sandbox/webhdfs/v1", "--http2", "--cacert", ca)
}

// curlWebHDFS makes a directory, uploads 3 MiB with curl -L -T, downloads
// them with curl -L and lists the directory, through base (the gateway's
// WebHDFS URL), with extra curl arguments.
func curlWebHDFS(t *testing.T, base string, extra ...string) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is not installed: run scripts/test-deps.sh")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "up.bin")
	data := make([]byte, 3<<20+17)
	_, _ = rand.Read(data)
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	curl := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		args = append(append([]string{"-sS", "-f", "-u", "alice:alice-secret"}, extra...), args...)
		out, err := exec.CommandContext(ctx, "curl", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %q: %v\n%s", args, err, out)
		}
		return string(out)
	}
	curl("-X", "PUT", base+"/tmp?op=MKDIRS")
	if v := curl("-L", "-T", src, "-o", os.DevNull, "-w", "%{http_version} %{http_code}", base+"/tmp/up.bin?op=CREATE&overwrite=true"); !strings.HasSuffix(v, " 201") {
		t.Fatalf("upload answered %q, want 201", v)
	} else if slices.Contains(extra, "--http2") && !strings.HasPrefix(v, "2 ") {
		t.Fatalf("upload went over HTTP %q, want 2", v)
	}
	down := filepath.Join(dir, "down.bin")
	curl("-L", "-o", down, base+"/tmp/up.bin?op=OPEN")
	got, err := os.ReadFile(down)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("downloaded %d bytes (%v), want the %d uploaded", len(got), err, len(data))
	}
	if out := curl(base + "/tmp?op=LISTSTATUS"); !strings.Contains(out, `"pathSuffix":"up.bin"`) || !strings.Contains(out, `"owner":"alice"`) {
		t.Fatalf("LISTSTATUS: %s", out)
	}
}

// A sealed URL works only as the gateway issued it: forged, altered,
// expired, or moved to another topology or service, it is refused with 403
// and nothing reaches any datanode.
func TestSealedDatanodeURLRefused(t *testing.T) {
	w := newWebHDFSEnv(t)
	// The same namenode in a second topology, and twice in a third.
	w.deploy(webhdfsTopology(t, "other", w.cluster.NamenodeURL()))
	w.deploy(webhdfsTopology(t, "two", w.cluster.NamenodeURL(), "webhdfs", "hdfs2"))
	cl := w.client("")
	if _, err := cl.Mkdirs("/d"); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Create("/d/f", strings.NewReader("x"), 1, false); err != nil {
		t.Fatal(err)
	}
	before := len(w.cluster.DatanodeRequests())
	sealedURL := func(topo, svc string) *url.URL {
		resp, err := noRedirect(w.fe.Client()).Do(basicReq(t, http.MethodGet, w.fe.URL+"/gateway/"+topo+"/"+svc+"/v1/d/f?op=OPEN"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		u, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || resp.StatusCode != http.StatusTemporaryRedirect {
			t.Fatalf("OPEN: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		return u
	}
	tok := sealedURL("sandbox", "webhdfs").Query().Get("_")
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	flipped := bytes.Clone(raw)
	flipped[len(flipped)/2] ^= 0x01
	otherKey, _ := seal.New(bytes.Repeat([]byte{7}, seal.KeySize), time.Hour)
	forged, _ := otherKey.Seal("sandbox\x00webhdfs", w.cluster.DatanodeURL()+"/webhdfs/v1/d/f?op=OPEN&namenoderpcaddress=x")
	ownKey, _ := seal.New(w.key, time.Hour)
	metadata, _ := ownKey.Seal("sandbox\x00webhdfs", "http://169.254.169.254/latest/meta-data/")
	twoTok := sealedURL("two", "webhdfs").Query().Get("_")

	tests := []struct{ name, path string }{
		{"flipped byte", "/gateway/sandbox/webhdfs/data/v1/d/f?_=" + base64.RawURLEncoding.EncodeToString(flipped)},
		{"forged with another key", "/gateway/sandbox/webhdfs/data/v1/d/f?_=" + forged},
		{"moved to another topology", "/gateway/other/webhdfs/data/v1/d/f?_=" + tok},
		{"moved to another service", "/gateway/two/hdfs2/data/v1/d/f?_=" + twoTok},
		{"plain target URL", "/gateway/sandbox/webhdfs/data/v1/d/f?_=" + url.QueryEscape(w.cluster.DatanodeURL()+"/webhdfs/v1/d/f?op=OPEN")},
		{"no token", "/gateway/sandbox/webhdfs/data/v1/d/f?op=OPEN"},
		{"two tokens", "/gateway/sandbox/webhdfs/data/v1/d/f?_=" + tok + "&_=" + tok},
		{"metadata target sealed with the key", "/gateway/sandbox/webhdfs/data/v1/x?_=" + metadata},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := w.do(http.MethodGet, tt.path, nil, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("alice:alice-secret")))
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "invalid or expired datanode URL") {
				t.Fatalf("%d %s, want 403", resp.StatusCode, body)
			}
		})
	}
	// Unauthenticated, even a good token gets 401 first.
	if resp, _ := w.get("/gateway/sandbox/webhdfs/data/v1/d/f?_=" + tok); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no credentials: %d, want 401", resp.StatusCode)
	}
	// Replayed after expiry.
	w.clock.add(proxy.DefaultSealTTL + time.Second)
	resp, body := w.do(http.MethodGet, "/gateway/sandbox/webhdfs/data/v1/d/f?_="+tok, nil, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("alice:alice-secret")))
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("expired: %d %s, want 403", resp.StatusCode, body)
	}
	if n := len(w.cluster.DatanodeRequests()); n != before {
		t.Fatalf("%d requests reached the datanode after the refusals", n-before)
	}
	for _, want := range []string{"sealed datanode URL refused", "has expired", "forged"} {
		if !strings.Contains(w.logs.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
}

// A namenode redirecting to the cloud metadata address or to a file: URL
// gets the client a 502, with the reason in the log; the client never
// sees the target.
func TestDatanodeRedirectToForbiddenTarget(t *testing.T) {
	for _, tt := range []struct{ name, target, log string }{
		{"metadata", "http://169.254.169.254", "link-local"},
		// Spellings getaddrinfo reads as 169.254.169.254 (Go's cgo
		// resolver passes them to it).
		{"metadata as one number", "http://2852039166", "link-local"},
		{"metadata in hex and short form", "http://0xa9.254.43518", "link-local"},
		{"metadata in octal", "http://0251.0376.0251.0376", "link-local"},
		{"unspecified as zero", "http://0", "unspecified"},
		{"not a host a browser reads", "http://1.2.3.256", "not a valid URL host"},
		{"file", "file://", `scheme \"file\"`},
		{"user info", "http://u:p@dn.example", "user info"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWebHDFSEnv(t)
			w.cluster.RedirectTo(tt.target)
			cl := w.client("")
			if _, err := cl.Mkdirs("/d"); err != nil {
				t.Fatal(err)
			}
			resp, err := noRedirect(w.fe.Client()).Do(basicReq(t, http.MethodPut, w.fe.URL+"/gateway/sandbox/webhdfs/v1/d/f?op=CREATE"))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadGateway || resp.Header.Get("Location") != "" || strings.Contains(string(body), "169.254") {
				t.Fatalf("%d Location %q %s, want 502 without it", resp.StatusCode, resp.Header.Get("Location"), body)
			}
			if !strings.Contains(w.logs.String(), tt.log) {
				t.Fatalf("log lacks %q:\n%s", tt.log, w.logs.String())
			}
		})
	}
}

// Under noredirect=true the namenode answers the datanode URL as JSON; the
// gateway seals it there too, and the URL works.
func TestWebHDFSNoRedirectJSON(t *testing.T) {
	w := newWebHDFSEnv(t)
	cl := w.client("")
	if _, err := cl.Mkdirs("/d"); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Create("/d/f", strings.NewReader("hello"), 5, false); err != nil {
		t.Fatal(err)
	}
	resp, err := w.fe.Client().Do(basicReq(t, http.MethodGet, w.fe.URL+"/gateway/sandbox/webhdfs/v1/d/f?op=OPEN&noredirect=true"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Location string }
	err = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if err != nil || !strings.HasPrefix(doc.Location, w.fe.URL+"/gateway/sandbox/webhdfs/data/v1/webhdfs/v1/d/f?_=") {
		t.Fatalf("Location %q (%v)", doc.Location, err)
	}
	resp, err = w.fe.Client().Do(basicReq(t, http.MethodGet, doc.Location))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "hello" {
		t.Fatalf("OPEN through the JSON Location: %d %q", resp.StatusCode, b)
	}
}

// A namenode that refuses-worthy redirects a CREATE before it read the
// body: the client gets its 502 while still sending, then hangs up. The
// answer does not depend on (and does not race with) the body's writer,
// which is still reading the client's body (run with -race), on either
// front: net/http's waited for the writer's read, which waited for the
// client, until the stall bound.
func TestRefusedRedirectWhileBodyInFlight(t *testing.T) {
	for _, kind := range []string{frontend.KindLean, frontend.KindNetHTTP} {
		t.Run(kind, func(t *testing.T) {
			t.Setenv("GATEWAY_TEST_FRONT", kind)
			testRefusedRedirectWhileBodyInFlight(t)
		})
	}
}

func testRefusedRedirectWhileBodyInFlight(t *testing.T) {
	w := newWebHDFSEnv(t)
	w.cluster.RedirectTo("http://169.254.169.254")
	if _, err := w.client("").Mkdirs("/d"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		c, err := net.Dial("tcp", w.addr())
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		auth := base64.StdEncoding.EncodeToString([]byte("alice:alice-secret"))
		head := "PUT /gateway/sandbox/webhdfs/v1/d/f?op=CREATE HTTP/1.1\r\nHost: gw\r\nAuthorization: Basic " + auth +
			"\r\nContent-Length: 1048576\r\n\r\n"
		if _, err := c.Write(append([]byte(head), make([]byte, 100<<10)...)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		c.Close() // the rest of the body never comes
		if resp.StatusCode != http.StatusBadGateway || strings.Contains(string(body), "169.254") {
			t.Fatalf("%d %s, want 502 without the target", resp.StatusCode, body)
		}
	}
}
