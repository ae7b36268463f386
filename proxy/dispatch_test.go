package proxy_test

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy"
	"github.com/securegw/gateway/proxy/frontend"
)

func TestForwardedHeaders(t *testing.T) {
	spoofs := []string{
		"X-Forwarded-For", "6.6.6.6", "X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https",
		"X-Forwarded-Port", "1", "X-Forwarded-Context", "/evil", "Forwarded", "for=6.6.6.6",
		"X_Forwarded_For", "6.6.6.6", "x.forwarded.host", "evil.example",
		"X-Forwarded-User", "admin", "X_Forwarded_User", "admin", "SM_USER", "admin", "Sm-User", "admin",
		"X-Test-User", "admin", "x_test_user", "admin",
		"X-Request-Id", "client-id-1",
	}
	tests := []struct {
		name    string
		trusted bool
		want    map[string]string // header → value the backend must see ("" absent)
	}{
		{"untrusted peer", false, map[string]string{
			"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": "gw.example", "X-Forwarded-Proto": "http",
			"X-Forwarded-Port": "80", "X-Forwarded-Context": "/gateway/t", "Forwarded": "",
			"X_Forwarded_For": "", "X.forwarded.host": "", "X-Forwarded-User": "", "X_Forwarded_User": "",
			"Sm_user": "", "Sm-User": "", "X-Test-User": "", "X_test_user": "", "X-Request-Id": "client-id-1",
		}},
		{"trusted peer", true, map[string]string{
			"X-Forwarded-For": "6.6.6.6, 127.0.0.1", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https",
			"X-Forwarded-Port": "1", "X-Forwarded-Context": "/evil",
			"Forwarded": `for=6.6.6.6, for=127.0.0.1;host="gw.example";proto=http`,
			// identity headers are stripped even from trusted peers; only validators may accept them
			"X_Forwarded_For": "", "X.forwarded.host": "", "X-Forwarded-User": "", "Sm_user": "", "X-Test-User": "",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, trustingConfig(tc.trusted))
			b := newBackend(t, nil)
			top := &topology.Topology{Name: "t", Services: []topology.Service{svc("svc", b.URL)},
				Providers: []topology.Provider{{Role: "authentication", Name: "test-auth"}}}
			e.deploy(top)
			resp, body := rawGet(t, e.addr(), "/gateway/t/svc/x", append(spoofs, "X-Test-Token", "let-me-in")...)
			if resp == nil || resp.StatusCode != 200 {
				t.Fatalf("%v %s", resp, body)
			}
			got := b.last().Header
			for k, v := range tc.want {
				vals, present := got[k]
				if v == "" && present {
					t.Errorf("%s reached the backend: %q", k, vals)
				}
				if v != "" && strings.Join(vals, ",") != v {
					t.Errorf("%s = %q, want %q", k, vals, v)
				}
			}
		})
	}
}

// A request that named no host (HTTP/1.0 without Host, or an empty Host)
// gets the backend no X-Forwarded-Host, not an empty one a backend would
// build broken URLs from; X-Forwarded-For, -Proto and -Port are told as
// ever. A trusted proxy's X-Forwarded-Host is still the host told (an
// empty one is none), an untrusted peer's is still dropped, a public URL
// still wins. The element the gateway adds to a trusted proxy's Forwarded
// has no host parameter either, rather than host="". Both fronts.
func TestNoHostNoForwardedHost(t *testing.T) {
	tests := []struct {
		name    string
		cfg     proxy.Config
		head    string // the request's head after its request line
		xfh     string // the X-Forwarded-Host the backend gets, "-" none
		xfPort  string
		xfProto string
		fwd     string // the Forwarded the backend gets ("": not checked)
	}{
		{"HTTP/1.0 without Host", proxyConfig(), "HTTP/1.0\r\n", "-", "80", "http", ""},
		{"HTTP/1.0 with an empty Host", proxyConfig(), "HTTP/1.0\r\nHost:\r\n", "-", "80", "http", ""},
		{"HTTP/1.1 with an empty Host", proxyConfig(), "HTTP/1.1\r\nHost: \r\nConnection: close\r\n", "-", "80", "http", ""},
		{"HTTP/1.0 with a Host", proxyConfig(), "HTTP/1.0\r\nHost: gw.example:8080\r\n", "gw.example:8080", "8080", "http", ""},
		{"untrusted peer's X-Forwarded-Host, no Host", proxyConfig(), "HTTP/1.0\r\nX-Forwarded-Host: evil.example\r\n", "-", "80", "http", ""},
		{"trusted proxy's X-Forwarded-Host, no Host", trustingConfig(true),
			"HTTP/1.0\r\nX-Forwarded-Host: proxy.example:8443\r\nX-Forwarded-Proto: https\r\n", "proxy.example:8443", "8443", "https", ""},
		{"trusted proxy's X-Forwarded-Host over the Host", trustingConfig(true),
			"HTTP/1.0\r\nHost: gw.internal:9999\r\nX-Forwarded-Host: proxy.example\r\n", "proxy.example", "80", "http", ""},
		{"trusted proxy, no host at all", trustingConfig(true), "HTTP/1.0\r\n", "-", "80", "http", ""},
		{"trusted proxy's empty X-Forwarded-Host, no Host", trustingConfig(true), "HTTP/1.0\r\nX-Forwarded-Host:\r\n", "-", "80", "http", ""},
		{"public URL, no Host", proxy.Config{PublicURL: "https://gw.example.com"}, "HTTP/1.0\r\n", "gw.example.com", "443", "https", ""},
		{"trusted proxy's Forwarded, no Host", trustingConfig(true), "HTTP/1.0\r\nForwarded: for=10.0.0.1\r\n", "-", "80", "http",
			"for=10.0.0.1, for=127.0.0.1;proto=http"},
		{"trusted proxy's Forwarded, a Host", trustingConfig(true), "HTTP/1.0\r\nHost: gw.example\r\nForwarded: for=10.0.0.1\r\n", "gw.example", "80", "http",
			`for=10.0.0.1, for=127.0.0.1;host="gw.example";proto=http`},
	}
	b := newBackend(t, nil)
	for _, kind := range []string{frontend.KindLean, frontend.KindNetHTTP} {
		for _, tc := range tests {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				e := newEnv(t, tc.cfg)
				e.fe = newTestFront(t, e.p, kind)
				e.deploy(topo("t", svc("s", b.URL)))
				resp, body := rawRoundTrip(t, e.addr(), "GET /gateway/t/s/x "+tc.head+"\r\n")
				if resp == nil || resp.StatusCode != 200 {
					t.Fatalf("%v %s", resp, body)
				}
				h := b.last().Header
				xfh, told := h["X-Forwarded-Host"]
				if tc.xfh == "-" && told || tc.xfh != "-" && strings.Join(xfh, ",") != tc.xfh {
					t.Errorf("X-Forwarded-Host %q (told %v), want %q", xfh, told, tc.xfh)
				}
				if got := h.Values("X-Forwarded-Port"); len(got) != 1 || got[0] != tc.xfPort {
					t.Errorf("X-Forwarded-Port %q, want %q", got, tc.xfPort)
				}
				if got := h.Values("X-Forwarded-Proto"); len(got) != 1 || got[0] != tc.xfProto {
					t.Errorf("X-Forwarded-Proto %q, want %q", got, tc.xfProto)
				}
				if got := h.Values("X-Forwarded-For"); len(got) != 1 || got[0] != "127.0.0.1" {
					t.Errorf("X-Forwarded-For %q, want 127.0.0.1", got)
				}
				if got := h.Values("Forwarded"); tc.fwd != "" && (len(got) != 1 || got[0] != tc.fwd) {
					t.Errorf("Forwarded %q, want %q", got, tc.fwd)
				}
			})
		}
	}
}

// A trusted proxy's X-Forwarded-Host without X-Forwarded-Port: the port
// the backend is told is that host's, else the default of the scheme told
// (its X-Forwarded-Proto, else the connection's), never the port of the
// Host its own request to the gateway carried (Knox's getForwardedPort;
// Spring's forwarded-header reading). An untrusted peer's are ignored: the
// Host's port, else the connection's scheme's.
func TestForwardedPort(t *testing.T) {
	tests := []struct {
		name    string
		trusted bool
		host    string
		hdr     []string
		want    string
	}{
		{"the forwarded host's port", true, "gw.internal:9999", []string{"X-Forwarded-Host", "gw.example.com:8443"}, "8443"},
		{"no port, https told", true, "gw.internal:9999", []string{"X-Forwarded-Host", "gw.example.com", "X-Forwarded-Proto", "https"}, "443"},
		{"no port, http told", true, "gw.internal:9999", []string{"X-Forwarded-Host", "gw.example.com", "X-Forwarded-Proto", "HTTP"}, "80"},
		{"no port, no scheme told: the connection's", true, "gw.internal:9999", []string{"X-Forwarded-Host", "gw.example.com"}, "80"},
		{"scheme only: the Host's port", true, "gw.example.com:9999", []string{"X-Forwarded-Proto", "https"}, "9999"},
		{"scheme only, a Host without port", true, "gw.example.com", []string{"X-Forwarded-Proto", "https"}, "443"},
		{"IPv6 with a port", true, "gw.internal:9999", []string{"X-Forwarded-Host", "[2001:db8::1]:8443"}, "8443"},
		{"IPv6 without a port", true, "gw.internal:9999", []string{"X-Forwarded-Host", "[2001:db8::1]", "X-Forwarded-Proto", "https"}, "443"},
		{"lists: the first elements (the client's)", true, "gw.internal:9999",
			[]string{"X-Forwarded-Host", "gw.example.com, proxy2.internal:81", "X-Forwarded-Proto", "https, http"}, "443"},
		{"X-Forwarded-Port kept", true, "gw.internal:9999", []string{"X-Forwarded-Host", "gw.example.com:8443", "X-Forwarded-Port", "7443"}, "7443"},
		{"untrusted: the Host's port", false, "gw.example.com:9999", []string{"X-Forwarded-Host", "evil.example:1"}, "9999"},
		{"untrusted: the connection's scheme", false, "gw.example.com", []string{"X-Forwarded-Host", "evil.example:1", "X-Forwarded-Proto", "https"}, "80"},
	}
	b := newBackend(t, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, trustingConfig(tc.trusted))
			e.deploy(topo("t", svc("svc", b.URL)))
			raw := "GET /gateway/t/svc/x HTTP/1.1\r\nHost: " + tc.host + "\r\nConnection: close\r\n"
			for i := 0; i+1 < len(tc.hdr); i += 2 {
				raw += tc.hdr[i] + ": " + tc.hdr[i+1] + "\r\n"
			}
			resp, body := rawRoundTrip(t, e.addr(), raw+"\r\n")
			if resp == nil || resp.StatusCode != 200 {
				t.Fatalf("%v %s", resp, body)
			}
			if got := b.last().Header.Values("X-Forwarded-Port"); len(got) != 1 || got[0] != tc.want {
				t.Errorf("X-Forwarded-Port %q, want %q", got, tc.want)
			}
		})
	}
}

// A client's Connection header naming the gateway's headers must not
// remove them (ReverseProxy drops what Connection names before Rewrite).
func TestConnectionHeaderCannotRemoveGatewayHeaders(t *testing.T) {
	e := newEnv(t, proxyConfig())
	b := newBackend(t, nil)
	top := topo("t", svc("svc", b.URL))
	top.Providers = append(top.Providers, topology.Provider{Role: "custom", Name: "header",
		Params: map[string]string{"name": "X-Gateway-Added", "value": "yes"}})
	e.deploy(top)
	for _, conn := range []string{
		"X-Forwarded-For, X-Forwarded-Host, X-Forwarded-Proto, X-Forwarded-Port, X-Forwarded-Context, X-Request-Id, X-Gateway-Added",
		"x-forwarded-for, X-FORWARDED-CONTEXT, x-request-id, x-gateway-added, close",
	} {
		resp, body := rawGet(t, e.addr(), "/gateway/t/svc/", "Connection", conn, "X-Request-Id", "rid-7")
		if resp == nil || resp.StatusCode != 200 {
			t.Fatalf("%v %s", resp, body)
		}
		h := b.last().Header
		for _, k := range []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Forwarded-Context", "X-Request-Id", "X-Gateway-Added"} {
			if h.Get(k) == "" {
				t.Errorf("Connection: %s removed %s", conn, k)
			}
		}
		if h.Get("X-Request-Id") != "rid-7" || resp.Header.Get("X-Request-Id") != "rid-7" {
			t.Errorf("request id %q/%q", h.Get("X-Request-Id"), resp.Header.Get("X-Request-Id"))
		}
	}
}

// Server-sent events arrive one by one: the proxy does not buffer.
func TestStreamingResponse(t *testing.T) {
	e := newEnv(t, proxyConfig())
	next := make(chan struct{})
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; i < 3; i++ {
			io.WriteString(w, "data: event\n\n")
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
		}
	})
	e.deploy(topo("t", svc("events", b.URL)))
	resp, err := e.fe.Client().Get(e.fe.URL + "/gateway/t/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for i := 0; i < 3; i++ {
		// Each event must arrive before the backend is allowed to send the next.
		line, err := br.ReadString('\n')
		if err != nil || line != "data: event\n" {
			t.Fatalf("event %d: %q %v", i, line, err)
		}
		br.ReadString('\n')
		next <- struct{}{}
	}
}

// A request body is streamed: the backend reads the first part before the
// client has sent the second.
func TestStreamingRequest(t *testing.T) {
	e := newEnv(t, proxyConfig())
	gotFirst := make(chan struct{})
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 5)
		if _, err := io.ReadFull(r.Body, buf); err != nil || string(buf) != "first" {
			http.Error(w, "bad first part", 400)
			return
		}
		close(gotFirst)
		rest, _ := io.ReadAll(r.Body)
		w.Write(rest)
	})
	e.deploy(topo("t", svc("up", b.URL)))
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte("first"))
		<-gotFirst
		pw.Write([]byte("second"))
		pw.Close()
	}()
	resp, body := e.do("POST", "/gateway/t/up", pr)
	if resp.StatusCode != 200 || body != "second" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
}

// Large bodies in both directions go through with bounded memory: the
// bytes allocated while moving 64 MiB are a small fraction of it.
func TestLargeBodiesBoundedMemory(t *testing.T) {
	const size = 64 << 20
	e := newEnv(t, proxyConfig())
	chunk := bytes.Repeat([]byte("x"), 32<<10)
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			n, _ := io.Copy(io.Discard, r.Body)
			io.WriteString(w, itoa(n))
			return
		}
		for sent := 0; sent < size; sent += len(chunk) {
			w.Write(chunk)
		}
	})
	e.deploy(topo("t", svc("big", b.URL)))
	measure := func(f func()) uint64 {
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		f()
		runtime.ReadMemStats(&m1)
		return m1.TotalAlloc - m0.TotalAlloc
	}
	down := measure(func() {
		resp, err := e.fe.Client().Get(e.fe.URL + "/gateway/t/big")
		if err != nil {
			t.Fatal(err)
		}
		n, _ := io.CopyBuffer(io.Discard, resp.Body, make([]byte, 32<<10))
		resp.Body.Close()
		if n != size {
			t.Fatalf("downloaded %d", n)
		}
	})
	up := measure(func() {
		resp, body := e.do("POST", "/gateway/t/big", io.LimitReader(zeros{}, size))
		if resp.StatusCode != 200 || body != itoa(size) {
			t.Fatalf("upload: %d %q", resp.StatusCode, body)
		}
	})
	t.Logf("allocated while moving 64 MiB: download %d KiB, upload %d KiB", down>>10, up>>10)
	if down > size/8 || up > size/8 {
		t.Fatalf("allocations grow with the body: download %d, upload %d bytes", down, up)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestTrailers(t *testing.T) {
	e := newEnv(t, proxyConfig())
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		io.WriteString(w, "body")
		w.Header().Set("X-Checksum", "abc123")
	})
	e.deploy(topo("t", svc("svc", b.URL)))
	resp, err := e.fe.Client().Get(e.fe.URL + "/gateway/t/svc")
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Trailer.Get("X-Checksum") != "abc123" {
		t.Fatalf("trailer %v", resp.Trailer)
	}
}

// Expect: 100-continue reaches the backend: a backend refusing without
// reading means the client never sends its body.
func TestExpectContinue(t *testing.T) {
	e := newEnv(t, proxyConfig())
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Refuse") != "" {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.Write(body)
	})
	e.deploy(topo("t", svc("svc", b.URL)))
	tr := &http.Transport{ExpectContinueTimeout: 10 * time.Second}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	for _, refuse := range []bool{false, true} {
		body := &countingReader{r: strings.NewReader("payload")}
		req, _ := http.NewRequest("PUT", e.fe.URL+"/gateway/t/svc/f", io.NopCloser(body))
		req.ContentLength = 7
		req.Header.Set("Expect", "100-continue")
		if refuse {
			req.Header.Set("X-Refuse", "1")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case !refuse && (resp.StatusCode != 200 || string(got) != "payload"):
			t.Fatalf("continue: %d %q", resp.StatusCode, got)
		case refuse && (resp.StatusCode != 403 || body.n.Load() != 0):
			t.Fatalf("refused: %d, body read %d times", resp.StatusCode, body.n.Load())
		}
	}
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) { c.n.Add(1); return c.r.Read(p) }

func TestMaxBodyBytes(t *testing.T) {
	e := newEnv(t, proxyConfig())
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, "short body", 400)
			return
		}
		io.WriteString(w, itoa(n))
	})
	s := svc("svc", b.URL)
	s.Dispatch = &topology.Dispatch{MaxBodyBytes: 1000}
	e.deploy(topo("t", s))
	tests := []struct {
		name    string
		size    int
		chunked bool
		status  int
		reached string // the backend saw the request: yes, no, or maybe (the
		// limit may be crossed before the request's headers were flushed)
	}{
		{"at limit", 1000, false, 200, "yes"},
		{"declared too large", 1001, false, 413, "no"},
		{"chunked at limit", 1000, true, 200, "yes"},
		{"chunked too large", 100000, true, 413, "maybe"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := b.count()
			var body io.Reader = strings.NewReader(strings.Repeat("a", tc.size))
			if tc.chunked {
				body = io.MultiReader(body) // unknown length: chunked
			}
			resp, out := e.do("POST", "/gateway/t/svc", body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, out, tc.status)
			}
			if reached := b.count() > before; tc.reached != "maybe" && reached != (tc.reached == "yes") {
				t.Fatalf("backend reached %v, want %v", reached, tc.reached)
			}
		})
	}
}

// Upgrade offers to a service without websocket: true are ignored.
func TestUpgradeIgnoredOnPlainService(t *testing.T) {
	e := newEnv(t, proxyConfig())
	b := newBackend(t, nil)
	e.deploy(topo("t", svc("svc", b.URL)))
	resp, body := rawGet(t, e.addr(), "/gateway/t/svc/", "Connection", "Upgrade", "Upgrade", "websocket",
		"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version", "13")
	if resp == nil || resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("%v %q", resp, body)
	}
	if h := b.last().Header; h.Get("Upgrade") != "" {
		t.Fatalf("backend saw Upgrade: %v", h)
	}
}
