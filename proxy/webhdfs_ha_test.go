package proxy_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/internal/webhdfstest"
	"github.com/securegw/gateway/proxy"
	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/seal"
)

// newWebHDFSHAEnv publishes WEBHDFS on the namenodes of the clusters, in
// that order, with ha (nil: none).
func newWebHDFSHAEnv(t *testing.T, ha *topology.HA, clusters ...*webhdfstest.Cluster) *webhdfsEnv {
	key := make([]byte, seal.KeySize)
	_, _ = rand.Read(key)
	clock := &fakeClock{t: time.Now()}
	e := newEnv(t, proxy.Config{SealKey: key, Host: chain.Host{Clock: clock}})
	top := webhdfsTopology(t, "sandbox", clusters[0].NamenodeURL())
	for _, c := range clusters[1:] {
		top.Services[0].URLs = append(top.Services[0].URLs, c.NamenodeURL())
	}
	top.Services[0].HA = ha
	e.deploy(top)
	return &webhdfsEnv{env: e, cluster: clusters[len(clusters)-1], clock: clock, key: key}
}

func remoteErr(err error) *webhdfstest.RemoteError {
	var re *webhdfstest.RemoteError
	if errors.As(err, &re) {
		return re
	}
	return nil
}

// With nn1 standby and nn2 active, as Hadoop's namenode HA runs, every
// WebHDFS operation through the gateway succeeds via nn2: the standby's
// 403 StandbyException fails over, the two-step CREATE and OPEN included.
func TestWebHDFSFailoverFromStandby(t *testing.T) {
	nn1, nn2 := webhdfstest.Start(t), webhdfstest.Start(t)
	nn1.SetStandby(true)
	w := newWebHDFSHAEnv(t, &topology.HA{FailoverOnStandby: true}, nn1, nn2)
	cl := w.client("")

	if ok, err := cl.Mkdirs("/user/alice/in"); err != nil || !ok {
		t.Fatalf("MKDIRS: %t %v", ok, err)
	}
	if st, err := cl.GetFileStatus("/user/alice/in"); err != nil || st.Type != "DIRECTORY" || st.Owner != "alice" {
		t.Fatalf("GETFILESTATUS: %+v %v", st, err)
	}
	data := bytes.Repeat([]byte("standby "), 64<<10)
	if _, err := cl.Create("/user/alice/in/f", bytes.NewReader(data), int64(len(data)), false); err != nil {
		t.Fatalf("CREATE: %v", err)
	}
	if ls, err := cl.ListStatus("/user/alice/in"); err != nil || len(ls) != 1 || ls[0].Length != int64(len(data)) {
		t.Fatalf("LISTSTATUS: %+v %v", ls, err)
	}
	rc, err := cl.Open("/user/alice/in/f")
	if err != nil {
		t.Fatalf("OPEN: %v", err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("OPEN read %d bytes (%v), want %d", len(got), err, len(data))
	}
	// The standby was asked (then cooled off) and kept nothing; the data
	// went to the active namenode's datanode.
	if len(nn1.NamenodeRequests()) == 0 || len(nn1.DatanodeRequests()) != 0 {
		t.Errorf("nn1: %d namenode, %d datanode requests, want some and none", len(nn1.NamenodeRequests()), len(nn1.DatanodeRequests()))
	}
	if n := len(nn2.DatanodeRequests()); n != 2 {
		t.Errorf("nn2's datanode got %d requests, want CREATE and OPEN", n)
	}
}

// A 403 that is not a standby's, a permission error, reaches the client
// whole from the active namenode and is not failed over: with nn1
// standby, nn2 active and nn3 standby, nn3 is never asked.
func TestWebHDFSPermissionDeniedNotFailedOver(t *testing.T) {
	nn1, nn2, nn3 := webhdfstest.Start(t), webhdfstest.Start(t), webhdfstest.Start(t)
	nn1.SetStandby(true)
	nn3.SetStandby(true)
	nn2.Protect("/secure")
	w := newWebHDFSHAEnv(t, &topology.HA{FailoverOnStandby: true}, nn1, nn2, nn3)
	cl := w.client("")
	for _, call := range []struct {
		name string
		do   func() error
	}{
		{"MKDIRS", func() error { _, err := cl.Mkdirs("/secure/x"); return err }},
		{"LISTSTATUS", func() error { _, err := cl.ListStatus("/secure"); return err }},
	} {
		re := remoteErr(call.do())
		if re == nil || re.Status != http.StatusForbidden || re.Exception != "AccessControlException" ||
			re.Message != `Permission denied: user=alice, access=ALL, inode="/secure":hdfs:supergroup:drwx------` {
			t.Errorf("%s: %+v, want the active namenode's 403 AccessControlException", call.name, re)
		}
	}
	if n := len(nn3.NamenodeRequests()); n != 0 {
		t.Errorf("nn3 got %d requests: a permission error was failed over", n)
	}
}

// Both namenodes standby: the client gets Hadoop's standby answer (403
// StandbyException, which WebHDFS clients understand) at once, for reads
// and writes; a service without failover_on_standby passes the first
// standby's answer and never asks the second.
func TestWebHDFSBothStandby(t *testing.T) {
	nn1, nn2 := webhdfstest.Start(t), webhdfstest.Start(t)
	nn1.SetStandby(true)
	nn2.SetStandby(true)
	w := newWebHDFSHAEnv(t, &topology.HA{FailoverOnStandby: true}, nn1, nn2)
	cl := w.client("")
	start := time.Now()
	if _, err := cl.ListStatus("/"); remoteErr(err) == nil || remoteErr(err).Status != http.StatusForbidden || remoteErr(err).Exception != "StandbyException" {
		t.Fatalf("LISTSTATUS: %v, want 403 StandbyException", err)
	}
	if _, err := cl.Create("/f", bytes.NewReader([]byte("x")), 1, false); remoteErr(err) == nil || remoteErr(err).Exception != "StandbyException" {
		t.Fatalf("CREATE: %v, want 403 StandbyException", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
	if len(nn1.NamenodeRequests()) == 0 || len(nn2.NamenodeRequests()) == 0 {
		t.Errorf("requests: nn1 %d, nn2 %d, want both asked", len(nn1.NamenodeRequests()), len(nn2.NamenodeRequests()))
	}

	a, b := webhdfstest.Start(t), webhdfstest.Start(t)
	a.SetStandby(true)
	w = newWebHDFSHAEnv(t, nil, a, b)
	if _, err := w.client("").ListStatus("/"); remoteErr(err) == nil || remoteErr(err).Exception != "StandbyException" {
		t.Fatalf("without failover_on_standby: %v, want the standby's answer", err)
	}
	if n := len(b.NamenodeRequests()); n != 0 {
		t.Errorf("without failover_on_standby the second namenode got %d requests", n)
	}
}

// APPEND's first step is a POST: not replayable, so a standby's answer
// reaches the client (Knox's default, failoverNonIdempotentRequestEnabled
// false), and the active namenode is not asked.
func TestWebHDFSStandbyPostNotFailedOver(t *testing.T) {
	nn1, nn2 := webhdfstest.Start(t), webhdfstest.Start(t)
	nn1.SetStandby(true)
	w := newWebHDFSHAEnv(t, &topology.HA{FailoverOnStandby: true}, nn1, nn2)
	before := len(nn2.NamenodeRequests())
	if err := w.client("").Append("/f", bytes.NewReader([]byte("x")), 1); remoteErr(err) == nil || remoteErr(err).Exception != "StandbyException" {
		t.Fatalf("APPEND: %v, want 403 StandbyException", err)
	}
	if n := len(nn2.NamenodeRequests()) - before; n != 0 {
		t.Errorf("a POST was failed over: nn2 got %d requests", n)
	}
	// A PUT without a body (MKDIRS) is replayed on nn2.
	if ok, err := w.client("").Mkdirs("/d"); err != nil || !ok {
		t.Fatalf("MKDIRS: %t %v", ok, err)
	}
}

// Only a standby's answer fails over: the 403 body read to tell is bounded
// and, for every other 403, reaches the client whole and unchanged
// (chunked or not, small or over the bound).
func TestStandbyAnswerDetection(t *testing.T) {
	standby := `{"RemoteException":{"exception":"StandbyException","javaClassName":"org.apache.hadoop.ipc.StandbyException","message":"Operation category READ is not supported in state standby"}}`
	tests := []struct {
		name, ctype, body string
		chunked           bool
		failover          bool
	}{
		{"standby", "application/json", standby, false, true},
		{"standby chunked", "application/json;charset=utf-8", standby, true, true},
		{"by class name", "application/json", `{"RemoteException":{"javaClassName":"org.apache.hadoop.ipc.StandbyException"}}`, false, true},
		{"permission denied naming standby", "application/json",
			`{"RemoteException":{"exception":"AccessControlException","message":"no access to /StandbyException"}}`, false, false},
		{"not JSON", "text/plain", standby, false, false},
		{"malformed JSON", "application/json", standby[:60], false, false},
		{"over the bound", "application/json", standby[:len(standby)-2] + strings.Repeat(" ", 5000) + "}}", false, false},
		{"over the bound chunked", "application/json", standby[:len(standby)-2] + strings.Repeat(" ", 5000) + "}}", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.ctype)
				writeInHalves(w, http.StatusForbidden, tt.body, tt.chunked)
			})
			second := echoBackend(t, "second")
			e := newEnv(t, proxyConfig())
			e.deploy(topo("t", haSvc(&topology.HA{FailoverOnStandby: true}, first.URL, second.URL)))
			resp, body := e.do(http.MethodGet, "/gateway/t/svc/x", nil)
			if tt.failover {
				if resp.StatusCode != 200 || body != "second:" {
					t.Fatalf("%d %q, want the second URL's answer", resp.StatusCode, body)
				}
				return
			}
			if resp.StatusCode != http.StatusForbidden || body != tt.body {
				t.Fatalf("%d %q, want the 403 passed whole", resp.StatusCode, truncateForLog(body))
			}
			if n := second.count(); n != 0 {
				t.Errorf("the second URL got %d requests", n)
			}
		})
	}
}

func truncateForLog(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// writeInHalves answers status with body in two writes, a flush between
// them (the proxy's bounded read sees it come in pieces), with a
// Content-Length unless chunked.
func writeInHalves(w http.ResponseWriter, status int, body string, chunked bool) {
	if !chunked {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(status)
	io.WriteString(w, body[:len(body)/2])
	w.(http.Flusher).Flush()
	io.WriteString(w, body[len(body)/2:])
}
