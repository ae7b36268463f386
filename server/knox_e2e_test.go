package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/keytab"

	"github.com/securegw/gateway/internal/webhdfstest"
	"github.com/securegw/gateway/internal/yarntest"
)

// knoxWebHDFS is a Knox topology as Knox users write it: the WEBHDFS role
// at the namenode's /webhdfs URL, nothing of ours; the asserted user goes
// as user.name because Knox's Default identity assertion sends it so.
func knoxWebHDFS(nn string) string {
	return `<topology>
  <gateway>
    <provider><role>authentication</role><name>Anonymous</name><enabled>true</enabled></provider>
    <provider><role>identity-assertion</role><name>Default</name><enabled>true</enabled></provider>
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

	loc := sealedOpen(t, hc, c.Base+"/tmp/f?op=OPEN")
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := d.wait(t, 30*time.Second); err != nil {
		t.Fatalf("gatewayd exit: %v", err)
	}
	d = e.start()
	loc.Host = d.proxy
	resp, err := hc.Get(loc.String())
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

// The datanode sealing key derives from the data key. A plain `gatewayctl
// master rotate` keeps the data key: URLs sealed before it stay valid,
// restart included. After `master rotate --new-data-key`, new URLs are
// sealed under the key derived from the new data key (a gateway restarted
// with the new secret opens them), and a URL sealed before keeps working
// in the same process until it expires; a restart, which has only the new
// key, refuses it with 403.
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
	open := func() *url.URL { t.Helper(); return sealedOpen(t, hc, c.Base+"/f?op=OPEN") }
	read := func(loc *url.URL) (int, string) {
		t.Helper()
		loc.Host = d.proxy
		return httpGet(t, hc, loc.String())
	}
	plain := open()
	rewrapped := writeFile(t, "rewrapped-master", "a-new-master-secret-for-sealing-0003\n")
	e.mustCtl("master", "rotate", "--current-secret-file", e.secret, "--new-secret-file", rewrapped)
	e.secret = rewrapped
	d.stop(t)
	d = e.start()
	c.Base = "https://" + d.proxy + "/gateway/hadoop/webhdfs/v1"
	if code, body := read(plain); code != http.StatusOK || body != data {
		t.Fatalf("a URL sealed before a plain master rotation (same data key), after a restart: %d, %d bytes", code, len(body))
	}

	before := open()
	newSecret := writeFile(t, "new-master", "a-new-master-secret-for-sealing-0004\n")
	e.mustCtl("master", "rotate", "--new-data-key", "--current-secret-file", e.secret, "--new-secret-file", newSecret)
	e.secret = newSecret
	if code, body := read(before); code != http.StatusOK || body != data {
		t.Fatalf("a URL sealed before the rotation, right after it: %d, %d bytes", code, len(body))
	}
	after := open()
	if code, body := read(after); code != http.StatusOK || body != data {
		t.Fatalf("a URL sealed after the rotation: %d, %d bytes", code, len(body))
	}

	d.stop(t)
	d = e.start()
	if code, body := read(after); code != http.StatusOK || body != data {
		t.Fatalf("a URL sealed after the rotation, after a restart with the new secret: %d, %d bytes (not sealed under the new data key)", code, len(body))
	}
	if code, _ := read(before); code != http.StatusForbidden {
		t.Fatalf("a URL sealed under the old data key, after a restart: %d, want 403", code)
	}
}

// sealedOpen sends a WebHDFS OPEN without following its redirect and
// returns the Location: a sealed datanode URL under the gateway.
func sealedOpen(t *testing.T, hc *http.Client, openURL string) *url.URL {
	t.Helper()
	noFollow := *hc
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noFollow.Get(openURL)
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

// A Knox topology enabling the HaProvider for WEBHDFS on two namenodes
// deploys with gatewayctl (its unhonoured settings are warnings), and
// with nn1 standby every operation succeeds through gatewayd via nn2,
// whose safe-mode refusals (maxRetryAttempts, retrySleep) are retried.
func TestKnoxHaProviderWebHDFSStandby(t *testing.T) {
	e := newEnv(t)
	d := e.start()
	nn1, nn2 := webhdfstest.Start(t), webhdfstest.Start(t)
	nn1.SetStandby(true)
	nn2.SetSafeMode(2, true) // the active namenode is starting up
	doc := `<topology>
  <gateway>
    <provider><role>authentication</role><name>Anonymous</name><enabled>true</enabled></provider>
    <provider><role>identity-assertion</role><name>Default</name><enabled>true</enabled></provider>
    <provider><role>ha</role><name>HaProvider</name><enabled>true</enabled>
      <param><name>WEBHDFS</name><value>maxFailoverAttempts=3;failoverSleep=1000;maxRetryAttempts=300;retrySleep=10;enabled=true</value></param>
    </provider>
  </gateway>
  <service><role>WEBHDFS</role><url>` + nn1.NamenodeURL() + `</url><url>` + nn2.NamenodeURL() + `</url></service>
</topology>`
	out, errOut, code := e.ctl("", "topology", "deploy", writeFile(t, "hadoop.xml", doc))
	if code != 0 || !strings.Contains(out+errOut, "failoverSleep=1000") || !strings.Contains(out+errOut, "maxRetryAttempts=300 capped at 10") {
		t.Fatalf("deploy: exit %d, want 0 with warnings naming failoverSleep and the capped maxRetryAttempts\n%s%s", code, out, errOut)
	}
	out, errOut, code = e.ctl("", "topology", "get", "hadoop", "-o", "yaml")
	if code != 0 || !strings.Contains(out, "safe_mode_retries: 10") || !strings.Contains(out, "safe_mode_retry_sleep: 10ms") {
		t.Fatalf("get: exit %d, want the safe-mode retries\n%s%s", code, out, errOut)
	}
	c := &webhdfstest.Client{Base: "https://" + d.proxy + "/gateway/hadoop/webhdfs/v1", HTTP: e.httpClient()}
	// Failed over from the standby, then retried twice on nn2 in safe mode.
	if ok, err := c.Mkdirs("/tmp"); err != nil || !ok {
		t.Fatalf("MKDIRS: %t %v", ok, err)
	}
	mkdirs := 0
	for _, r := range nn2.NamenodeRequests() {
		if r.Query.Get("op") == "MKDIRS" {
			mkdirs++
		}
	}
	if mkdirs != 3 {
		t.Errorf("nn2 got %d MKDIRS, want 3 (2 refused in safe mode, then served)", mkdirs)
	}
	if ls, err := c.ListStatus("/"); err != nil || len(ls) != 1 {
		t.Fatalf("LISTSTATUS: %+v %v", ls, err)
	}
	if _, err := c.Create("/tmp/f", strings.NewReader("ha"), 2, false); err != nil {
		t.Fatalf("CREATE: %v", err)
	}
	rc, err := c.Open("/tmp/f")
	if err != nil {
		t.Fatalf("OPEN: %v", err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != "ha" || len(nn1.NamenodeRequests()) == 0 {
		t.Fatalf("OPEN read %q; nn1 asked %d times", got, len(nn1.NamenodeRequests()))
	}
}

// A Knox topology enabling the HaProvider for RESOURCEMANAGER and YARNUI
// on two ResourceManagers deploys with gatewayctl; with rm1 standby, REST
// and UI requests are served through gatewayd by rm2 (the standby's
// redirect, naming rm2's address, never reaches the client); with both
// standby the client gets 503.
func TestKnoxHaProviderResourceManagerStandby(t *testing.T) {
	e := newEnv(t)
	d := e.start()
	rm1, rm2 := yarntest.Start(t, "rm1"), yarntest.Start(t, "rm2")
	rm1.SetStandby(rm2)
	doc := `<topology>
  <gateway>
    <provider><role>authentication</role><name>Anonymous</name><enabled>true</enabled></provider>
    <provider><role>identity-assertion</role><name>Default</name><enabled>true</enabled></provider>
    <provider><role>ha</role><name>HaProvider</name><enabled>true</enabled>
      <param><name>RESOURCEMANAGER</name><value>maxFailoverAttempts=3;failoverSleep=1000;enabled=true</value></param>
      <param><name>YARNUI</name><value>enabled=true</value></param>
    </provider>
  </gateway>
  <service><role>RESOURCEMANAGER</role><url>` + rm1.URL() + `/ws</url><url>` + rm2.URL() + `/ws</url></service>
  <service><role>YARNUI</role><url>` + rm1.URL() + `</url><url>` + rm2.URL() + `</url></service>
</topology>`
	out, errOut, code := e.ctl("", "topology", "deploy", writeFile(t, "yarn.xml", doc))
	if code != 0 || !strings.Contains(out+errOut, "failoverSleep=1000") {
		t.Fatalf("deploy: exit %d, want 0 with a warning naming failoverSleep\n%s%s", code, out, errOut)
	}
	out, errOut, code = e.ctl("", "topology", "get", "yarn", "-o", "yaml")
	if code != 0 || strings.Count(out, "failover_on_standby: true") != 2 {
		t.Fatalf("get: exit %d, want failover_on_standby on both services\n%s%s", code, out, errOut)
	}
	hc := e.httpClient()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := hc.Get("https://" + d.proxy + "/gateway/yarn/" + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, rm := range []*yarntest.RM{rm1, rm2} {
			addr := strings.TrimPrefix(rm.URL(), "http://")
			if strings.Contains(string(b), addr) || strings.Contains(resp.Header.Get("Location"), addr) {
				t.Errorf("GET %s: the answer names %s (%s): %q", path, rm.Name(), resp.Header.Get("Location"), b)
			}
		}
		return resp, string(b)
	}
	if resp, body := get("resourcemanager/v1/cluster/apps"); resp.StatusCode != 200 || !strings.Contains(body, `"apps"`) {
		t.Fatalf("REST: %d %q, want rm2's apps", resp.StatusCode, body)
	}
	if resp, body := get("yarn/cluster/apps"); resp.StatusCode != 200 || !strings.Contains(body, "<h1>rm2</h1>") {
		t.Fatalf("UI: %d %q, want rm2's page", resp.StatusCode, body)
	}
	if len(rm1.Requests()) == 0 {
		t.Error("rm1 was never asked")
	}
	// A POST with a body cannot be replayed: not failed over, 503.
	resp, err := hc.Post("https://"+d.proxy+"/gateway/yarn/resourcemanager/v1/cluster/apps/new-application", "application/json", strings.NewReader(`{"application-name":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || len(rm2.Apps()) != 0 {
		t.Fatalf("POST to the standby: %d (%s), rm2 created %v: want 503 and nothing created", resp.StatusCode, resp.Proto, rm2.Apps())
	}
	rm2.SetStandby(rm1)
	if resp, body := get("resourcemanager/v1/cluster/apps"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("both standby: %d %q, want 503", resp.StatusCode, body)
	}
}

// A malformed HaProvider setting refuses the deploy, naming it.
func TestKnoxHaProviderMalformedRefused(t *testing.T) {
	e := newEnv(t)
	e.start()
	doc := `<topology><gateway>
    <provider><role>authentication</role><name>Anonymous</name><enabled>true</enabled></provider>
    <provider><role>ha</role><name>HaProvider</name><enabled>true</enabled>
      <param><name>WEBHDFS</name><value>maxFailoverAttempts=three;enabled=true</value></param></provider>
  </gateway>
  <service><role>WEBHDFS</role><url>http://nn1:50070/webhdfs</url><url>http://nn2:50070/webhdfs</url></service>
</topology>`
	out, errOut, code := e.ctl("", "topology", "deploy", writeFile(t, "hadoop.xml", doc))
	if code == 0 || !strings.Contains(errOut, `params["WEBHDFS"]`) || !strings.Contains(errOut, `maxFailoverAttempts: "three" is not a non-negative integer`) {
		t.Fatalf("deploy: exit %d\n%s%s\nwant refused naming maxFailoverAttempts", code, out, errOut)
	}
	if _, _, code := e.ctl("", "topology", "get", "hadoop"); code == 0 {
		t.Errorf("the refused topology exists")
	}
}

// A Knox topology whose gateway authenticates to Kerberized backends (the
// kerberos dispatch) but sends the user as user.name deploys with a
// warning naming the service and doAs: Kerberized Hadoop would ignore
// user.name and act as the gateway's principal. With doAs, no warning.
func TestKnoxKerberosDispatchUserNameWarned(t *testing.T) {
	e := newEnv(t)
	e.start()
	// The dispatch reads its keytab at deploy and asks the KDC only at the
	// first request: a keytab made here is enough.
	kt := keytab.New()
	if err := kt.AddEntry("knox/gateway", "EXAMPLE.TEST", "gateway-password", time.Now(), 1, etypeID.AES256_CTS_HMAC_SHA1_96); err != nil {
		t.Fatal(err)
	}
	b, err := kt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	e.mustCtl("alias", "create", "gw-keytab", "--from-file", writeFile(t, "gw.keytab", string(b)))
	doc := func(queryParam string) string {
		return `<topology>
  <gateway>
    <provider><role>authentication</role><name>Anonymous</name><enabled>true</enabled></provider>
    <provider><role>identity-assertion</role><name>Default</name><enabled>true</enabled>
      <param><name>query_param</name><value>` + queryParam + `</value></param></provider>
    <provider><role>dispatch</role><name>kerberos</name><enabled>true</enabled>
      <param><name>principal</name><value>knox/gateway@EXAMPLE.TEST</value></param>
      <param><name>keytab</name><value>${alias:gw-keytab}</value></param>
      <param><name>kdc</name><value>127.0.0.1:1</value></param></provider>
  </gateway>
  <service><role>NAMENODE</role><url>hdfs://localhost:8020</url></service>
  <service><role>WEBHDFS</role><url>http://127.0.0.1:1/webhdfs</url></service>
</topology>`
	}
	out, errOut, code := e.ctl("", "topology", "deploy", writeFile(t, "hadoop.xml", doc("user.name")))
	if code != 0 || !strings.Contains(errOut, `warning: service "webhdfs": the kerberos dispatch authenticates the gateway to the backend`) ||
		!strings.Contains(errOut, `query_param "user.name"`) || !strings.Contains(errOut, "set query_param: doAs") {
		t.Fatalf("deploy with user.name: exit %d, want 0 with a warning naming webhdfs and doAs\n%s%s", code, out, errOut)
	}
	out, errOut, code = e.ctl("", "topology", "deploy", writeFile(t, "hadoop.xml", doc("doAs")))
	if code != 0 || strings.Contains(errOut, "warning") {
		t.Fatalf("deploy with doAs: exit %d, want 0 without a warning\n%s%s", code, out, errOut)
	}
}
