package proxy_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/internal/yarntest"
)

// rmTopology publishes the RMs, in that order, as RESOURCEMANAGER
// (resourcemanager: their /ws) and YARNUI (yarn), both with ha, plus
// extra services.
func rmTopology(ha *topology.HA, rms []*yarntest.RM, extra ...topology.Service) *topology.Topology {
	api := topology.Service{Role: "RESOURCEMANAGER", Path: "resourcemanager", HA: ha}
	ui := topology.Service{Role: "YARNUI", Path: "yarn", HA: ha}
	for _, rm := range rms {
		api.URLs = append(api.URLs, rm.URL()+"/ws")
		ui.URLs = append(ui.URLs, rm.URL())
	}
	return topo("t", append([]topology.Service{api, ui}, extra...)...)
}

// doNoFollow sends a request through the gateway and shows a redirect
// instead of following it.
func (e *env) doNoFollow(method, path string) (*http.Response, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.fe.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	c := *e.fe.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// leaksRM reports where an answer names an RM's address.
func leaksRM(resp *http.Response, body string, rms ...*yarntest.RM) string {
	for _, rm := range rms {
		addr := strings.TrimPrefix(rm.URL(), "http://")
		for k, vs := range resp.Header {
			for _, v := range vs {
				if strings.Contains(v, addr) {
					return k + ": " + v
				}
			}
		}
		if strings.Contains(body, addr) {
			return "body: " + body
		}
	}
	return ""
}

// With rm1 standby and rm2 active, REST and UI requests through the
// gateway are served by rm2: the standby's redirect (which names rm2's
// address) fails over to the next URL and never reaches the client; so
// does the answer of a standby that knows no active RM, the 200 of one
// that gave up on the client's coming back (Hadoop 3), and the 200 with
// Refresh of older Hadoop 2 releases, knowing rm2 or not. HEAD too, whose
// answers have no body to say "This is standby RM": their head tells,
// but for the 200 of a standby that gave up, whose head says nothing: it
// reaches the client (with nothing that names an RM).
func TestRMFailoverFromStandby(t *testing.T) {
	rm1, rm2 := yarntest.Start(t, "rm1"), yarntest.Start(t, "rm2")
	e := newEnv(t, proxyConfig())
	// rm1 never cools off: every request asks it first.
	e.deploy(rmTopology(&topology.HA{FailoverOnStandby: true, MaxFailures: 1000}, []*yarntest.RM{rm1, rm2}))
	for _, st := range []struct {
		name   string
		set    func()
		query  string // added to the request's
		headOK bool   // a HEAD fails over too
	}{
		{"knows the active RM", func() { rm1.SetStandby(rm2) }, "", true},
		{"knows no active RM", func() { rm1.SetStandby(nil) }, "", true},
		{"knows no active RM, gave up", func() { rm1.SetStandby(nil) }, "next.refresh.interval=6", false},
		{"Hadoop 2, knows the active RM", func() { rm1.SetLegacyStandby(rm2) }, "", true},
		{"Hadoop 2, knows no active RM", func() { rm1.SetLegacyStandby(nil) }, "", true},
	} {
		st.set()
		for _, tt := range []struct{ path, backendPath, want string }{
			{"/gateway/t/resourcemanager/v1/cluster/apps?states=RUNNING", "/ws/v1/cluster/apps", `"apps":{"app":[]}`},
			{"/gateway/t/yarn/cluster/apps", "/cluster/apps", "<h1>rm2</h1>"},
		} {
			path := tt.path
			if st.query != "" {
				sep := "?"
				if strings.Contains(path, "?") {
					sep = "&"
				}
				path += sep + st.query
			}
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				before, before1 := len(rm2.Requests()), len(rm1.Requests())
				resp, body := e.doNoFollow(method, path)
				if n := len(rm1.Requests()) - before1; n != 1 {
					t.Fatalf("%s: %s %s: rm1 asked %d times, want once", st.name, method, path, n)
				}
				if where := leaksRM(resp, body, rm1, rm2); where != "" {
					t.Errorf("%s: %s %s: the answer names an RM: %s", st.name, method, path, where)
				}
				if method == http.MethodHead && !st.headOK {
					if resp.StatusCode != 200 || len(rm2.Requests()) != before {
						t.Fatalf("%s: HEAD %s: %d, rm2 asked %d times, want the standby's 200", st.name, path, resp.StatusCode, len(rm2.Requests())-before)
					}
					continue
				}
				want := tt.want
				if method == http.MethodHead {
					want = "" // rm2's answer, as the request to it says below
				}
				if resp.StatusCode != 200 || !strings.Contains(body, want) {
					t.Fatalf("%s: %s %s: %d %q, want rm2's answer", st.name, method, path, resp.StatusCode, body)
				}
				if reqs := rm2.Requests(); len(reqs) != before+1 || reqs[len(reqs)-1].Method != method || reqs[len(reqs)-1].Path != tt.backendPath {
					t.Fatalf("%s: %s %s was not answered by rm2 (its requests: %v)", st.name, method, path, reqs)
				}
			}
		}
	}
	// Every failover is in the backend errors, as a standby namenode's.
	if got := metricValue(t, e, "gateway_backend_errors_total", "service", "resourcemanager", "kind", "failover_status"); got < 1 {
		t.Errorf("backend errors {kind=failover_status} of resourcemanager = %v, want the standby's answers", got)
	}
}

// Every RM standby: the client gets 503 without any RM's address (not the
// redirect, whose Location and body name the active RM), for REST and UI,
// GET and HEAD;
// a service without failover_on_standby never asks the second RM.
func TestRMAllStandby(t *testing.T) {
	rm1, rm2 := yarntest.Start(t, "rm1"), yarntest.Start(t, "rm2")
	e := newEnv(t, proxyConfig())
	e.deploy(rmTopology(&topology.HA{FailoverOnStandby: true}, []*yarntest.RM{rm1, rm2}))
	for _, legacy := range []bool{false, true} { // Hadoop 2's 200 with Refresh
		if legacy {
			rm1.SetLegacyStandby(rm2)
			rm2.SetLegacyStandby(rm1)
		} else {
			rm1.SetStandby(rm2)
			rm2.SetStandby(rm1)
		}
		for _, path := range []string{"/gateway/t/resourcemanager/v1/cluster/apps", "/gateway/t/yarn/cluster/apps"} {
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				want := `{"error":"no active backend"}` + "\n"
				if method == http.MethodHead {
					want = ""
				}
				resp, body := e.doNoFollow(method, path)
				if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Location") != "" || resp.Header.Get("Refresh") != "" || body != want {
					t.Fatalf("legacy %t: %s %s: %d %q %q, want 503", legacy, method, path, resp.StatusCode, resp.Header.Get("Location"), body)
				}
				if where := leaksRM(resp, body, rm1, rm2); where != "" {
					t.Errorf("legacy %t: %s %s: the answer names an RM: %s", legacy, method, path, where)
				}
			}
		}
	}
	if len(rm1.Requests()) == 0 || len(rm2.Requests()) == 0 {
		t.Errorf("requests: rm1 %d, rm2 %d, want both asked", len(rm1.Requests()), len(rm2.Requests()))
	}

	a, b := yarntest.Start(t, "a"), yarntest.Start(t, "b")
	a.SetStandby(b)
	e = newEnv(t, proxyConfig())
	e.deploy(rmTopology(nil, []*yarntest.RM{a, b}))
	if resp, _ := e.doNoFollow(http.MethodGet, "/gateway/t/resourcemanager/v1/cluster/apps"); resp.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("without failover_on_standby: %d, want the standby's redirect", resp.StatusCode)
	}
	if n := len(b.Requests()); n != 0 {
		t.Errorf("without failover_on_standby the second RM got %d requests", n)
	}
}

// A request that cannot be replayed (POST new-application) is not failed
// over: rm2 creates nothing, and the client gets 503, not the standby's
// redirect to rm2. The same request then succeeds once rm1 is active.
func TestRMStandbyPostNotFailedOver(t *testing.T) {
	rm1, rm2 := yarntest.Start(t, "rm1"), yarntest.Start(t, "rm2")
	rm1.SetStandby(rm2)
	e := newEnv(t, proxyConfig())
	e.deploy(rmTopology(&topology.HA{FailoverOnStandby: true}, []*yarntest.RM{rm1, rm2}))
	const path = "/gateway/t/resourcemanager/v1/cluster/apps/new-application"
	resp, body := e.do(http.MethodPost, path, strings.NewReader(`{}`), "Content-Type", "application/json")
	if resp.StatusCode != http.StatusServiceUnavailable || body != `{"error":"no active backend"}`+"\n" {
		t.Fatalf("POST: %d %q, want 503", resp.StatusCode, body)
	}
	if where := leaksRM(resp, body, rm1, rm2); where != "" {
		t.Errorf("POST: the answer names an RM: %s", where)
	}
	if n := len(rm2.Requests()); n != 0 || len(rm2.Apps()) != 0 {
		t.Errorf("a POST was failed over: rm2 got %d requests", n)
	}
	rm1.SetActive()
	resp, body = e.do(http.MethodPost, path, strings.NewReader(`{}`), "Content-Type", "application/json")
	if resp.StatusCode != 200 || !strings.Contains(body, "application_1700000000000_0001") || len(rm1.Apps()) != 1 {
		t.Fatalf("POST to the active rm1: %d %q", resp.StatusCode, body)
	}
}

// An active RM's own redirect (an application it no longer knows, to the
// history server) is no standby answer: the client gets it, its Location
// pointed at the gateway as every redirect is, and no other RM is asked.
func TestRMActiveRedirectPassed(t *testing.T) {
	rm1, rm2 := yarntest.Start(t, "rm1"), yarntest.Start(t, "rm2")
	ahs := echoBackend(t, "ahs")
	rm1.SetHistory(ahs.URL)
	e := newEnv(t, proxyConfig())
	e.deploy(rmTopology(&topology.HA{FailoverOnStandby: true}, []*yarntest.RM{rm1, rm2},
		topology.Service{Role: "YARNUI", Path: "ahs", URLs: []string{ahs.URL}}))
	resp, body := e.doNoFollow(http.MethodGet, "/gateway/t/yarn/cluster/app/application_1_0001")
	want := e.fe.URL + "/gateway/t/ahs/applicationhistory/app/application_1_0001"
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != want {
		t.Fatalf("%d Location %q (%q), want 307 to %s", resp.StatusCode, resp.Header.Get("Location"), body, want)
	}
	if n := len(rm2.Requests()); n != 0 {
		t.Errorf("an active RM's redirect was failed over: rm2 got %d requests", n)
	}
}

// Only a standby RM's answer fails over: 307 or 403 with "This is standby
// RM" in a body of at most 4 KiB, or 307 with "Can not find any active
// RM"; 200 with Refresh and "This is standby RM" (older Hadoop 2
// releases); a text/plain 200 of a known length of at most 4 KiB that
// begins with "There is no active RM right now" (Hadoop 3). The body read
// to tell is bounded and, for every other answer, reaches the client whole
// and unchanged (chunked or not).
func TestRMStandbyAnswerDetection(t *testing.T) {
	standby := "This is standby RM. The redirect url is: http://rm2.internal:8088/ws/v1/cluster/apps\n"
	noActive := "Can not find any active RM. Will retry in next 5 seconds.\nHA Zookeeper Connection State: CONNECTED\n"
	legacy := "This is standby RM. Redirecting to the current active RM: http://rm2.internal:8088/x\n"
	gaveUp := "There is no active RM right now.\nHA Zookeeper Connection State: CONNECTED\n"
	long := strings.Repeat("x", 5000) + standby
	const refresh = "3; url=http://rm2.internal:8088/x" // the request's path on the active RM
	tests := []struct {
		name     string
		status   int
		body     string
		chunked  bool
		failover bool
		refresh  string // the Refresh header, if any
		ctype    string // the Content-Type, text/plain by default
	}{
		{"307 standby", 307, standby, false, true, "", ""},
		{"307 standby chunked", 307, standby, true, true, "", ""},
		{"403 standby", 403, standby, false, true, "", ""},
		{"307 no active RM", 307, noActive, true, true, "", ""},
		{"403 no active RM", 403, noActive, false, false, "", ""},
		{"200 naming standby", 200, standby, false, false, "", ""},
		{"303 naming standby", 303, standby, false, false, "", ""},
		{"403 other", 403, "Forbidden: user alice may not view application_1_0001\n", false, false, "", ""},
		{"307 empty", 307, "", false, false, "", ""},
		{"over the bound", 307, long, false, false, "", ""},
		{"over the bound chunked", 403, long, true, false, "", ""},
		{"200 with Refresh, Hadoop 2 standby", 200, legacy, false, true, refresh, ""},
		{"200 with Refresh, Hadoop 2 standby chunked", 200, legacy, true, true, refresh, ""},
		{"200 with Refresh, another page", 200, "<html>reloading</html>\n", false, false, refresh, "text/html"},
		{"200 with Refresh over the bound", 200, long, false, false, refresh, ""},
		{"200 gave up, Hadoop 3", 200, gaveUp, false, true, "", ""},
		{"200 gave up, chunked (no length)", 200, gaveUp, true, false, "", ""},
		{"200 gave up, as JSON", 200, gaveUp, false, false, "", "application/json"},
		{"200 quoting the words", 200, "log: " + gaveUp, false, false, "", ""},
		{"503 gave up", 503, gaveUp, false, false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
				ctype := "text/plain;charset=utf-8"
				if tt.ctype != "" {
					ctype = tt.ctype
				}
				w.Header().Set("Content-Type", ctype)
				if tt.refresh != "" {
					w.Header().Set("Refresh", tt.refresh)
				}
				if tt.status/100 == 3 {
					w.Header().Set("Location", "/ws/v1/cluster/apps")
				}
				writeInHalves(w, tt.status, tt.body, tt.chunked)
			})
			second := echoBackend(t, "second")
			e := rmFailoverEnv(t, first.URL, second.URL)
			resp, body := e.doNoFollow(http.MethodGet, "/gateway/t/svc/x")
			if tt.failover {
				if resp.StatusCode != 200 || body != "second:" {
					t.Fatalf("%d %q, want the second URL's answer", resp.StatusCode, body)
				}
				return
			}
			if resp.StatusCode != tt.status || body != tt.body {
				t.Fatalf("%d %q, want the %d passed whole", resp.StatusCode, truncateForLog(body), tt.status)
			}
			if n := second.count(); n != 0 {
				t.Errorf("the second URL got %d requests", n)
			}
		})
	}
}

// A standby RM's answer to HEAD has no body: it is told by its head, as
// Hadoop's RMWebAppFilter writes it (a 307 to the request's own path and
// query on another origin, or a 307 whose Refresh carries
// next.refresh.interval; older Hadoop 2 releases: a 200 whose Refresh is
// the request's path without its query on another origin, or relative),
// and fails over; every other answer to HEAD (an active RM's redirect to
// another path, a 403, a 307 that is not the same request elsewhere, a
// 200 without such a Refresh) reaches the client and no other URL is
// asked.
func TestRMStandbyHeadDetection(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		location string // "{first}" and "{second}" are the URLs' origins; the request is /x?a=1&b=2
		refresh  string
		failover bool
	}{
		{"307 to the same path and query on another RM", 307, "{second}/x?a=1&b=2", "", true},
		{"307 with no active RM known", 307, "", "5;url={first}/x?a=1&b=2&next.refresh.interval=1", true},
		{"307 to another path (the history server)", 307, "{second}/applicationhistory/x?a=1&b=2", "", false},
		{"307 to the same path, another query", 307, "{second}/x?a=2", "", false},
		{"307 to the same path on the same RM", 307, "{first}/x?a=1&b=2", "", false},
		{"307 relative to the same path", 307, "/x?a=1&b=2", "", false},
		{"307 with a Refresh of its own", 307, "", "5;url={first}/x", false},
		{"403", 403, "", "", false},
		{"302 to the same path on another RM", 302, "{second}/x?a=1&b=2", "", false},
		{"200 with the standby's Refresh", 200, "", "5;url={first}/x?next.refresh.interval=1", false},
		{"200 with Hadoop 2's Refresh to the same path on another RM", 200, "", "3; url={second}/x", true},
		{"200 with Hadoop 2's Refresh to the same path, no active RM known", 200, "", "3; url=/x", true},
		{"200 with a Refresh to another path on another RM", 200, "", "3; url={second}/y", false},
		{"200 with a Refresh to the same path and a query", 200, "", "3; url={second}/x?a=1&b=2", false},
		{"200 with a Refresh to the same path on the same RM", 200, "", "3; url={first}/x", false},
		{"200 without Refresh", 200, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var firstURL, secondURL string
			first := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
				fill := strings.NewReplacer("{first}", firstURL, "{second}", secondURL)
				if tt.location != "" {
					w.Header().Set("Location", fill.Replace(tt.location))
				}
				if tt.refresh != "" {
					w.Header().Set("Refresh", fill.Replace(tt.refresh))
				}
				w.WriteHeader(tt.status)
			})
			second := echoBackend(t, "second")
			firstURL, secondURL = first.URL, second.URL
			e := rmFailoverEnv(t, first.URL, second.URL)
			resp, _ := e.doNoFollow(http.MethodHead, "/gateway/t/svc/x?a=1&b=2")
			if tt.failover {
				if resp.StatusCode != 200 || second.count() != 1 {
					t.Fatalf("%d, the second URL asked %d times; want its answer", resp.StatusCode, second.count())
				}
				return
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("%d, want the %d passed", resp.StatusCode, tt.status)
			}
			if n := second.count(); n != 0 {
				t.Errorf("the second URL got %d requests", n)
			}
		})
	}
}

// rmFailoverEnv is a gateway with topology t's service svc a
// ResourceManager at first and second that fails over from a standby.
func rmFailoverEnv(t *testing.T, first, second string) *env {
	t.Helper()
	s := haSvc(&topology.HA{FailoverOnStandby: true}, first, second)
	s.Role = "RESOURCEMANAGER"
	e := newEnv(t, proxyConfig())
	e.deploy(topo("t", s))
	return e
}

// An active RM's (or an application UI's, through the RM's proxy) 200
// with a Refresh that is not a standby's (no URL, or one to another path)
// streams: the client gets its first part while the backend still holds
// the rest; standby detection reads none of it.
func TestRMRefreshPageStreams(t *testing.T) {
	for _, refresh := range []string{"5", "5; url=/y", "3; url=http://rm2.internal:8088/y"} {
		t.Run(refresh, func(t *testing.T) {
			release := make(chan struct{})
			first := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.Header().Set("Refresh", refresh)
				io.WriteString(w, "<html>first part\n")
				w.(http.Flusher).Flush()
				select {
				case <-release:
				case <-time.After(10 * time.Second):
				}
				io.WriteString(w, "rest</html>\n")
			})
			second := echoBackend(t, "second")
			e := rmFailoverEnv(t, first.URL, second.URL)
			got := make(chan string, 1)
			go func() {
				resp, err := e.fe.Client().Get(e.fe.URL + "/gateway/t/svc/x")
				if err != nil {
					got <- err.Error()
					return
				}
				defer resp.Body.Close()
				b := make([]byte, len("<html>first part\n"))
				_, err = io.ReadFull(resp.Body, b)
				got <- fmt.Sprint(resp.StatusCode, " ", string(b), err)
				io.Copy(io.Discard, resp.Body)
			}()
			select {
			case s := <-got:
				if s != "200 <html>first part\n<nil>" {
					t.Errorf("got %q, want the first part of the 200", s)
				}
			case <-time.After(5 * time.Second):
				t.Errorf("the client got nothing while the backend held the rest of its 200")
			}
			close(release)
			if n := second.count(); n != 0 {
				t.Errorf("the second URL got %d requests", n)
			}
		})
	}
}
