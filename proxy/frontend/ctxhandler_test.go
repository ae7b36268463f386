package frontend_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/securegw/gateway/proxy/frontend"
)

// headerEcho answers with the request's header fields, sorted.
func headerEcho(w http.ResponseWriter, r *http.Request) {
	var lines []string
	for k, vs := range r.Header {
		lines = append(lines, k+"="+strings.Join(vs, ","))
	}
	slices.Sort(lines)
	r.Header["X-Added-By-Handler"] = []string{"1"} // as the proxy adds X-Request-Id
	io.WriteString(w, strings.Join(lines, ";"))
}

// ctxEcho is a frontend.ContextHandler: it checks that the request comes
// without a context, serves a copy under the one it is given, and answers
// as headerEcho.
type ctxEcho struct{ bad chan string }

func (h ctxEcho) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.bad <- "ServeHTTP called on a ContextHandler"
	http.Error(w, "wrong entry", http.StatusInternalServerError)
}

func (h ctxEcho) ServeHTTPContext(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	if r.Context() != context.Background() {
		h.bad <- "the request came with a context"
	}
	if ctx == nil || ctx.Err() != nil {
		h.bad <- fmt.Sprintf("the context to serve under is %v", ctx)
	}
	headerEcho(w, r.WithContext(ctx))
}

// On one connection each request's handler sees that request's header
// fields only: the lean front reads a connection's simple heads into one
// header map, cleared for each (a handler's additions included), and a
// map grown past its reuse bound by a large head is replaced. Served by a
// plain handler and by a ContextHandler (handed the connection's request
// itself).
func TestHeaderOfItsOwnRequestOnly(t *testing.T) {
	many := ""
	for i := range 20 {
		many += fmt.Sprintf("X-Many-%d: %d\r\n", i, i)
	}
	raw := "GET /1 HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWxpY2U6c2VjcmV0\r\nCookie: a=1\r\n\r\n" +
		"GET /2 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n" +
		"GET /3 HTTP/1.1\r\nHost: x\r\n" + many + "\r\n" +
		"GET /4 HTTP/1.1\r\nHost: x\r\n\r\n" +
		"GET /5 HTTP/1.1\r\nHost: x\r\ncookie: b=2\r\ncookie: c=3\r\n\r\n"
	manyWant := make([]string, 20)
	for i := range 20 {
		manyWant[i] = fmt.Sprintf("X-Many-%d=%d", i, i)
	}
	slices.Sort(manyWant)
	want := []string{"Authorization=Basic YWxpY2U6c2VjcmV0;Cookie=a=1", "Accept=*/*", strings.Join(manyWant, ";"), "", "Cookie=b=2,c=3"}
	bad := make(chan string, 16)
	for name, h := range map[string]http.Handler{"handler": http.HandlerFunc(headerEcho), "ContextHandler": ctxEcho{bad}} {
		t.Run(name, func(t *testing.T) {
			forKinds(t, func(t *testing.T, kind string) {
				if kind != frontend.KindLean && name == "ContextHandler" {
					return // net/http's server calls ServeHTTP: see TestContextHandlerEntry
				}
				_, addr := serveFront(t, kind, h, frontend.ServerOptions{})
				st, bodies, closed := exchange(t, addr, raw)
				if fmt.Sprint(st) != "[200 200 200 200 200]" || closed {
					t.Fatalf("%v closed %v", st, closed)
				}
				for i := range want {
					if bodies[i] != want[i] {
						t.Errorf("request %d saw %q, want %q", i+1, bodies[i], want[i])
					}
				}
			})
		})
	}
	select {
	case msg := <-bad:
		t.Fatal(msg)
	default:
	}
}

// A ContextHandler's context is the request's as a plain handler's is:
// canceled when the client goes away during the handler. On net/http's
// front, which calls ServeHTTP, ContextHandlerFunc serves under the
// request's own context.
func TestContextHandlerClientGone(t *testing.T) {
	forKinds(t, func(t *testing.T, kind string) {
		waiting, ended := make(chan struct{}), make(chan error, 1)
		h := frontend.ContextHandlerFunc(func(ctx context.Context, w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			close(waiting)
			select {
			case <-ctx.Done():
				ended <- ctx.Err()
			case <-time.After(10 * time.Second):
				ended <- errors.New("not canceled")
			}
		})
		_, addr := serveFront(t, kind, h, frontend.ServerOptions{})
		postThenLeave(t, addr, waiting, ended)
	})
}

// entryEcho answers with the entry the front called: ServeHTTP, or
// ServeHTTPContext with a request that carried no context.
type entryEcho struct{}

func (entryEcho) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.WriteString(w, "ServeHTTP")
}

func (entryEcho) ServeHTTPContext(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	if r.Context() != context.Background() || ctx.Err() != nil {
		http.Error(w, "a request with a context, or a context already ended", http.StatusInternalServerError)
		return
	}
	io.WriteString(w, "ServeHTTPContext")
}

// The lean front serves a ContextHandler by ServeHTTPContext (its request
// without a context); net/http's front, which knows nothing of it, by
// ServeHTTP.
func TestContextHandlerEntry(t *testing.T) {
	for kind, want := range map[string]string{frontend.KindLean: "ServeHTTPContext", frontend.KindNetHTTP: "ServeHTTP"} {
		t.Run(kind, func(t *testing.T) {
			_, addr := serveFront(t, kind, entryEcho{}, frontend.ServerOptions{})
			st, bodies, _ := exchange(t, addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			if fmt.Sprint(st) != "[200]" || bodies[0] != want {
				t.Fatalf("%v %q, want 200 %q", st, bodies, want)
			}
		})
	}
}
