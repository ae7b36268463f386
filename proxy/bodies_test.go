package proxy_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// Large bodies through a TLS front (where the kernel cannot splice): a
// download of known length, one of unknown length (chunked, with a
// trailer; also through the plain front) and uploads of known and unknown
// length arrive whole and in order, and a client that leaves mid-download frees the
// backend's connection (the backend sees its request end) while the
// backend is silent.
func TestLargeBodiesThroughTLSFront(t *testing.T) {
	e := newEnv(t, proxyConfig())
	data := make([]byte, 3<<20+17)
	for i := range data {
		data[i] = byte(i*7 + i>>11)
	}
	sum := sha256.Sum256(data)
	stalled := make(chan struct{})
	backendDone := make(chan struct{}, 1)
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/sized":
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			w.Write(data)
		case "/stall": // half the body, then nothing until the request ends
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			w.Write(data[:len(data)/2])
			w.(http.Flusher).Flush()
			close(stalled)
			<-r.Context().Done()
			backendDone <- struct{}{}
		case "/chunked": // no length: chunked, in 64 KiB writes, with a trailer
			w.Header().Set("Trailer", "X-Sum")
			for i := 0; i < len(data); i += 64 << 10 {
				w.Write(data[i:min(i+64<<10, len(data))])
			}
			w.Header().Set("X-Sum", hex.EncodeToString(sum[:8]))
		case "/sum":
			h := sha256.New()
			n, _ := io.Copy(h, r.Body)
			io.WriteString(w, itoa(n)+" "+string(h.Sum(nil)))
		}
	})
	e.deploy(topo("t", svc("s", b.URL)))
	fe := httptest.NewTLSServer(e.p)
	t.Cleanup(fe.Close)
	client := fe.Client()

	resp, err := client.Get(fe.URL + "/gateway/t/s/sized")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || resp.ContentLength != int64(len(data)) || !bytes.Equal(got, data) {
		t.Fatalf("download: %d, length %d, %d bytes, equal %v, %v", resp.StatusCode, resp.ContentLength, len(got), bytes.Equal(got, data), err)
	}

	// A bulk body of unknown length (piped once it shows itself one), with
	// its trailer, through the TLS front and a plain one.
	for _, fc := range []struct {
		name string
		url  string
		c    *http.Client
	}{{"TLS", fe.URL, client}, {"plain", e.fe.URL, e.fe.Client()}} {
		resp, err := fc.c.Get(fc.url + "/gateway/t/s/chunked")
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || !bytes.Equal(got, data) || resp.Trailer.Get("X-Sum") != hex.EncodeToString(sum[:8]) {
			t.Fatalf("chunked download, %s front: %d, %d bytes, equal %v, trailer %q, %v", fc.name, resp.StatusCode, len(got), bytes.Equal(got, data), resp.Trailer.Get("X-Sum"), err)
		}
	}

	for _, tc := range []struct {
		name string
		body func() io.Reader
	}{
		{"known length", func() io.Reader { return bytes.NewReader(data) }},
		{"unknown length (chunked)", func() io.Reader { return io.MultiReader(bytes.NewReader(data)) }},
	} {
		req, _ := http.NewRequest("POST", fe.URL+"/gateway/t/s/sum", tc.body())
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("upload, %s: %v", tc.name, err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := itoa(int64(len(data))) + " " + string(sum[:]); resp.StatusCode != 200 || string(got) != want {
			t.Fatalf("upload, %s: %d, the backend got another body", tc.name, resp.StatusCode)
		}
	}

	resp, err = client.Get(fe.URL + "/gateway/t/s/stall")
	if err != nil {
		t.Fatal(err)
	}
	<-stalled
	if _, err := io.ReadFull(resp.Body, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close() // the client leaves while the backend is silent
	client.CloseIdleConnections()
	select {
	case <-backendDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the backend's request did not end after the client left")
	}
	// The service still serves.
	resp, err = client.Get(fe.URL + "/gateway/t/s/sized")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || n != int64(len(data)) {
		t.Fatalf("after the abort: %d, %d bytes", resp.StatusCode, n)
	}
}
