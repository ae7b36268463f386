package webhdfstest

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// The pair behaves as the specification says, directly (no gateway).
func TestClusterDirect(t *testing.T) {
	c := Start(t)
	cl := &Client{Base: c.NamenodeURL() + "/v1", HTTP: http.DefaultClient, UserName: "alice"}
	if ok, err := cl.Mkdirs("/tmp/a"); err != nil || !ok {
		t.Fatalf("MKDIRS: %t %v", ok, err)
	}
	loc, err := cl.Create("/tmp/a/f.txt", strings.NewReader("hello"), 5, false)
	if err != nil || loc != "hdfs://localhost:8020/tmp/a/f.txt" {
		t.Fatalf("CREATE: %q %v", loc, err)
	}
	if _, err := cl.Create("/tmp/a/f.txt", strings.NewReader("x"), 1, false); !isRemote(err, "FileAlreadyExistsException") {
		t.Fatalf("second CREATE without overwrite: %v", err)
	}
	if err := cl.Append("/tmp/a/f.txt", strings.NewReader(" world"), 6); err != nil {
		t.Fatal(err)
	}
	rc, err := cl.Open("/tmp/a/f.txt")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "hello world" {
		t.Fatalf("OPEN = %q", b)
	}
	st, err := cl.GetFileStatus("/tmp/a/f.txt")
	if err != nil || st.Owner != "alice" || st.Length != 11 || st.Type != "FILE" {
		t.Fatalf("GETFILESTATUS = %+v, %v", st, err)
	}
	if ok, err := cl.Rename("/tmp/a/f.txt", "/tmp/a/g.txt"); err != nil || !ok {
		t.Fatalf("RENAME: %t %v", ok, err)
	}
	ls, err := cl.ListStatus("/tmp/a")
	if err != nil || len(ls) != 1 || ls[0].PathSuffix != "g.txt" {
		t.Fatalf("LISTSTATUS = %+v, %v", ls, err)
	}
	if _, err := cl.Delete("/tmp", false); !isRemote(err, "PathIsNotEmptyDirectoryException") {
		t.Fatalf("DELETE non-empty: %v", err)
	}
	if ok, err := cl.Delete("/tmp", true); err != nil || !ok {
		t.Fatalf("DELETE: %t %v", ok, err)
	}
	if _, err := cl.GetFileStatus("/tmp/a/g.txt"); !isRemote(err, "FileNotFoundException") {
		t.Fatalf("after DELETE: %v", err)
	}
	// The datanode got the data with the user the namenode passed on.
	var creates int
	for _, r := range c.DatanodeRequests() {
		if r.Query.Get("op") == "CREATE" {
			creates++
			if r.Query.Get("user.name") != "alice" {
				t.Errorf("datanode CREATE as %q", r.Query.Get("user.name"))
			}
		}
	}
	if creates != 1 {
		t.Errorf("%d CREATEs reached the datanode, want 1", creates)
	}
	// No data reached the namenode.
	resp, err := http.Post(c.NamenodeURL()+"/v1/x?op=OPEN", "text/plain", bytes.NewReader(nil))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("POST OPEN: %d, want 400", resp.StatusCode)
	}
}

func isRemote(err error, exception string) bool {
	var re *RemoteError
	return errors.As(err, &re) && re.Exception == exception
}

// A standby namenode refuses every operation with Hadoop's 403
// StandbyException and changes nothing; made active, it serves again. A
// protected path answers AccessControlException to anyone but hdfs.
func TestStandbyAndPermissionDenied(t *testing.T) {
	c := Start(t)
	cl := &Client{Base: c.NamenodeURL() + "/v1", HTTP: http.DefaultClient, UserName: "alice"}
	c.SetStandby(true)
	for name, call := range map[string]func() error{
		"LISTSTATUS":    func() error { _, err := cl.ListStatus("/"); return err },
		"GETFILESTATUS": func() error { _, err := cl.GetFileStatus("/"); return err },
		"MKDIRS":        func() error { _, err := cl.Mkdirs("/a"); return err },
		"CREATE":        func() error { _, err := cl.Create("/f", strings.NewReader("x"), 1, false); return err },
	} {
		var re *RemoteError
		if err := call(); !errors.As(err, &re) || re.Status != http.StatusForbidden || re.Exception != "StandbyException" ||
			!strings.Contains(re.Message, "not supported in state standby") {
			t.Errorf("%s on a standby: %v, want 403 StandbyException", name, err)
		}
	}
	if n := len(c.DatanodeRequests()); n != 0 {
		t.Errorf("a standby sent %d requests to the datanode", n)
	}
	c.SetStandby(false)
	if ls, err := cl.ListStatus("/"); err != nil || len(ls) != 0 {
		t.Fatalf("LISTSTATUS once active: %+v, %v (a standby must have created nothing)", ls, err)
	}

	c.Protect("/secure")
	var re *RemoteError
	if _, err := cl.Mkdirs("/secure/x"); !errors.As(err, &re) || re.Status != http.StatusForbidden || re.Exception != "AccessControlException" {
		t.Fatalf("MKDIRS under a protected path as alice: %v, want 403 AccessControlException", err)
	}
	hdfs := &Client{Base: cl.Base, HTTP: http.DefaultClient, UserName: "hdfs"}
	if ok, err := hdfs.Mkdirs("/secure/x"); err != nil || !ok {
		t.Fatalf("MKDIRS as hdfs: %t %v", ok, err)
	}
}

// A namenode in safe mode refuses its next n namespace changes with
// Hadoop's 403, a RetriableException wrapping the SafeModeException or a
// bare SafeModeException, changing nothing, and serves reads and CREATE
// meanwhile; after n refusals it serves again.
func TestSafeMode(t *testing.T) {
	for _, tc := range []struct {
		retriable        bool
		exception, class string
		message          string
	}{
		{true, "RetriableException", "org.apache.hadoop.ipc.RetriableException",
			"org.apache.hadoop.hdfs.server.namenode.SafeModeException: Cannot create directory /a. Name node is in safe mode.\n"},
		{false, "SafeModeException", "org.apache.hadoop.hdfs.server.namenode.SafeModeException",
			"Cannot create directory /a. Name node is in safe mode.\nIt was turned on manually."},
	} {
		t.Run(tc.exception, func(t *testing.T) {
			c := Start(t)
			cl := &Client{Base: c.NamenodeURL() + "/v1", HTTP: http.DefaultClient, UserName: "alice"}
			c.SetSafeMode(3, tc.retriable)
			var re *RemoteError
			if _, err := cl.Mkdirs("/a"); !errors.As(err, &re) || re.Status != http.StatusForbidden || re.Exception != tc.exception ||
				re.JavaClassName != tc.class || !strings.HasPrefix(re.Message, tc.message) {
				t.Fatalf("MKDIRS in safe mode: %+v, want 403 %s %q…", re, tc.exception, tc.message)
			}
			if _, err := cl.Rename("/a", "/b"); !isRemote(err, tc.exception) {
				t.Fatalf("RENAME in safe mode: %v", err)
			}
			if _, err := cl.ListStatus("/"); err != nil {
				t.Fatalf("LISTSTATUS in safe mode: %v", err)
			}
			if _, err := cl.Create("/f", strings.NewReader("x"), 1, false); err != nil {
				t.Fatalf("CREATE in safe mode: %v", err)
			}
			if _, err := cl.Delete("/f", false); !isRemote(err, tc.exception) {
				t.Fatalf("DELETE in safe mode: %v", err)
			}
			if ls, err := cl.ListStatus("/"); err != nil || len(ls) != 1 || ls[0].PathSuffix != "f" {
				t.Fatalf("LISTSTATUS: %+v %v, want only f (safe mode changed nothing)", ls, err)
			}
			if ok, err := cl.Mkdirs("/a"); err != nil || !ok {
				t.Fatalf("MKDIRS after three refusals: %t %v", ok, err)
			}
			c.SetSafeMode(1, tc.retriable)
			c.SetSafeMode(0, tc.retriable)
			if ok, err := cl.Delete("/f", false); err != nil || !ok {
				t.Fatalf("DELETE after leaving safe mode: %t %v", ok, err)
			}
		})
	}
}

// CREATE makes the missing parent directories, owned by the user, as HDFS
// does (createparent defaults to true): Knox's user guide writes
// /user/guest/example/README without a MKDIRS first. createparent=false
// and a parent that is a file are refused as HDFS refuses them.
func TestCreateParents(t *testing.T) {
	c := Start(t)
	cl := &Client{Base: c.NamenodeURL() + "/v1", HTTP: http.DefaultClient, UserName: "guest"}
	if _, err := cl.Create("/user/guest/example/README", strings.NewReader("hello"), 5, false); err != nil {
		t.Fatalf("CREATE without parents: %v", err)
	}
	for _, d := range []string{"/user", "/user/guest", "/user/guest/example"} {
		if st, err := cl.GetFileStatus(d); err != nil || st.Type != "DIRECTORY" || st.Owner != "guest" {
			t.Errorf("%s: %+v %v, want a directory of guest", d, st, err)
		}
	}
	if _, err := cl.twoStep(http.MethodPut, "/other/f", "CREATE", strings.NewReader("x"), 1, http.StatusCreated, "createparent", "false"); !isRemote(err, "FileNotFoundException") {
		t.Errorf("CREATE createparent=false without the parent: %v", err)
	}
	if _, err := cl.GetFileStatus("/other"); !isRemote(err, "FileNotFoundException") {
		t.Errorf("a refused CREATE made its parent: %v", err)
	}
	if _, err := cl.Create("/user/guest/example/README/f", strings.NewReader("x"), 1, false); !isRemote(err, "ParentNotDirectoryException") {
		t.Errorf("CREATE under a file: %v", err)
	}
}
