package frontend

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// A request body read after the handler returned (the writer of a body to
// a backend that answered before it had all of it outlives the handler)
// fails as a closed body does: the stall bound no longer touches the
// server's HTTP/2 writer, which, used after its handler, dereferenced nil
// and took the whole process down.
func TestStallBodyReadAfterHandlerHTTP2(t *testing.T) {
	returned := make(chan struct{})
	readErr := make(chan error, 1)
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTemporaryRedirect) // answers before reading the body
		go func() {
			<-returned
			_, err := io.ReadAll(r.Body)
			readErr <- err
		}()
	})
	sh := &stallHandler{h: inner, stall: time.Second}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sh.ServeHTTP(w, r)
		close(returned)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pr, pw := io.Pipe() // a body still being sent when the answer comes
	t.Cleanup(func() { pw.Close() })
	go func() { _, _ = pw.Write([]byte("first part")) }()
	req, err := http.NewRequest(http.MethodPut, srv.URL+"/x", pr)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("%s %d, want HTTP/2 307", resp.Proto, resp.StatusCode)
	}
	select {
	case err := <-readErr:
		if err == nil {
			t.Fatal("a body read after the handler ended without error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the read after the handler did not end")
	}
}
