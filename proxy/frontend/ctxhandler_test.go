package frontend_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
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

// A request's context ends when its handler returns, whether or not
// anyone waited on it during the handler (the lean front makes its cancel
// context on the first Done): Err is context.Canceled, Done is closed,
// and contexts derived from it (WithCancel, AfterFunc) end with it. Those
// derived during the handler cost no goroutine each: they are registered
// with the request's cancel context, as with net/http's.
func TestRequestContextEndsWithHandler(t *testing.T) {
	const children = 64
	type served struct {
		ctx, child context.Context
		after      chan struct{}
		goroutines int // started while the children were made
	}
	for _, tc := range []struct {
		name   string
		derive bool // derive contexts (and so wait on it) during the handler
	}{
		{"not waited on", false},
		{"derived from", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forKinds(t, func(t *testing.T, kind string) {
				got := make(chan served, 1)
				h := frontend.ContextHandlerFunc(func(ctx context.Context, w http.ResponseWriter, r *http.Request) {
					s := served{ctx: ctx, after: make(chan struct{})}
					if tc.derive {
						n0 := runtime.NumGoroutine()
						for range children {
							c, cancel := context.WithCancel(ctx)
							defer cancel()
							s.child = c
						}
						context.AfterFunc(ctx, func() { close(s.after) })
						s.goroutines = runtime.NumGoroutine() - n0
					}
					if err := ctx.Err(); err != nil {
						t.Errorf("during the handler: %v", err)
					}
					got <- s
					io.WriteString(w, "ok")
				})
				_, addr := serveFront(t, kind, h, frontend.ServerOptions{})
				st, _, _ := exchange(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
				if fmt.Sprint(st) != "[200]" {
					t.Fatalf("status %v", st)
				}
				s := <-got
				// The answer may reach the client before the handler's
				// deferred end: poll for it.
				for deadline := time.Now().Add(10 * time.Second); s.ctx.Err() == nil; time.Sleep(time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatal("the request context did not end after its handler")
					}
				}
				if err := s.ctx.Err(); !errors.Is(err, context.Canceled) {
					t.Fatalf("Err after the handler: %v", err)
				}
				select {
				case <-s.ctx.Done():
				default:
					t.Fatal("Done is not closed after the handler")
				}
				if err := context.Cause(s.ctx); !errors.Is(err, context.Canceled) {
					t.Fatalf("Cause: %v", err)
				}
				late, cancel := context.WithCancel(s.ctx)
				defer cancel()
				if late.Err() == nil {
					t.Fatal("a context derived after the handler is not canceled")
				}
				if !tc.derive {
					return
				}
				if s.child.Err() == nil {
					t.Fatal("a context derived during the handler is not canceled")
				}
				select {
				case <-s.after:
				case <-time.After(10 * time.Second):
					t.Fatal("context.AfterFunc did not run")
				}
				if s.goroutines >= children/2 {
					t.Fatalf("%d contexts derived from the request's started %d goroutines", children, s.goroutines)
				}
			})
		})
	}
}

// The lean front reads a connection's next simple request into a header
// map and URL of its own: a ContextHandler that put another map or URL on
// the request it was handed (ones it keeps) does not see them cleared or
// overwritten by the next request.
func TestNextRequestLeavesHandlersURL(t *testing.T) {
	kept := &url.URL{Path: "/kept"}
	keptHeader := http.Header{"Kept": {"1"}}
	h := frontend.ContextHandlerFunc(func(ctx context.Context, w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.URL.Path+" "+r.Header.Get("X-N"))
		r.URL, r.Header = kept, keptHeader
	})
	_, addr := serveFront(t, frontend.KindLean, h, frontend.ServerOptions{})
	st, bodies, _ := exchange(t, addr, "GET /1 HTTP/1.1\r\nHost: x\r\nX-N: 1\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\nX-N: 2\r\n\r\nGET /3?q HTTP/1.1\r\nHost: x\r\n\r\n")
	if fmt.Sprint(st, bodies) != "[200 200 200] [/1 1 /2 2 /3 ]" {
		t.Fatalf("%v %q", st, bodies)
	}
	if kept.String() != "/kept" {
		t.Fatalf("the handler's URL became %q", kept.String())
	}
	if fmt.Sprint(keptHeader) != "map[Kept:[1]]" {
		t.Fatalf("the handler's header map became %v", keptHeader)
	}
}
