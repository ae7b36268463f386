package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Options tune one Browser.
type Options struct {
	// AcceptCerts lets Chromium accept any server certificate (the tests'
	// own CAs are not in its trust store). Secure cookies still need https.
	AcceptCerts bool
	// BasicUser and BasicPassword, when BasicUser is set, answer HTTP
	// authentication challenges (401 with WWW-Authenticate: Basic) as a user
	// typing them into the browser's dialog would.
	BasicUser, BasicPassword string
	// Timeout bounds each action; zero means 30 seconds.
	Timeout time.Duration
}

// Request is one network request the page made, as Chromium reported it.
type Request struct {
	ID     string
	Method string
	URL    string
	Type   string // Document, Script, Stylesheet, XHR, Fetch, WebSocket, …
	Status int64  // 0 until a response arrived (or for a failed request)
	Failed string // the network error text, if it failed
}

func (r Request) String() string {
	s := fmt.Sprintf("%s %s [%s] %d", r.Method, r.URL, r.Type, r.Status)
	if r.Failed != "" {
		s += " failed: " + r.Failed
	}
	return s
}

// Browser is one headless Chromium (one tab) for one test.
type Browser struct {
	t       testing.TB
	ctx     context.Context
	timeout time.Duration

	mu       sync.Mutex
	requests []Request
	console  []string
}

// ExecPath returns the Chromium binary, or an error naming the package.
func ExecPath() (string, error) {
	for _, p := range []string{"chromium", "chromium-browser", "/usr/bin/chromium"} {
		if path, err := exec.LookPath(p); err == nil {
			return path, nil
		}
	}
	return "", errors.New("chromium not found: install the Debian package chromium (scripts/test-deps.sh does)")
}

// New starts Chromium for t; t.Cleanup stops it. It fails t when Chromium
// cannot start.
func New(t testing.TB, o Options) *Browser {
	t.Helper()
	path, err := ExecPath()
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-proxy-server", true),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	if o.AcceptCerts {
		opts = append(opts, chromedp.Flag("ignore-certificate-errors", true))
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(func(string, ...any) {}))
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		acancel()
		wg.Wait()
	})
	b := &Browser{t: t, ctx: ctx, timeout: o.Timeout}
	if b.timeout == 0 {
		b.timeout = 30 * time.Second
	}
	// Start the browser and the tab, then listen before anything loads.
	if err := chromedp.Listen(ctx, b.onEvent); err != nil {
		t.Fatalf("browsertest: start chromium: %v", err)
	}
	steps := []chromedp.Action[chromedp.Void]{call(network.Enable, network.EnableParams{})}
	if o.BasicUser != "" {
		// Auth challenges pause their request; answering them is a command,
		// which an event handler must not send itself.
		paused := chromedp.Events(ctx, fetch.RequestPaused)
		auth := chromedp.Events(ctx, fetch.AuthRequired)
		wg.Add(2)
		go func() {
			defer wg.Done()
			for ev, err := range paused {
				if err != nil {
					return
				}
				_, _ = chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
			}
		}()
		go func() {
			defer wg.Done()
			for ev, err := range auth {
				if err != nil {
					return
				}
				_, _ = chromedp.Call(ctx, fetch.ContinueWithAuth, fetch.ContinueWithAuthParams{RequestID: ev.RequestID,
					AuthChallengeResponse: &fetch.AuthChallengeResponse{Response: fetch.AuthChallengeResponseResponseProvideCredentials,
						Username: o.BasicUser, Password: o.BasicPassword}})
			}
		}()
		steps = append(steps, call(fetch.Enable, fetch.EnableParams{HandleAuthRequests: new(true)}))
	}
	steps = append(steps, call(runtime.Enable, cdp.Empty{}))
	if err := b.Do(steps...); err != nil {
		t.Fatalf("browsertest: enable events: %v", err)
	}
	return b
}

// call turns one protocol command into an action.
func call[P, R any](cmd cdp.Command[P, R], p P) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, cmd, p)
		return chromedp.Void{}, err
	}
}

// onEvent records requests and console output; it runs on the tab's reader
// goroutine, so it only appends under the lock.
func (b *Browser) onEvent(ev any) {
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.mu.Lock()
		b.requests = append(b.requests, Request{ID: string(e.RequestID), Method: e.Request.Method,
			URL: e.Request.URL, Type: string(e.Type)})
		b.mu.Unlock()
	case *network.EventResponseReceived:
		b.setRequest(string(e.RequestID), func(r *Request) { r.Status = e.Response.Status })
	case *network.EventLoadingFailed:
		b.setRequest(string(e.RequestID), func(r *Request) { r.Failed = e.ErrorText })
	case *network.EventWebSocketCreated:
		b.mu.Lock()
		b.requests = append(b.requests, Request{ID: string(e.RequestID), Method: "GET", URL: e.URL, Type: "WebSocket"})
		b.mu.Unlock()
	case *network.EventWebSocketHandshakeResponseReceived:
		b.setRequest(string(e.RequestID), func(r *Request) { r.Status = e.Response.Status })
	case *runtime.EventConsoleAPICalled:
		parts := make([]string, 0, len(e.Args))
		for _, a := range e.Args {
			var str string
			if len(a.Value) > 0 && json.Unmarshal(a.Value, &str) == nil {
				parts = append(parts, str)
			} else if len(a.Value) > 0 {
				parts = append(parts, string(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		b.addConsole(string(e.Type) + ": " + strings.Join(parts, " "))
	case *runtime.EventExceptionThrown:
		msg := e.ExceptionDetails.Text
		if e.ExceptionDetails.Exception != nil {
			msg += " " + e.ExceptionDetails.Exception.Description
		}
		b.addConsole("exception: " + msg)
	}
}

func (b *Browser) setRequest(id string, f func(*Request)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := len(b.requests) - 1; i >= 0; i-- {
		if b.requests[i].ID == id {
			f(&b.requests[i])
			return
		}
	}
}

func (b *Browser) addConsole(s string) {
	b.mu.Lock()
	b.console = append(b.console, s)
	b.mu.Unlock()
}

// Context is the chromedp context of the tab, for actions this package has
// no helper for (chromedp.Run(ctx, …)); it ends with the test.
func (b *Browser) Context() context.Context { return b.ctx }

// Do runs actions in the tab, in order, within the Browser's timeout.
func (b *Browser) Do(actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(b.ctx, b.timeout)
	defer cancel()
	return chromedp.Do(ctx, actions...)
}

// must fails the test, with what the pages logged, when err is not nil.
func (b *Browser) must(what string, err error) {
	b.t.Helper()
	if err != nil {
		b.t.Fatalf("browser: %s: %v\nconsole:\n%s", what, err, strings.Join(b.Console(), "\n"))
	}
}

// Navigate loads url and waits for the page's load event.
func (b *Browser) Navigate(url string) {
	b.t.Helper()
	b.must("navigate "+url, b.Do(chromedp.Navigate(url)))
}

// Location is the page's current URL.
func (b *Browser) Location() string {
	b.t.Helper()
	loc, err := run(b, chromedp.Location())
	b.must("location", err)
	return loc
}

// Text is the visible text of the first element matching the CSS selector,
// waiting until it exists.
func (b *Browser) Text(sel string) string {
	b.t.Helper()
	s, err := run(b, chromedp.Text(chromedp.CSS(sel)))
	b.must("text of "+sel, err)
	return s
}

// Eval evaluates a JavaScript expression and decodes its JSON result into a
// T; a promise is awaited.
func Eval[T any](b *Browser, js string) T {
	b.t.Helper()
	v, err := run(b, chromedp.Evaluate[T](js, func(p *runtime.EvaluateParams) { p.AwaitPromise = new(true) }))
	b.must("eval "+js, err)
	return v
}

// WaitFor polls a JavaScript condition until it is true or the timeout
// ends. A navigation in between (the condition's document went away) is
// not an error: the condition is asked again of the new document.
func (b *Browser) WaitFor(js string) {
	b.t.Helper()
	deadline := time.Now().Add(b.timeout)
	var last error
	for time.Now().Before(deadline) {
		ok, err := run(b, chromedp.Evaluate[bool](js))
		if err == nil && ok {
			return
		}
		last = err
		select {
		case <-b.ctx.Done():
			b.must("wait for "+js, b.ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if last == nil {
		last = errors.New("still false after " + b.timeout.String())
	}
	b.must("wait for "+js, last)
}

// Submit fills the form fields (CSS selector → value), clicks the submit
// element, and waits until the document that follows has loaded.
func (b *Browser) Submit(fields map[string]string, submit string) {
	b.t.Helper()
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var acts []chromedp.Action[chromedp.Void]
	for _, k := range keys {
		acts = append(acts, chromedp.SetValue(chromedp.CSS(k), fields[k]))
	}
	// A marker on the old document: the new one does not have it.
	acts = append(acts, void(chromedp.Evaluate[bool](`window.__browsertestOld = true`)),
		chromedp.Click(chromedp.CSS(submit)))
	b.must("submit "+submit, b.Do(acts...))
	b.WaitFor(`!window.__browsertestOld && document.readyState === "complete"`)
}

// Cookies are the browser's cookies for the given URLs (the page's when none).
func (b *Browser) Cookies(urls ...string) []*network.Cookie {
	b.t.Helper()
	res, err := run(b, func(ctx context.Context, t *chromedp.Target) (*network.GetCookiesResult, error) {
		r, err := cdp.Call(ctx, t, network.GetCookies, network.GetCookiesParams{URLs: urls})
		return &r, err
	})
	b.must("cookies", err)
	return res.Cookies
}

// void drops an action's value.
func void[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}

func run[T any](b *Browser, a chromedp.Action[T]) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, b.timeout)
	defer cancel()
	return chromedp.Run(ctx, a)
}

// Requests is a copy of every request the browser made so far.
func (b *Browser) Requests() []Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.requests)
}

// Console is what the pages logged (console.*, uncaught exceptions).
func (b *Browser) Console() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.console)
}

// ForeignRequests lists the requests whose URL is not under one of the
// allowed origins ("http://127.0.0.1:8443"); data:, blob: and about: aside.
func (b *Browser) ForeignRequests(allowed ...string) []Request {
	var out []Request
	for _, r := range b.Requests() {
		if strings.HasPrefix(r.URL, "data:") || strings.HasPrefix(r.URL, "about:") || strings.HasPrefix(r.URL, "blob:") {
			continue
		}
		if !slices.ContainsFunc(allowed, func(a string) bool { return sameOrigin(r.URL, a) }) {
			out = append(out, r)
		}
	}
	return out
}

// sameOrigin reports whether u is under origin; ws(s) URLs count as the
// http(s) origin they upgrade from.
func sameOrigin(u, origin string) bool {
	origin = strings.TrimSuffix(origin, "/")
	for _, p := range [][2]string{{"ws://", "http://"}, {"wss://", "https://"}} {
		if strings.HasPrefix(u, p[0]) {
			u = p[1] + u[len(p[0]):]
		}
	}
	if !strings.HasPrefix(u, origin) {
		return false
	}
	rest := u[len(origin):]
	return rest == "" || rest[0] == '/' || rest[0] == '?' || rest[0] == '#'
}
