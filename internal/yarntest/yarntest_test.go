package yarntest

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// noFollow is a client that shows redirects instead of following them.
var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := noFollow.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// A standby answers as Hadoop's RMWebAppFilter: a 307 to the active RM
// with "This is standby RM", or, knowing no active RM, a 307 with Refresh
// (and a 200 once the client came back too often); older Hadoop 2
// releases' standby a 200 with Refresh;
// the cluster info and the /cluster page are its own answers.
func TestStandbyAnswers(t *testing.T) {
	rm1, rm2 := Start(t, "rm1"), Start(t, "rm2")
	rm1.SetStandby(rm2)
	resp, body := get(t, rm1.URL()+"/ws/v1/cluster/apps?states=RUNNING")
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != rm2.URL()+"/ws/v1/cluster/apps?states=RUNNING" ||
		!strings.HasPrefix(body, "This is standby RM. The redirect url is: "+rm2.URL()) {
		t.Fatalf("standby: %d %q %q", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	if resp, body := get(t, rm1.URL()+"/ws/v1/cluster/info"); resp.StatusCode != 200 || !strings.Contains(body, `"haState":"STANDBY"`) {
		t.Fatalf("standby info: %d %q", resp.StatusCode, body)
	}
	rm1.SetStandby(nil)
	resp, body = get(t, rm1.URL()+"/cluster/apps")
	if resp.StatusCode != http.StatusTemporaryRedirect || !strings.HasPrefix(resp.Header.Get("Refresh"), "5;url="+rm1.URL()+"/cluster/apps") ||
		resp.Header.Get("Location") != "" || !strings.HasPrefix(body, "Can not find any active RM") {
		t.Fatalf("no active: %d %q", resp.StatusCode, body)
	}
	// The client that comes back counts up next.refresh.interval; past 5
	// (a wait over 300 s) the standby gives up, with 200.
	resp, body = get(t, rm1.URL()+"/cluster/apps?next.refresh.interval=5")
	if resp.StatusCode != http.StatusTemporaryRedirect || !strings.HasPrefix(resp.Header.Get("Refresh"), "160;url="+rm1.URL()+"/cluster/apps?next.refresh.interval=6") {
		t.Fatalf("no active, 5th retry: %d %q %q", resp.StatusCode, resp.Header.Get("Refresh"), body)
	}
	if resp, _ := get(t, rm1.URL()+"/cluster/apps?next.refresh.interval=-1"); resp.StatusCode != http.StatusTemporaryRedirect ||
		!strings.HasPrefix(resp.Header.Get("Refresh"), "2;url=") {
		t.Fatalf("no active, interval -1: %d %q, want a 307 after 2 s", resp.StatusCode, resp.Header.Get("Refresh"))
	}
	for _, n := range []string{"6", "2000", "x", ""} {
		resp, body = get(t, rm1.URL()+"/cluster/apps?next.refresh.interval="+n)
		if resp.StatusCode != 200 || resp.Header.Get("Refresh") != "" || !strings.HasPrefix(body, "There is no active RM right now.\n") {
			t.Fatalf("no active, interval %s: %d %q %q", n, resp.StatusCode, resp.Header.Get("Refresh"), body)
		}
	}
	// Older Hadoop 2 releases: 200, Refresh on the request's path (no
	// query) on the active RM, or alone.
	rm1.SetLegacyStandby(rm2)
	resp, body = get(t, rm1.URL()+"/ws/v1/cluster/apps?states=RUNNING")
	if resp.StatusCode != 200 || resp.Header.Get("Refresh") != "3; url="+rm2.URL()+"/ws/v1/cluster/apps" || resp.Header.Get("Location") != "" ||
		body != "This is standby RM. Redirecting to the current active RM: "+rm2.URL()+"/ws/v1/cluster/apps\n" {
		t.Fatalf("legacy standby: %d %q %q", resp.StatusCode, resp.Header.Get("Refresh"), body)
	}
	rm1.SetLegacyStandby(nil)
	if resp, body := get(t, rm1.URL()+"/cluster/apps"); resp.StatusCode != 200 || resp.Header.Get("Refresh") != "3; url=/cluster/apps" ||
		!strings.HasPrefix(body, "This is standby RM. ") {
		t.Fatalf("legacy standby, no active: %d %q %q", resp.StatusCode, resp.Header.Get("Refresh"), body)
	}
	rm1.SetActive()
	if resp, body := get(t, rm1.URL()+"/cluster/apps"); resp.StatusCode != 200 || !strings.Contains(body, "<h1>rm1</h1>") {
		t.Fatalf("active: %d %q", resp.StatusCode, body)
	}
	if n := len(rm2.Requests()); n != 0 {
		t.Errorf("rm2 got %d requests", n)
	}
}

// An active RM creates applications and sends requests for ones it does
// not know to the history server.
func TestActiveAnswers(t *testing.T) {
	rm := Start(t, "rm")
	rm.SetHistory("http://ahs:8188/")
	resp, err := http.Post(rm.URL()+"/ws/v1/cluster/apps/new-application", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "application_1700000000000_0001") || len(rm.Apps()) != 1 {
		t.Fatalf("new-application: %d %s", resp.StatusCode, b)
	}
	if _, body := get(t, rm.URL()+"/ws/v1/cluster/apps"); !strings.Contains(body, "application_1700000000000_0001") {
		t.Fatalf("apps: %s", body)
	}
	resp, _ = get(t, rm.URL()+"/cluster/app/application_1_0009")
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "http://ahs:8188/applicationhistory/app/application_1_0009" {
		t.Fatalf("unknown app: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}
