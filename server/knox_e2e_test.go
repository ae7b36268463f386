package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/securegw/gateway/internal/webhdfstest"
)

// knoxWebHDFS is a Knox topology as Knox users write it: the WEBHDFS role
// at the namenode's /webhdfs URL, the asserted user sent as user.name.
func knoxWebHDFS(nn string) string {
	return `<topology>
  <gateway>
    <provider><role>authentication</role><name>Anonymous</name><enabled>true</enabled></provider>
    <provider><role>identity-assertion</role><name>Default</name><enabled>true</enabled>
      <param><name>query_param</name><value>user.name</value></param></provider>
  </gateway>
  <service><role>NAMENODE</role><url>hdfs://localhost:8020</url></service>
  <service><role>WEBHDFS</role><url>` + nn + `</url></service>
</topology>`
}

// A Knox WEBHDFS topology deployed with gatewayctl: the Go WebHDFS client
// writes and reads through gatewayd's sealed datanode URLs, and a sealed
// URL issued before a restart still works after it (its key derives from
// the keyring, not from the process).
func TestKnoxWebHDFSThroughGatewayd(t *testing.T) {
	e := newEnv(t)
	d := e.start()
	cl := webhdfstest.Start(t)
	e.mustCtl("topology", "deploy", writeFile(t, "hadoop.xml", knoxWebHDFS(cl.NamenodeURL())))
	hc := e.httpClient()
	c := &webhdfstest.Client{Base: "https://" + d.proxy + "/gateway/hadoop/webhdfs/v1", HTTP: hc}
	if _, err := c.Mkdirs("/tmp"); err != nil {
		t.Fatal(err)
	}
	data := strings.Repeat("knox ", 200000)
	if _, err := c.Create("/tmp/f", strings.NewReader(data), int64(len(data)), false); err != nil {
		t.Fatalf("CREATE: %v", err)
	}
	rc, err := c.Open("/tmp/f")
	if err != nil {
		t.Fatalf("OPEN: %v", err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != data {
		t.Fatalf("OPEN read %d bytes, want %d", len(got), len(data))
	}
	st, err := c.GetFileStatus("/tmp/f")
	if err != nil || st.Owner != "anonymous" {
		t.Fatalf("GETFILESTATUS %+v %v: want the asserted user as owner", st, err)
	}

	noFollow := *hc
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noFollow.Get(c.Base + "/tmp/f?op=OPEN")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusTemporaryRedirect || !strings.HasPrefix(loc.Path, "/gateway/hadoop/webhdfs/data/v1/") {
		t.Fatalf("OPEN: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := d.wait(t, 30*time.Second); err != nil {
		t.Fatalf("gatewayd exit: %v", err)
	}
	d = e.start()
	loc.Host = d.proxy
	resp, err = hc.Get(loc.String())
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(got) != data {
		t.Fatalf("sealed URL after a restart: %d, %d bytes", resp.StatusCode, len(got))
	}
	// Tampered, it is refused by the new process too.
	q := loc.Query()
	tok := []byte(q.Get("_"))
	tok[len(tok)/2] ^= 1
	q.Set("_", string(tok))
	loc.RawQuery = q.Encode()
	if code, _ := httpGet(t, hc, loc.String()); code != http.StatusForbidden {
		t.Fatalf("tampered sealed URL: %d, want 403", code)
	}
}

// `gatewayctl master rotate` re-wraps the data key: sealed datanode URLs
// stay valid, also after a restart with the new secret. With
// --new-data-key, new URLs are sealed under the key derived from the new
// data key (a gateway restarted with the new secret opens them), and a URL
// sealed before keeps working in the same process until it expires; a
// restart, which has only the new key, refuses it with 403.
func TestSealedDatanodeURLsFollowMasterRotation(t *testing.T) {
	e := newEnv(t)
	d := e.start()
	cl := webhdfstest.Start(t)
	e.mustCtl("topology", "deploy", writeFile(t, "hadoop.xml", knoxWebHDFS(cl.NamenodeURL())))
	hc := e.httpClient()
	c := &webhdfstest.Client{Base: "https://" + d.proxy + "/gateway/hadoop/webhdfs/v1", HTTP: hc}
	data := strings.Repeat("rotate ", 1000)
	if _, err := c.Create("/f", strings.NewReader(data), int64(len(data)), false); err != nil {
		t.Fatalf("CREATE: %v", err)
	}
	noFollow := *hc
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	sealedOpen := func() *url.URL {
		t.Helper()
		resp, err := noFollow.Get("https://" + d.proxy + "/gateway/hadoop/webhdfs/v1/f?op=OPEN")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || resp.StatusCode != http.StatusTemporaryRedirect || !strings.HasPrefix(loc.Path, "/gateway/hadoop/webhdfs/data/v1/") {
			t.Fatalf("OPEN: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		return loc
	}
	read := func(what string, loc *url.URL, want int) {
		t.Helper()
		loc.Host = d.proxy
		code, body := httpGet(t, hc, loc.String())
		if code != want || want == http.StatusOK && body != data {
			t.Fatalf("%s: %d, %d bytes; want %d", what, code, len(body), want)
		}
	}
	rotate := func(name string, more ...string) {
		t.Helper()
		newSecret := writeFile(t, name, "a-new-master-secret-for-sealing-"+name+"\n")
		e.mustCtl(append([]string{"master", "rotate", "--current-secret-file", e.secret, "--new-secret-file", newSecret}, more...)...)
		e.secret = newSecret
	}
	restart := func() {
		t.Helper()
		d.stop(t)
		d = e.start()
	}

	first := sealedOpen()
	rotate("rewrap")
	read("a URL sealed before a re-wrapping rotation", first, http.StatusOK)
	restart()
	read("a URL sealed before a re-wrapping rotation, after a restart", first, http.StatusOK)

	before := sealedOpen()
	rotate("newkey", "--new-data-key")
	read("a URL sealed before a rotation of the data key, right after it", before, http.StatusOK)
	after := sealedOpen()
	read("a URL sealed after the rotation of the data key", after, http.StatusOK)
	restart()
	read("a URL sealed after the rotation of the data key, after a restart (sealed under the new key)", after, http.StatusOK)
	read("a URL sealed under the old data key, after a restart", before, http.StatusForbidden)
}
