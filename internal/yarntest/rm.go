package yarntest

import (
	"encoding/json"
	"fmt"
	"html"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// RM is one ResourceManager's web application on loopback.
type RM struct {
	name string
	srv  *httptest.Server

	mu      sync.Mutex
	standby bool
	active  *RM  // the active RM a standby redirects to; nil: none known
	legacy  bool // the standby answers as older Hadoop 2 releases (200, Refresh)
	history string
	apps    []string
	seq     int
	reqs    []Request
}

// Request is what the RM received.
type Request struct {
	Method, Path, RawQuery string
}

// Start runs an active RM named name (it appears in its answers) until the
// test ends.
func Start(t testing.TB, name string) *RM {
	t.Helper()
	r := &RM{name: name}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// URL is the RM's web address, http://127.0.0.1:PORT.
func (r *RM) URL() string { return r.srv.URL }

// Name is the name given to Start.
func (r *RM) Name() string { return r.name }

// SetStandby makes the RM a standby that redirects to active, or, with
// nil, one that knows no active RM.
func (r *RM) SetStandby(active *RM) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.standby, r.active, r.legacy = true, active, false
}

// SetLegacyStandby makes the RM a standby that answers as older Hadoop 2
// releases do: 200 with a Refresh on active, or, with nil, on the
// request's own path.
func (r *RM) SetLegacyStandby(active *RM) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.standby, r.active, r.legacy = true, active, true
}

// SetActive makes the RM the active one.
func (r *RM) SetActive() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.standby, r.active, r.legacy = false, nil, false
}

// SetHistory sets the application history server's web address the RM
// redirects requests for unknown applications to.
func (r *RM) SetHistory(base string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.history = strings.TrimRight(base, "/")
}

// Apps are the ids of the applications created on this RM.
func (r *RM) Apps() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.apps)
}

// Requests returns what the RM received, in order.
func (r *RM) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

func (r *RM) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.reqs = append(r.reqs, Request{Method: req.Method, Path: req.URL.Path, RawQuery: req.URL.RawQuery})
	standby, active, legacy := r.standby, r.active, r.legacy
	r.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain;charset=utf-8")
	uri := req.URL.RequestURI()
	if standby && req.URL.Path != "/ws/v1/cluster/info" && req.URL.Path != "/cluster" {
		switch {
		case legacy:
			// Older Hadoop 2 releases: the request's path (no query) on
			// the active RM, or alone when none is known; status 200.
			to := req.URL.EscapedPath()
			if active != nil {
				to = active.URL() + to
			}
			w.Header().Set("Refresh", "3; url="+to)
			fmt.Fprintf(w, "This is standby RM. Redirecting to the current active RM: %s\n", to)
		case active != nil:
			// RMWebAppFilter: redirect to the active RM's web address.
			w.Header().Set("Location", active.URL()+uri)
			w.WriteHeader(http.StatusTemporaryRedirect)
			fmt.Fprintf(w, "This is standby RM. The redirect url is: %s\n", html.EscapeString(active.URL()+uri))
		default:
			// No active RM known: come back after 5·2^n seconds (n the
			// client's next.refresh.interval, as a long: a negative n
			// waits less), up to 300; past that, or for an n that is no
			// number, give up (status 200). (Hadoop 3.3 and later draw
			// the wait from 0.5–1.5 times that; the test RM does not.)
			n, err := 0, error(nil)
			if v, ok := req.URL.Query()["next.refresh.interval"]; ok {
				n, err = strconv.Atoi(strings.TrimSpace(v[0]))
			}
			secs := 5 * math.Pow(2, float64(n)) // a float: a large n is +Inf, not an overflow
			if err != nil || secs > 300 {
				fmt.Fprint(w, "There is no active RM right now.\nHA Zookeeper Connection State: CONNECTED\n")
				return
			}
			wait := int64(secs)
			q := req.URL.Query()
			q.Set("next.refresh.interval", strconv.Itoa(n+1))
			w.Header().Set("Refresh", fmt.Sprintf("%d;url=%s%s?%s", wait, r.URL(), req.URL.EscapedPath(), q.Encode()))
			w.WriteHeader(http.StatusTemporaryRedirect)
			fmt.Fprintf(w, "Can not find any active RM. Will retry in next %d seconds.\nHA Zookeeper Connection State: CONNECTED\n", wait)
		}
		return
	}
	get := req.Method == http.MethodGet || req.Method == http.MethodHead // HEAD as GET, without the body (as a servlet's doHead)
	switch p := req.URL.Path; {
	case p == "/ws/v1/cluster/info" && get:
		state := "ACTIVE"
		if standby {
			state = "STANDBY"
		}
		writeJSON(w, map[string]any{"clusterInfo": map[string]any{"id": 1, "haState": state, "resourceManagerVersion": "3.3.6", "name": r.name}})
	case p == "/ws/v1/cluster/apps" && get:
		apps := []map[string]string{}
		for _, id := range r.Apps() {
			apps = append(apps, map[string]string{"id": id, "state": "NEW", "rm": r.name})
		}
		writeJSON(w, map[string]any{"apps": map[string]any{"app": apps}})
	case p == "/ws/v1/cluster/apps/new-application" && req.Method == http.MethodPost:
		r.mu.Lock()
		r.seq++
		id := fmt.Sprintf("application_1700000000000_%04d", r.seq)
		r.apps = append(r.apps, id)
		r.mu.Unlock()
		writeJSON(w, map[string]any{"application-id": id, "maximum-resource-capability": map[string]int{"memory": 8192, "vCores": 4}})
	case (p == "/cluster" || p == "/cluster/apps") && get:
		w.Header().Set("Content-Type", "text/html;charset=utf-8")
		fmt.Fprintf(w, "<html><head><title>All Applications</title></head><body><h1>%s</h1><a href=\"/cluster/apps\">Applications</a></body></html>\n", html.EscapeString(r.name))
	case strings.HasPrefix(p, "/cluster/app/") && get:
		id := strings.TrimPrefix(p, "/cluster/app/")
		r.mu.Lock()
		known, history := slices.Contains(r.apps, id), r.history
		r.mu.Unlock()
		switch {
		case known:
			w.Header().Set("Content-Type", "text/html;charset=utf-8")
			fmt.Fprintf(w, "<html><body>%s on %s</body></html>\n", html.EscapeString(id), html.EscapeString(r.name))
		case history != "":
			w.Header().Set("Location", history+"/applicationhistory/app/"+id)
			w.WriteHeader(http.StatusTemporaryRedirect)
		default:
			http.Error(w, "application not found", http.StatusNotFound)
		}
	default:
		http.Error(w, "not found", http.StatusNotFound)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
