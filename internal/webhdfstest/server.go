package webhdfstest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// prefix is WebHDFS's path prefix on namenodes and datanodes.
const prefix = "/webhdfs/v1"

// Cluster is a namenode and a datanode sharing a namespace.
type Cluster struct {
	nn, dn *httptest.Server
	dir    string

	mu     sync.Mutex
	inodes map[string]*inode // by absolute path; "/" always exists
	seq    int
	dnReqs []Request
	nnReqs []Request
	// redirectHost, when set, is the origin the namenode names in its
	// redirects instead of the datanode's (RedirectTo).
	redirectHost string
}

// Request is what a node received: method, path and query.
type Request struct {
	Method, Path string
	Query        url.Values
}

type inode struct {
	dir    bool
	owner  string
	file   string // data file of a FILE
	length int64
	mtime  int64
}

// Start runs a namenode and a datanode on loopback until the test ends.
func Start(t testing.TB) *Cluster {
	t.Helper()
	c := &Cluster{dir: t.TempDir(), inodes: map[string]*inode{"/": {dir: true, owner: "hdfs"}}}
	c.nn = httptest.NewServer(http.HandlerFunc(c.namenode))
	c.dn = httptest.NewServer(http.HandlerFunc(c.datanode))
	t.Cleanup(func() {
		c.nn.Close()
		c.dn.Close()
	})
	return c
}

// NamenodeURL is the namenode's WebHDFS base URL, as a Knox topology names
// it: http://127.0.0.1:PORT/webhdfs.
func (c *Cluster) NamenodeURL() string { return c.nn.URL + "/webhdfs" }

// DatanodeURL is the datanode's origin.
func (c *Cluster) DatanodeURL() string { return c.dn.URL }

// RedirectTo makes the namenode redirect to origin (scheme://host:port)
// instead of its datanode.
func (c *Cluster) RedirectTo(origin string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.redirectHost = origin
}

// DatanodeRequests returns the requests the datanode received.
func (c *Cluster) DatanodeRequests() []Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.dnReqs)
}

// NamenodeRequests returns the requests the namenode received.
func (c *Cluster) NamenodeRequests() []Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.nnReqs)
}

// remoteException answers with Hadoop's error JSON.
func remoteException(w http.ResponseWriter, status int, exception, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"RemoteException": map[string]string{
		"exception": exception, "javaClassName": "java.io." + exception, "message": msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// hdfsPath is the file system path of a request, or false.
func hdfsPath(r *http.Request) (string, bool) {
	rest, ok := strings.CutPrefix(r.URL.Path, prefix)
	if !ok || rest != "" && rest[0] != '/' {
		return "", false
	}
	return path.Clean("/" + rest), true
}

// op is the op parameter, upper case (WebHDFS ops are case-insensitive).
func op(q url.Values) string { return strings.ToUpper(q.Get("op")) }

func (c *Cluster) record(reqs *[]Request, r *http.Request) {
	c.mu.Lock()
	*reqs = append(*reqs, Request{r.Method, r.URL.Path, r.URL.Query()})
	c.mu.Unlock()
}

func (c *Cluster) namenode(w http.ResponseWriter, r *http.Request) {
	c.record(&c.nnReqs, r)
	p, ok := hdfsPath(r)
	if !ok {
		remoteException(w, http.StatusNotFound, "FileNotFoundException", "no WebHDFS path: "+r.URL.Path)
		return
	}
	q := r.URL.Query()
	want := map[string]string{"LISTSTATUS": "GET", "GETFILESTATUS": "GET", "OPEN": "GET", "MKDIRS": "PUT", "CREATE": "PUT", "RENAME": "PUT", "APPEND": "POST", "DELETE": "DELETE"}
	m, known := want[op(q)]
	switch {
	case !known:
		remoteException(w, http.StatusBadRequest, "IllegalArgumentException", "Invalid value for webhdfs parameter \"op\": "+q.Get("op"))
		return
	case r.Method != m:
		remoteException(w, http.StatusBadRequest, "IllegalArgumentException", "Invalid http method "+r.Method+" for op "+op(q))
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch op(q) {
	case "GETFILESTATUS":
		n := c.inodes[p]
		if n == nil {
			remoteException(w, http.StatusNotFound, "FileNotFoundException", "File does not exist: "+p)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"FileStatus": status(n, "")})
	case "LISTSTATUS":
		n := c.inodes[p]
		if n == nil {
			remoteException(w, http.StatusNotFound, "FileNotFoundException", "File "+p+" does not exist.")
			return
		}
		list := []map[string]any{}
		if !n.dir {
			list = append(list, status(n, ""))
		} else {
			var names []string
			for k := range c.inodes {
				if k != "/" && path.Dir(k) == p {
					names = append(names, k)
				}
			}
			slices.Sort(names)
			for _, k := range names {
				list = append(list, status(c.inodes[k], path.Base(k)))
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"FileStatuses": map[string]any{"FileStatus": list}})
	case "MKDIRS":
		for d := p; ; d = path.Dir(d) {
			if n := c.inodes[d]; n != nil {
				if !n.dir {
					remoteException(w, http.StatusForbidden, "FileAlreadyExistsException", "Parent path is not a directory: "+d)
					return
				}
				break
			}
		}
		for d := p; c.inodes[d] == nil; d = path.Dir(d) {
			c.inodes[d] = &inode{dir: true, owner: user(q), mtime: time.Now().UnixMilli()}
		}
		writeJSON(w, http.StatusOK, map[string]bool{"boolean": true})
	case "RENAME":
		dst := q.Get("destination")
		n := c.inodes[p]
		if n == nil || !strings.HasPrefix(dst, "/") || c.inodes[path.Clean(dst)] != nil || c.inodes[path.Dir(path.Clean(dst))] == nil {
			writeJSON(w, http.StatusOK, map[string]bool{"boolean": false})
			return
		}
		dst = path.Clean(dst)
		for k, v := range c.inodes {
			if k == p || strings.HasPrefix(k, p+"/") {
				delete(c.inodes, k)
				c.inodes[dst+k[len(p):]] = v
			}
		}
		writeJSON(w, http.StatusOK, map[string]bool{"boolean": true})
	case "DELETE":
		n := c.inodes[p]
		if n == nil || p == "/" {
			writeJSON(w, http.StatusOK, map[string]bool{"boolean": false})
			return
		}
		var under []string
		for k := range c.inodes {
			if strings.HasPrefix(k, p+"/") {
				under = append(under, k)
			}
		}
		if len(under) > 0 && q.Get("recursive") != "true" {
			remoteException(w, http.StatusForbidden, "PathIsNotEmptyDirectoryException", p+" is non empty")
			return
		}
		for _, k := range append(under, p) {
			if f := c.inodes[k].file; f != "" {
				_ = os.Remove(f)
			}
			delete(c.inodes, k)
		}
		writeJSON(w, http.StatusOK, map[string]bool{"boolean": true})
	case "CREATE":
		if n := c.inodes[p]; n != nil && (n.dir || q.Get("overwrite") != "true") {
			remoteException(w, http.StatusForbidden, "FileAlreadyExistsException", p+" for client already exists")
			return
		}
		if d := c.inodes[path.Dir(p)]; d == nil || !d.dir {
			remoteException(w, http.StatusNotFound, "FileNotFoundException", "Parent directory doesn't exist: "+path.Dir(p))
			return
		}
		c.redirect(w, r, p, q)
	case "APPEND", "OPEN":
		n := c.inodes[p]
		if n == nil || n.dir {
			remoteException(w, http.StatusNotFound, "FileNotFoundException", "File does not exist: "+p)
			return
		}
		c.redirect(w, r, p, q)
	}
}

// redirectLocked is the datanode URL of a request: its parameters, the
// namenode's RPC address, and the user.
func (c *Cluster) redirectLocked(p string, q url.Values) string {
	dq := url.Values{}
	for k, v := range q {
		if k != "noredirect" {
			dq[k] = v
		}
	}
	dq.Set("namenoderpcaddress", "localhost:8020")
	origin := c.dn.URL
	if c.redirectHost != "" {
		origin = c.redirectHost
	}
	return origin + prefix + (&url.URL{Path: p}).EscapedPath() + "?" + dq.Encode()
}

// redirect sends the client to the datanode (307), or answers the
// Location as JSON under noredirect=true.
func (c *Cluster) redirect(w http.ResponseWriter, r *http.Request, p string, q url.Values) {
	loc := c.redirectLocked(p, q)
	if q.Get("noredirect") == "true" {
		writeJSON(w, http.StatusOK, map[string]string{"Location": loc})
		return
	}
	w.Header().Set("Location", loc)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusTemporaryRedirect)
}

func user(q url.Values) string {
	if u := q.Get("user.name"); u != "" {
		return u
	}
	return "dr.who"
}

func status(n *inode, suffix string) map[string]any {
	typ, perm := "FILE", "644"
	if n.dir {
		typ, perm = "DIRECTORY", "755"
	}
	return map[string]any{"accessTime": n.mtime, "blockSize": 134217728, "group": "supergroup", "length": n.length,
		"modificationTime": n.mtime, "owner": n.owner, "pathSuffix": suffix, "permission": perm, "replication": 1, "type": typ,
		"childrenNum": 0, "fileId": 16386, "storagePolicy": 0}
}

// datanode serves CREATE (201), APPEND (200) and OPEN (200, offset and
// length) of the URLs the namenode redirected to, streaming to and from
// disk.
func (c *Cluster) datanode(w http.ResponseWriter, r *http.Request) {
	c.record(&c.dnReqs, r)
	p, ok := hdfsPath(r)
	q := r.URL.Query()
	if !ok || q.Get("namenoderpcaddress") == "" {
		remoteException(w, http.StatusBadRequest, "IllegalArgumentException", "namenoderpcaddress is not specified.")
		return
	}
	switch op(q) {
	case "CREATE":
		if r.Method != http.MethodPut {
			remoteException(w, http.StatusBadRequest, "IllegalArgumentException", "Invalid http method "+r.Method)
			return
		}
		c.mu.Lock()
		c.seq++
		file := filepath.Join(c.dir, strconv.Itoa(c.seq))
		if d := c.inodes[path.Dir(p)]; d == nil || !d.dir {
			c.mu.Unlock()
			remoteException(w, http.StatusNotFound, "FileNotFoundException", "Parent directory doesn't exist: "+path.Dir(p))
			return
		}
		c.mu.Unlock()
		n, err := writeFile(file, r.Body, os.O_CREATE|os.O_TRUNC|os.O_WRONLY)
		if err != nil {
			remoteException(w, http.StatusInternalServerError, "IOException", err.Error())
			return
		}
		c.mu.Lock()
		if old := c.inodes[p]; old != nil && old.file != "" {
			_ = os.Remove(old.file)
		}
		c.inodes[p] = &inode{owner: user(q), file: file, length: n, mtime: time.Now().UnixMilli()}
		c.mu.Unlock()
		w.Header().Set("Location", "hdfs://localhost:8020"+p)
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusCreated)
	case "APPEND":
		c.mu.Lock()
		node := c.inodes[p]
		c.mu.Unlock()
		if node == nil || node.dir {
			remoteException(w, http.StatusNotFound, "FileNotFoundException", "File does not exist: "+p)
			return
		}
		n, err := writeFile(node.file, r.Body, os.O_APPEND|os.O_WRONLY)
		if err != nil {
			remoteException(w, http.StatusInternalServerError, "IOException", err.Error())
			return
		}
		c.mu.Lock()
		node.length += n
		c.mu.Unlock()
		w.Header().Set("Content-Length", "0")
	case "OPEN":
		c.mu.Lock()
		node := c.inodes[p]
		c.mu.Unlock()
		if node == nil || node.dir {
			remoteException(w, http.StatusNotFound, "FileNotFoundException", "File does not exist: "+p)
			return
		}
		f, err := os.Open(node.file)
		if err != nil {
			remoteException(w, http.StatusInternalServerError, "IOException", err.Error())
			return
		}
		defer f.Close()
		off, _ := strconv.ParseInt(q.Get("offset"), 10, 64)
		length := node.length - off
		if l, err := strconv.ParseInt(q.Get("length"), 10, 64); err == nil && l < length {
			length = l
		}
		if off < 0 || length < 0 {
			remoteException(w, http.StatusBadRequest, "IllegalArgumentException", fmt.Sprintf("offset %d is out of range", off))
			return
		}
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			remoteException(w, http.StatusInternalServerError, "IOException", err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(length, 10))
		_, _ = io.CopyN(w, f, length)
	default:
		remoteException(w, http.StatusBadRequest, "IllegalArgumentException", "Invalid operation "+q.Get("op"))
	}
}

func writeFile(name string, r io.Reader, flag int) (int64, error) {
	f, err := os.OpenFile(name, flag, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}
