package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy/frontend"
)

// Backend failures: 502 and 504 for that route only, an abort visible to
// the client, and no goroutine left behind.
func TestBackendFailures(t *testing.T) {
	check := goroutineBaseline(t)
	e := newEnv(t, proxyConfig())
	healthy := newBackend(t, nil)
	hang := make(chan struct{})
	var hangOnce sync.Once
	release := func() { hangOnce.Do(func() { close(hang) }) }
	defer release()
	hung := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	})
	reset := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("chunked") == "" {
			w.Header().Set("Content-Length", "1048576")
		}
		w.Write(make([]byte, 10<<10))
		w.(http.Flusher).Flush()
		c, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			c.Close() // reset mid-body
		}
	})
	slow := svc("hang", hung.URL)
	slow.Dispatch = &topology.Dispatch{ResponseHeaderTimeout: topology.Duration(200 * time.Millisecond)}
	e.deploy(topo("t", svc("ok", healthy.URL), svc("down", deadURL(t)), slow, svc("reset", reset.URL)))

	tests := []struct {
		name, path string
		status     int
		body       string // substring
		abort      bool   // the client's read of the body fails
	}{
		{"backend down", "/gateway/t/down/", 502, `{"error":"backend unavailable"}`, false},
		{"backend hangs", "/gateway/t/hang/", 504, `{"error":"backend timeout"}`, false},
		{"reset mid-body", "/gateway/t/reset/", 200, "", true},
		{"reset mid-chunked-body", "/gateway/t/reset/?chunked=1", 200, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Other routes are unaffected while this one fails.
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 5; i++ {
					resp, err := e.fe.Client().Get(e.fe.URL + "/gateway/t/ok/")
					if err != nil || resp.StatusCode != 200 {
						t.Errorf("healthy route: %v %v", resp, err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}()
			resp, err := e.fe.Client().Get(e.fe.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			wg.Wait()
			if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.body) {
				t.Fatalf("%d %q, want %d %q", resp.StatusCode, body, tc.status, tc.body)
			}
			if (rerr != nil) != tc.abort {
				t.Fatalf("body read error %v (read %d bytes), want abort=%v", rerr, len(body), tc.abort)
			}
		})
	}
	if got := metricValue(t, e, "gateway_backend_errors_total", "service", "reset", "kind", "aborted"); got != 2 {
		t.Fatalf("aborted = %v", got)
	}
	if got := metricValue(t, e, "gateway_backend_errors_total", "service", "hang", "kind", "timeout"); got != 1 {
		t.Fatalf("timeouts = %v", got)
	}
	release()
	e.fe.CloseClientConnections()
	e.fe.Close()
	e.p.Close()
	for _, b := range []*backend{healthy, hung, reset} {
		b.CloseClientConnections()
		b.Close()
	}
	check()
}

// Request smuggling shapes sent as raw bytes to a real listener, through
// both front servers: they refuse the ambiguous framings; what they accept
// they parse one way and the gateway re-frames for the backend, so no
// request slips past the chain.
func TestRequestSmuggling(t *testing.T) {
	for _, kind := range []string{frontend.KindLean, frontend.KindNetHTTP} {
		t.Run(kind, func(t *testing.T) { testRequestSmuggling(t, kind) })
	}
}

func testRequestSmuggling(t *testing.T, kind string) {
	e := newEnv(t, proxyConfig())
	e.fe = newTestFront(t, e.p, kind)
	const auth = "X-Test-Token: let-me-in\r\nX-Test-User: u\r\n"
	tests := []struct {
		name   string
		raw    string
		status []int    // statuses in order on the connection
		seen   []string // what the backend received, in order
	}{
		{"CL and TE: chunked wins, connection closed, smuggled bytes never read",
			"POST /gateway/t/svc/ HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: 48\r\nTransfer-Encoding: chunked\r\n\r\n" +
				"0\r\n\r\nGET /gateway/t/admin/ HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n",
			[]int{200}, []string{"POST / cl= body= err="}},
		{"TE and CL", "POST /gateway/t/svc/ HTTP/1.1\r\nHost: x\r\n" + auth + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
			[]int{200}, []string{"POST / cl= body=abc err="}},
		{"bare LF in chunk size", "POST /gateway/t/svc/ HTTP/1.1\r\nHost: x\r\n" + auth + "Transfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n",
			[]int{400}, nil},
		{"two different Content-Length", "POST /gateway/t/svc/ HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
			[]int{400}, nil},
		{"TE list", "POST /gateway/t/svc/ HTTP/1.1\r\nHost: x\r\n" + auth + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
			[]int{501}, nil},
		{"TE unknown", "POST /gateway/t/svc/ HTTP/1.1\r\nHost: x\r\n" + auth + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
			[]int{501}, nil},
		{"two TE headers", "POST /gateway/t/svc/ HTTP/1.1\r\nHost: x\r\n" + auth + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
			[]int{501}, nil},
		{"space before colon", "POST /gateway/t/svc/ HTTP/1.1\r\nHost: x\r\n" + auth + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
			[]int{400}, nil},
		{"signed Content-Length", "POST /gateway/t/svc/ HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: +3\r\n\r\nabc",
			[]int{400}, nil},
		{"obsolete line folding is unfolded (one header, re-framed)", "GET /gateway/t/svc/ HTTP/1.1\r\nHost: x\r\n" + auth + "X-A: a\r\n b\r\n\r\n",
			[]int{200}, []string{"GET / cl= body= err="}},
		{"HTTP/1.0 with TE: CL frames, connection closed", "POST /gateway/t/svc/ HTTP/1.0\r\nHost: x\r\n" + auth + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\nGET /gateway/t/admin/ HTTP/1.1\r\n\r\n",
			[]int{200}, []string{"POST / cl=3 body=0\r\n err="}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A backend of its own: a request of an earlier case that the
			// backend finishes late (a refused body read ends when the
			// gateway drops the connection) is never taken for this one's.
			var mu sync.Mutex
			var seen []string
			b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
				body, err := io.ReadAll(r.Body)
				mu.Lock()
				seen = append(seen, r.Method+" "+r.URL.Path+" cl="+r.Header.Get("Content-Length")+" body="+string(body)+" err="+errString(err))
				mu.Unlock()
				w.Write([]byte("ok"))
			})
			e.deploy(&topology.Topology{Name: "t", Services: []topology.Service{svc("svc", b.URL), svc("admin", b.URL+"/admin")},
				Providers: []topology.Provider{{Role: "authentication", Name: "test-auth"}}})
			c, err := net.Dial("tcp", e.addr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, tc.raw)
			br := bufio.NewReader(c)
			var got []int
			for {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					break // the server closed the connection
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				got = append(got, resp.StatusCode)
				if len(got) == len(tc.status) && !resp.Close {
					break
				}
			}
			if !equalInts(got, tc.status) {
				t.Fatalf("statuses %v, want %v", got, tc.status)
			}
			// Everything the backend will ever see of this case: Close
			// waits for its handlers to return.
			c.Close()
			b.Close()
			mu.Lock()
			defer mu.Unlock()
			if tc.seen == nil {
				for _, s := range seen {
					if strings.HasSuffix(s, "err=") {
						t.Fatalf("backend completed a refused request: %q", s)
					}
				}
				return
			}
			if strings.Join(seen, "\n") != strings.Join(tc.seen, "\n") {
				t.Fatalf("backend saw %q, want %q", seen, tc.seen)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A client that sends its body at once although it asked for 100 Continue,
// to a backend that answers before reading it (or reads part of it): the
// body, which here spells a whole request, is never read as the next
// request. The connection closes when the front cannot know where the
// body ends on it (no 100 went out: the client may or may not send it),
// and serves the next request when it can (the body was read, or its
// length is known and the rest is dropped). Through both fronts.
func TestEarlyAnswersToBodiesNeverSmuggle(t *testing.T) {
	smuggled := "GET /gateway/t/s/SMUGGLED HTTP/1.1\r\nHost: a\r\n\r\n"
	cl := fmt.Sprint(len(smuggled))
	tests := []struct {
		name     string
		raw      string
		statuses []int
		open     bool // the connection serves a next request
	}{
		{"Expect, Content-Length, refused unread", "POST /gateway/t/s/refuse HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: " + cl + "\r\n\r\n" + smuggled,
			[]int{403}, false},
		{"Expect, chunked, refused unread", "POST /gateway/t/s/refuse HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n" +
			fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(smuggled), smuggled), []int{403}, false},
		{"Expect, body read", "POST /gateway/t/s/read HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: " + cl + "\r\n\r\n" + smuggled,
			[]int{100, 200}, true},
		{"Expect, answered after part of the body", "POST /gateway/t/s/partial HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: " + cl + "\r\n\r\n" + smuggled,
			[]int{100, 200}, true},
		{"no Expect, refused unread", "POST /gateway/t/s/refuse HTTP/1.1\r\nHost: a\r\nContent-Length: " + cl + "\r\n\r\n" + smuggled,
			[]int{403}, true},
		{"HTTP/1.0 keep-alive, its Expect ignored, refused unread", "POST /gateway/t/s/refuse HTTP/1.0\r\nConnection: keep-alive\r\nExpect: 100-continue\r\nContent-Length: " + cl + "\r\n\r\n" + smuggled,
			[]int{403}, true},
	}
	for _, kind := range []string{frontend.KindLean, frontend.KindNetHTTP} {
		for _, tc := range tests {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				var mu sync.Mutex
				var paths []string
				b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					paths = append(paths, r.URL.Path)
					mu.Unlock()
					switch r.URL.Path {
					case "/refuse":
						w.WriteHeader(http.StatusForbidden)
					case "/partial":
						io.ReadFull(r.Body, make([]byte, 5))
					default:
						io.ReadAll(r.Body)
					}
				})
				e := newEnv(t, proxyConfig())
				e.fe = newTestFront(t, e.p, kind)
				e.deploy(topo("t", svc("s", b.URL)))
				c, br := dialWrite(t, e.addr(), tc.raw)
				var got []int
				for len(got) == 0 || got[len(got)-1] < 200 {
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						t.Fatalf("after %v: %v", got, err)
					}
					io.Copy(io.Discard, resp.Body)
					got = append(got, resp.StatusCode)
				}
				if !equalInts(got, tc.statuses) {
					t.Fatalf("statuses %v, want %v", got, tc.statuses)
				}
				if tc.open {
					io.WriteString(c, "GET /gateway/t/s/after HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
					resp, err := http.ReadResponse(br, nil)
					if err != nil || resp.StatusCode != 200 {
						t.Fatalf("the next request on the connection: %v %v", resp, err)
					}
				} else if resp, err := http.ReadResponse(br, nil); err == nil || isTimeoutErr(err) {
					t.Fatalf("after the answer: %v %v, want the connection closed", resp, err)
				}
				c.Close()
				b.Close() // waits for the backend's handlers
				mu.Lock()
				defer mu.Unlock()
				want := []string{"/" + strings.Fields(tc.raw)[1][len("/gateway/t/s/"):]}
				if tc.open {
					want = append(want, "/after")
				}
				if strings.Join(paths, " ") != strings.Join(want, " ") {
					t.Fatalf("backend saw %v, want %v", paths, want)
				}
			})
		}
	}
}
