package proxy_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/internal/webhdfstest"
)

func safeModeHA(retries int, sleep time.Duration) *topology.HA {
	return &topology.HA{FailoverOnStandby: true, SafeModeRetries: retries, SafeModeRetrySleep: topology.Duration(sleep)}
}

// namenodeOps counts the requests of op the namenode received.
func namenodeOps(c *webhdfstest.Cluster, op string) int {
	n := 0
	for _, r := range c.NamenodeRequests() {
		if strings.EqualFold(r.Query.Get("op"), op) {
			n++
		}
	}
	return n
}

// A namenode in safe mode (an HA namenode starting up answers 403
// RetriableException, one put in safe mode by hand a bare
// SafeModeException) is asked again, on the same URL, until it serves:
// MKDIRS, RENAME and DELETE succeed through the gateway. Each refusal
// counts as a safe_mode backend error, and the namenode's health is
// untouched (it is the active one).
func TestWebHDFSSafeModeRetried(t *testing.T) {
	for _, retriable := range []bool{true, false} {
		t.Run("retriable="+strconv.FormatBool(retriable), func(t *testing.T) {
			nn := webhdfstest.Start(t)
			w := newWebHDFSHAEnv(t, safeModeHA(3, time.Millisecond), nn)
			cl := w.client("")
			nn.SetSafeMode(3, retriable)
			if ok, err := cl.Mkdirs("/d"); err != nil || !ok {
				t.Fatalf("MKDIRS: %t %v", ok, err)
			}
			if n := namenodeOps(nn, "MKDIRS"); n != 4 {
				t.Errorf("the namenode got %d MKDIRS, want 4 (3 refused, then served)", n)
			}
			nn.SetSafeMode(1, retriable)
			if ok, err := cl.Rename("/d", "/e"); err != nil || !ok {
				t.Fatalf("RENAME: %t %v", ok, err)
			}
			nn.SetSafeMode(2, retriable)
			if ok, err := cl.Delete("/e", false); err != nil || !ok {
				t.Fatalf("DELETE: %t %v", ok, err)
			}
			if v := metricValue(t, w.env, "gateway_backend_errors_total", "kind", "safe_mode"); v != 6 {
				t.Errorf("safe_mode backend errors = %v, want 6", v)
			}
			if v := metricValue(t, w.env, "gateway_backend_errors_total", "kind", "failover_status"); v != 0 {
				t.Errorf("failover_status backend errors = %v, want 0", v)
			}
			if st := backendStatus(w.p, nn.NamenodeURL()); !st.Healthy || st.ConsecutiveFailures != 0 {
				t.Errorf("namenode health %+v, want healthy without failures", st)
			}
		})
	}
}

// Standby and safe mode together, as a cluster whose new active namenode
// is starting up: nn1 is standby (failed over), nn2 in safe mode
// (retried), and the request succeeds on nn2 without asking nn1 again.
func TestWebHDFSStandbyThenSafeMode(t *testing.T) {
	nn1, nn2 := webhdfstest.Start(t), webhdfstest.Start(t)
	nn1.SetStandby(true)
	nn2.SetSafeMode(2, true)
	w := newWebHDFSHAEnv(t, safeModeHA(2, time.Millisecond), nn1, nn2)
	if ok, err := w.client("").Mkdirs("/d"); err != nil || !ok {
		t.Fatalf("MKDIRS: %t %v", ok, err)
	}
	if n1, n2 := namenodeOps(nn1, "MKDIRS"), namenodeOps(nn2, "MKDIRS"); n1 != 1 || n2 != 3 {
		t.Errorf("MKDIRS at nn1 %d, nn2 %d; want 1 (standby) and 3 (2 refused, then served)", n1, n2)
	}
}

// After safe_mode_retries retries the client gets the namenode's last
// answer, whole: 403 and its RemoteException. Without safe_mode_retries
// the first answer passes at once.
func TestWebHDFSSafeModeGivesUp(t *testing.T) {
	nn := webhdfstest.Start(t)
	w := newWebHDFSHAEnv(t, safeModeHA(2, time.Millisecond), nn)
	nn.SetSafeMode(10, true)
	_, err := w.client("").Mkdirs("/user/alice/d")
	re := remoteErr(err)
	if re == nil || re.Status != http.StatusForbidden || re.Exception != "RetriableException" || re.JavaClassName != "org.apache.hadoop.ipc.RetriableException" ||
		!strings.HasPrefix(re.Message, "org.apache.hadoop.hdfs.server.namenode.SafeModeException: Cannot create directory /user/alice/d. Name node is in safe mode.\n") {
		t.Fatalf("MKDIRS: %v, want the namenode's 403 RetriableException", err)
	}
	if n := namenodeOps(nn, "MKDIRS"); n != 3 {
		t.Errorf("the namenode got %d MKDIRS, want 3 (the request and 2 retries)", n)
	}
	if v := metricValue(t, w.env, "gateway_backend_errors_total", "kind", "safe_mode"); v != 3 {
		t.Errorf("safe_mode backend errors = %v, want 3", v)
	}

	nn2 := webhdfstest.Start(t)
	w = newWebHDFSHAEnv(t, &topology.HA{FailoverOnStandby: true}, nn2)
	nn2.SetSafeMode(1, false)
	if _, err := w.client("").Mkdirs("/d"); remoteErr(err) == nil || remoteErr(err).Exception != "SafeModeException" {
		t.Fatalf("MKDIRS without safe_mode_retries: %v, want 403 SafeModeException", err)
	}
	if n := namenodeOps(nn2, "MKDIRS"); n != 1 {
		t.Errorf("without safe_mode_retries the namenode got %d MKDIRS, want 1", n)
	}
}

// A permission error is no safe-mode answer: it reaches the client
// unchanged from the first ask, never retried.
func TestWebHDFSPermissionDeniedNotRetried(t *testing.T) {
	nn := webhdfstest.Start(t)
	nn.Protect("/secure")
	w := newWebHDFSHAEnv(t, safeModeHA(3, time.Millisecond), nn)
	_, err := w.client("").Mkdirs("/secure/x")
	if re := remoteErr(err); re == nil || re.Status != http.StatusForbidden || re.Exception != "AccessControlException" ||
		re.Message != `Permission denied: user=alice, access=ALL, inode="/secure":hdfs:supergroup:drwx------` {
		t.Fatalf("MKDIRS: %v, want the 403 AccessControlException", err)
	}
	if n := namenodeOps(nn, "MKDIRS"); n != 1 {
		t.Errorf("the namenode got %d MKDIRS, want 1", n)
	}
}

// Only a safe-mode answer is retried, and only for a request that can be
// replayed: a POST (CONCAT, TRUNCATE) or a request with a body gets the
// answer at once, and every answer not retried reaches the client whole.
func TestSafeModeAnswerDetection(t *testing.T) {
	retriable := `{"RemoteException":{"exception":"RetriableException","javaClassName":"org.apache.hadoop.ipc.RetriableException","message":"org.apache.hadoop.hdfs.server.namenode.SafeModeException: Cannot create directory /d. Name node is in safe mode."}}`
	bare := `{"RemoteException":{"exception":"SafeModeException","javaClassName":"org.apache.hadoop.hdfs.server.namenode.SafeModeException","message":"Cannot delete /d. Name node is in safe mode."}}`
	tests := []struct {
		name, method, body, ctype, answer string
		retried                           bool
	}{
		{"retriable", http.MethodPut, "", "application/json", retriable, true},
		{"safe mode", http.MethodDelete, "", "application/json", bare, true},
		{"by class name", http.MethodGet, "", "application/json", `{"RemoteException":{"javaClassName":"org.apache.hadoop.hdfs.server.namenode.SafeModeException"}}`, true},
		{"POST", http.MethodPost, "", "application/json", retriable, false},
		{"PUT with a body", http.MethodPut, "data", "application/json", retriable, false},
		{"permission denied naming safe mode", http.MethodPut, "", "application/json",
			`{"RemoteException":{"exception":"AccessControlException","message":"no access to /SafeModeException/RetriableException"}}`, false},
		{"not JSON", http.MethodPut, "", "text/plain", retriable, false},
		{"over the bound", http.MethodPut, "", "application/json", retriable[:len(retriable)-2] + strings.Repeat(" ", 5000) + "}}", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			nn := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				if calls.Add(1) > 1 {
					io.WriteString(w, "served")
					return
				}
				w.Header().Set("Content-Type", tt.ctype)
				w.WriteHeader(http.StatusForbidden)
				io.WriteString(w, tt.answer)
			})
			e := newEnv(t, proxyConfig())
			e.deploy(topo("t", haSvc(&topology.HA{SafeModeRetries: 1}, nn.URL)))
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			resp, got := e.do(tt.method, "/gateway/t/svc/x", body)
			if tt.retried {
				if resp.StatusCode != 200 || got != "served" || nn.count() != 2 {
					t.Fatalf("%d %q after %d requests, want the retry's answer", resp.StatusCode, truncateForLog(got), nn.count())
				}
				return
			}
			if resp.StatusCode != http.StatusForbidden || got != tt.answer || nn.count() != 1 {
				t.Fatalf("%d %q after %d requests, want the 403 passed whole at once", resp.StatusCode, truncateForLog(got), nn.count())
			}
		})
	}
}

// A client that goes away while the gateway waits to retry ends the
// request at once (access log 499, nothing in flight), and the namenode is
// not asked again; a request whose deadline would pass during the wait
// gets the namenode's answer at once instead of waiting.
func TestSafeModeRetryWaitEndsWithTheRequest(t *testing.T) {
	nn := webhdfstest.Start(t)
	nn.SetSafeMode(10, true)
	w := newWebHDFSHAEnv(t, safeModeHA(3, time.Minute), nn)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, w.fe.URL+"/gateway/sandbox/webhdfs/v1/d?op=MKDIRS", nil)
	req.SetBasicAuth("alice", "alice-secret")
	done := make(chan error, 1)
	go func() {
		resp, err := w.fe.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	eventually(t, 10*time.Second, "the namenode's refusal", func() bool { return namenodeOps(nn, "MKDIRS") == 1 })
	eventually(t, 10*time.Second, "the refusal counted", func() bool {
		return metricValue(t, w.env, "gateway_backend_errors_total", "kind", "safe_mode") == 1
	})
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the canceled request succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the canceled request did not end")
	}
	eventually(t, 10*time.Second, "the access line", func() bool {
		for _, l := range accessLines(t, w.logs.String()) {
			if l.Status == 499 {
				return true
			}
		}
		return false
	})
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("the request ended %s after the client left: it waited out the retry sleep", d)
	}
	if v := metricValue(t, w.env, "gateway_inflight_requests"); v != 0 {
		t.Errorf("%v requests in flight", v)
	}
	if n := namenodeOps(nn, "MKDIRS"); n != 1 {
		t.Errorf("the namenode got %d MKDIRS, want 1 (no retry after the client left)", n)
	}

	// A deadline before the retry's wait ends: the answer at once.
	dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer dcancel()
	r := httptest.NewRequestWithContext(dctx, http.MethodPut, "/gateway/sandbox/webhdfs/v1/d?op=MKDIRS", nil)
	r.SetBasicAuth("alice", "alice-secret")
	rec := httptest.NewRecorder()
	w.p.ServeHTTP(rec, r)
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), `"RetriableException"`) {
		t.Fatalf("with a deadline: %d %q, want the namenode's 403 at once", rec.Code, rec.Body.String())
	}
	if n := namenodeOps(nn, "MKDIRS"); n != 2 {
		t.Errorf("the namenode got %d MKDIRS, want 2", n)
	}
}
