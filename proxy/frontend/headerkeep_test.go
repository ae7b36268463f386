package frontend_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/securegw/gateway/proxy/frontend"
)

// A plain http.Handler may keep a request's header after it returned, as
// net/http's server allows (an access log written later, a goroutine that
// audits the request): the next request on the connection must not change
// it. Behind a front proxy that next request may be another user's, whose
// credentials the kept header would then show (and a goroutine reading
// the kept map while the connection fills it is a fatal concurrent map
// access). Only a frontend.ContextHandler, which promises to keep nothing
// of its request, may be handed a reused header map.
func TestPlainHandlerKeepsItsHeader(t *testing.T) {
	forKinds(t, func(t *testing.T, kind string) {
		kept := make(chan http.Header, 2)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			kept <- r.Header
			io.WriteString(w, "ok")
		})
		_, addr := serveFront(t, kind, h, frontend.ServerOptions{})
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		br := bufio.NewReader(c)
		get := func(user string) {
			t.Helper()
			fmt.Fprintf(c, "GET /%s HTTP/1.1\r\nHost: x\r\nX-User: %s\r\n\r\n", user, user)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		get("alice")
		first := <-kept
		get("mallory")
		<-kept
		if got := strings.Join(first["X-User"], ","); got != "alice" {
			t.Fatalf("the first request's kept header now says X-User %q (the second request's), want alice", got)
		}
	})
}
