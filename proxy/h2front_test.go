package proxy_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy"
)

// Through an HTTP/2 front (TLS, as browsers use it): small answers, a large
// one, a streamed one that arrives event by event, a request body of
// unknown length (chunked to the HTTP/1.1 backend), and trailers.
func TestHTTP2Front(t *testing.T) {
	e := newEnv(t, proxyConfig())
	big := strings.Repeat("0123456789abcdef", 64<<10) // 1 MiB
	next := make(chan struct{})
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			io.WriteString(w, big)
		case "/events":
			w.Header().Set("Content-Type", "text/event-stream")
			for i := 0; i < 2; i++ {
				io.WriteString(w, "data: "+string(rune('a'+i))+"\n\n")
				w.(http.Flusher).Flush()
				<-next
			}
		case "/echo": // reads the body first: an HTTP/1 server may not read after writing
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("Trailer", "X-Count")
			w.Write(body)
			w.Header().Set("X-Count", itoa(int64(len(body))))
		default:
			io.WriteString(w, "ok")
		}
	})
	e.deploy(topo("t", svc("s", b.URL)))
	fe := httptest.NewUnstartedServer(e.p)
	fe.EnableHTTP2 = true
	fe.StartTLS()
	t.Cleanup(fe.Close)
	client := fe.Client()

	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := client.Get(fe.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.ProtoMajor != 2 {
			t.Fatalf("%s: served over %s, want HTTP/2", path, resp.Proto)
		}
		return resp, string(body)
	}
	if resp, body := get("/gateway/t/s/x"); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("small: %d %q", resp.StatusCode, body)
	}
	if resp, body := get("/gateway/t/s/big"); resp.StatusCode != 200 || body != big {
		t.Fatalf("big: %d, %d bytes", resp.StatusCode, len(body))
	}

	// Each event reaches the client before the backend sends the next.
	resp, err := client.Get(fe.URL + "/gateway/t/s/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for i := 0; i < 2; i++ {
		got := make(chan string, 1)
		go func() {
			line, _ := br.ReadString('\n')
			br.ReadString('\n')
			got <- line
		}()
		select {
		case line := <-got:
			if want := "data: " + string(rune('a'+i)) + "\n"; line != want {
				t.Fatalf("event %d: %q, want %q", i, line, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("event %d did not arrive while the backend waited", i)
		}
		next <- struct{}{}
	}

	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte(strings.Repeat("x", 100000)))
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", fe.URL+"/gateway/t/s/echo", pr)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || n != 100000 || resp.Trailer.Get("X-Count") != "100000" {
		t.Fatalf("echo: %d, %d bytes, trailer %v", resp.StatusCode, n, resp.Trailer)
	}
}

// sentZeros is n zero bytes; sent counts what was read of them.
type sentZeros struct {
	n    int64
	sent atomic.Int64
}

func (z *sentZeros) Read(p []byte) (int, error) {
	k := min(int64(len(p)), z.n-z.sent.Load())
	if k <= 0 {
		return 0, io.EOF
	}
	clear(p[:k])
	z.sent.Add(k)
	return int(k), nil
}

// stalledBody sends n zero bytes, then blocks until it is closed.
type stalledBody struct {
	sentZeros
	closed    chan struct{}
	closeOnce sync.Once
}

func newStalledBody(n int64) *stalledBody {
	return &stalledBody{sentZeros: sentZeros{n: n}, closed: make(chan struct{})}
}

func (b *stalledBody) Read(p []byte) (int, error) {
	if n, err := b.sentZeros.Read(p); err == nil {
		return n, nil
	}
	<-b.closed
	return 0, io.ErrClosedPipe
}

func (b *stalledBody) Close() error {
	b.closeOnce.Do(func() { close(b.closed) })
	return nil
}

// An HTTP/2 client the backend redirects before it read the body gets the
// redirect at once and the stream's end without the rest of the body (Go's
// client stops sending on an answer >= 300; a client that keeps sending is
// TestHTTP2RedirectDrain's); any other early answer ends the stream as
// before: the gateway does not take a body nobody wants. The drain is
// bounded in all, max_body_bytes or not: past its bytes or its time, the
// stream is reset.
func TestHTTP2EarlyAnswerBody(t *testing.T) {
	e := newEnv(t, proxyConfig())
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			w.Header().Set("Location", "/elsewhere")
			w.WriteHeader(http.StatusTemporaryRedirect)
			return
		}
		w.WriteHeader(http.StatusForbidden)
	})
	limited := svc("lim", b.URL)
	limited.Dispatch = &topology.Dispatch{MaxBodyBytes: 4 << 20}
	e.deploy(topo("t", svc("s", b.URL), limited))
	fe := httptest.NewUnstartedServer(e.p)
	fe.EnableHTTP2 = true
	fe.StartTLS()
	t.Cleanup(fe.Close)
	client := fe.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	const size = 32 << 20
	for _, tc := range []struct {
		path        string
		status      int
		readWhole   bool
		stall       bool          // the client stops sending after 1 MiB
		drainBytes  int64         // the drain's total bounds; 0: the defaults
		drainTime   time.Duration //
		description string
	}{
		{"/s/redirect", http.StatusTemporaryRedirect, false, false, 0, 0, "redirected: the answer comes before the body's end"},
		{"/s/forbidden", http.StatusForbidden, false, false, 0, 0, "refused: the stream is reset, the body not read"},
		{"/lim/redirect", http.StatusTemporaryRedirect, false, false, 0, 0, "redirected, max_body_bytes 4 MiB, no length: read up to the limit only"},
		{"/s/redirect", http.StatusTemporaryRedirect, false, false, 4 << 20, time.Minute, "redirected, no max_body_bytes, drain bound 4 MiB: read up to the bound only"},
		{"/s/redirect", http.StatusTemporaryRedirect, false, true, 1 << 30, 500 * time.Millisecond, "redirected, no max_body_bytes, the client stalls, drain bound 500 ms: the stream ends then"},
	} {
		if tc.drainBytes != 0 {
			restore := proxy.SetDrainBounds(tc.drainBytes, tc.drainTime)
			defer restore()
		}
		var body io.Reader
		var sent *atomic.Int64
		if tc.stall {
			sb := newStalledBody(1 << 20)
			t.Cleanup(func() { sb.Close() })
			body, sent = sb, &sb.sent
		} else {
			z := &sentZeros{n: size}
			body, sent = z, &z.sent
		}
		req, _ := http.NewRequest(http.MethodPut, fe.URL+"/gateway/t"+tc.path, body)
		req.ContentLength = size
		if strings.HasPrefix(tc.path, "/lim/") {
			req.ContentLength = -1 // chunked: max_body_bytes is met while the body streams
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.description, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || resp.ProtoMajor != 2 {
			t.Fatalf("%s: %s %d, want HTTP/2 %d", tc.description, resp.Proto, resp.StatusCode, tc.status)
		}
		if got := sent.Load() == size; got != tc.readWhole {
			t.Fatalf("%s: the client sent %d of %d bytes", tc.description, sent.Load(), size)
		}
		if tc.stall {
			if took := time.Since(start); took > 15*time.Second {
				t.Fatalf("%s: the exchange took %v", tc.description, took)
			}
		} else if tc.drainBytes != 0 && sent.Load() > 2*tc.drainBytes+(8<<20) {
			// The client's sending runs ahead of the gateway's reading by
			// the HTTP/2 flow-control windows only.
			t.Fatalf("%s: the client sent %d bytes, past the bound's %d and the windows", tc.description, sent.Load(), tc.drainBytes)
		}
	}
}

// h2Event is what a raw HTTP/2 client saw of stream 1: the answer's head,
// its end, a reset, or the connection's end.
type h2Event struct {
	head, end, reset bool
	err              error
}

// h2Put opens a raw HTTP/2 connection to addr (TLS), sends the head of a
// PUT of path as stream 1 and returns the framer, to send the body with,
// and the server's frames of the stream, read aside.
func h2Put(t *testing.T, addr, path string) (*http2.Framer, <-chan h2Event) {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	for { // the server's settings, acknowledged before any other write
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			if err := fr.WriteSettingsAck(); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "PUT"}, {":scheme", "https"}, {":authority", addr}, {":path", path}} {
		_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	events := make(chan h2Event, 64)
	go func() { // reads only: the framer's writes are the test's
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				events <- h2Event{err: err}
				return
			}
			switch f := f.(type) {
			case *http2.HeadersFrame:
				if f.StreamID == 1 {
					events <- h2Event{head: true, end: f.StreamEnded()}
				}
			case *http2.DataFrame:
				if f.StreamID == 1 && f.StreamEnded() {
					events <- h2Event{end: true}
				}
			case *http2.RSTStreamFrame:
				if f.StreamID == 1 {
					events <- h2Event{reset: true}
				}
			case *http2.GoAwayFrame:
				events <- h2Event{err: fmt.Errorf("GOAWAY %v", f.ErrCode)}
			}
		}
	}()
	return fr, events
}

// A client that keeps sending its body after the backend's early redirect
// (curl before 8 does until the answer's head, and fails a stream reset
// while it sends) gets the answer's head while it sends, and the stream's
// end without a reset once it ended its body; one that sends on past the
// drain's bytes, or trickles past its time, has the stream reset.
func TestHTTP2RedirectDrain(t *testing.T) {
	e := newEnv(t, proxyConfig())
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "/elsewhere")
		w.WriteHeader(http.StatusTemporaryRedirect)
	})
	e.deploy(topo("t", svc("s", b.URL)))
	fe := httptest.NewUnstartedServer(e.p)
	fe.EnableHTTP2 = true
	fe.StartTLS()
	t.Cleanup(fe.Close)
	t.Cleanup(proxy.SetDrainBounds(256<<10, time.Minute))
	chunk := make([]byte, 16<<10)

	// untilHead sends the body until the answer's head came: within the
	// first flow-control windows (64 KiB, then the server's 1 MiB).
	untilHead := func(fr *http2.Framer, events <-chan h2Event) {
		t.Helper()
		for sent := 0; ; sent += len(chunk) {
			if sent > 512<<10 {
				t.Fatal("no answer while the client sends")
			}
			if err := fr.WriteData(1, false, chunk); err != nil {
				t.Fatal(err)
			}
			select {
			case ev := <-events:
				if ev.err != nil || ev.reset || !ev.head || ev.end {
					t.Fatalf("before the body's end: %+v, want the answer's head", ev)
				}
				return
			case <-time.After(20 * time.Millisecond): // paces the sender: the answer is waited for by sending
			}
		}
	}

	fr, events := h2Put(t, fe.Listener.Addr().String(), "/gateway/t/s/file")
	untilHead(fr, events)
	for range 4 { // the client goes on sending, within the bound, then ends its body
		if err := fr.WriteData(1, false, chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := fr.WriteData(1, true, nil); err != nil {
		t.Fatal(err)
	}
	if ev := <-events; !ev.end || ev.reset || ev.err != nil {
		t.Fatalf("after the body's end: %+v, want the stream's end without a reset", ev)
	}

	fr, events = h2Put(t, fe.Listener.Addr().String(), "/gateway/t/s/file")
	untilHead(fr, events)
	// Past the bytes: the answer ends and the stream is reset.
	untilReset(t, fr, events, chunk, 5*time.Millisecond, "the drain's bytes")

	// A byte every 100 ms keeps each read within the stall bound; the
	// drain's time (here 500 ms) ends it.
	defer proxy.SetDrainBounds(1<<30, 500*time.Millisecond)()
	fr, events = h2Put(t, fe.Listener.Addr().String(), "/gateway/t/s/file")
	untilHead(fr, events)
	untilReset(t, fr, events, chunk[:1], 100*time.Millisecond, "the drain's time")
}

// untilReset sends piece every pace (at most 48 times, well within the
// flow-control windows) until the server ends its answer and resets the
// stream, past what.
func untilReset(t *testing.T, fr *http2.Framer, events <-chan h2Event, piece []byte, pace time.Duration, what string) {
	t.Helper()
	for range 48 {
		if err := fr.WriteData(1, false, piece); err != nil {
			t.Fatal(err)
		}
		select {
		case ev := <-events:
			if !ev.end {
				t.Fatalf("past %s: %+v, want the answer's end", what, ev)
			}
			if ev := <-events; !ev.reset {
				t.Fatalf("past %s, after the answer's end: %+v, want the stream reset", what, ev)
			}
			return
		case <-time.After(pace): // paces the sender: the end is waited for by sending
		}
	}
	t.Fatalf("the drain read on past %s", what)
}
