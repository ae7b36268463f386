package proxy_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

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
// does the answer of a standby that knows no active RM. HEAD too, whose
// answers have no body to say "This is standby RM": their head tells.
func TestRMFailoverFromStandby(t *testing.T) {
	rm1, rm2 := yarntest.Start(t, "rm1"), yarntest.Start(t, "rm2")
	e := newEnv(t, proxyConfig())
	e.deploy(rmTopology(&topology.HA{FailoverOnStandby: true}, []*yarntest.RM{rm1, rm2}))
	for _, knowsActive := range []bool{true, false} {
		if knowsActive {
			rm1.SetStandby(rm2)
		} else {
			rm1.SetStandby(nil)
		}
		for _, tt := range []struct{ path, backendPath, want string }{
			{"/gateway/t/resourcemanager/v1/cluster/apps?states=RUNNING", "/ws/v1/cluster/apps", `"apps":{"app":[]}`},
			{"/gateway/t/yarn/cluster/apps", "/cluster/apps", "<h1>rm2</h1>"},
		} {
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				resp, body := e.doNoFollow(method, tt.path)
				want := tt.want
				if method == http.MethodHead {
					want = "" // rm2's answer, as the request to it says below
				}
				if resp.StatusCode != 200 || !strings.Contains(body, want) {
					t.Fatalf("knows active %t: %s %s: %d %q, want rm2's answer", knowsActive, method, tt.path, resp.StatusCode, body)
				}
				if reqs := rm2.Requests(); len(reqs) == 0 || reqs[len(reqs)-1].Method != method || reqs[len(reqs)-1].Path != tt.backendPath {
					t.Fatalf("knows active %t: %s %s was not answered by rm2 (its requests: %v)", knowsActive, method, tt.path, reqs)
				}
				if where := leaksRM(resp, body, rm1, rm2); where != "" {
					t.Errorf("%s %s: the answer names an RM: %s", method, tt.path, where)
				}
			}
		}
	}
	// rm1 was asked (then counted failures) and every failover is in the
	// backend errors, as a standby namenode's.
	if len(rm1.Requests()) == 0 {
		t.Error("rm1 was never asked")
	}
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
	rm1.SetStandby(rm2)
	rm2.SetStandby(rm1)
	e := newEnv(t, proxyConfig())
	e.deploy(rmTopology(&topology.HA{FailoverOnStandby: true}, []*yarntest.RM{rm1, rm2}))
	for _, path := range []string{"/gateway/t/resourcemanager/v1/cluster/apps", "/gateway/t/yarn/cluster/apps"} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			want := `{"error":"no active backend"}` + "\n"
			if method == http.MethodHead {
				want = ""
			}
			resp, body := e.doNoFollow(method, path)
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Location") != "" || body != want {
				t.Fatalf("%s %s: %d %q %q, want 503", method, path, resp.StatusCode, resp.Header.Get("Location"), body)
			}
			if where := leaksRM(resp, body, rm1, rm2); where != "" {
				t.Errorf("%s %s: the answer names an RM: %s", method, path, where)
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
// RM". The body read to tell is bounded and, for every other answer,
// reaches the client whole and unchanged (chunked or not).
func TestRMStandbyAnswerDetection(t *testing.T) {
	standby := "This is standby RM. The redirect url is: http://rm2.internal:8088/ws/v1/cluster/apps\n"
	noActive := "Can not find any active RM. Will retry in next 5 seconds.\nHA Zookeeper Connection State: CONNECTED\n"
	long := strings.Repeat("x", 5000) + standby
	tests := []struct {
		name     string
		status   int
		body     string
		chunked  bool
		failover bool
	}{
		{"307 standby", 307, standby, false, true},
		{"307 standby chunked", 307, standby, true, true},
		{"403 standby", 403, standby, false, true},
		{"307 no active RM", 307, noActive, true, true},
		{"403 no active RM", 403, noActive, false, false},
		{"200 naming standby", 200, standby, false, false},
		{"303 naming standby", 303, standby, false, false},
		{"403 other", 403, "Forbidden: user alice may not view application_1_0001\n", false, false},
		{"307 empty", 307, "", false, false},
		{"over the bound", 307, long, false, false},
		{"over the bound chunked", 403, long, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain;charset=utf-8")
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
// next.refresh.interval), and fails over; every other answer to HEAD (an
// active RM's redirect to another path, a 403, a 307 that is not the
// same request elsewhere) reaches the client and no other URL is asked.
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
