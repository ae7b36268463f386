package proxy_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"

	"github.com/securegw/gateway/internal/browsertest"
	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy"
)

// wsPage opens a WebSocket to the gateway's /gateway/t/ws/socket (or the
// path in ?ws=) from the page's own origin, sends a text and a binary
// message and records what happens: the extension negotiated first.
const wsPage = `<!doctype html><title>ws</title><script>
window.results = [];
const path = new URLSearchParams(location.search).get("ws") || "/gateway/t/ws/socket";
const ws = new WebSocket("ws://" + location.host + path);
ws.binaryType = "arraybuffer";
ws.onopen = () => {
  results.push("ext:" + ws.extensions);
  ws.send("hello from the browser"); ws.send(new Uint8Array([1, 2, 3, 255])); ws.send("z".repeat(100000));
};
ws.onmessage = (ev) => results.push(typeof ev.data !== "string" ? "binary:" + Array.from(new Uint8Array(ev.data)).join(",") :
  ev.data.length > 1000 ? "text:" + ev.data[0] + "×" + ev.data.length : "text:" + ev.data);
ws.onerror = () => results.push("error");
ws.onclose = (ev) => results.push("close:" + ev.code);
</script>`

// Headless Chromium loads a page through the gateway with Basic
// credentials; its script's WebSocket through the gateway carries the
// session's credentials and exchanges text and binary messages. From a
// browser without credentials the same script fails to connect.
func TestWebSocketBrowser(t *testing.T) {
	if _, err := browsertest.ExecPath(); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, proxy.Config{})
	// One application serves its page and its WebSocket (as Zeppelin does):
	// the browser sends the credentials it has for the page's directory.
	app := newWSServer(t, websocket.Upgrader{EnableCompression: true}, echoServe)
	inner := app.Config.Handler
	app.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if websocket.IsWebSocketUpgrade(r) {
			inner.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, wsPage)
	})
	hash, err := bcrypt.GenerateFromPassword([]byte("browser-pass"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	e.deploy(&topology.Topology{Name: "t",
		Providers: []topology.Provider{{Role: "authentication", Name: "basic", Params: map[string]string{"user.alice": string(hash)}}},
		Services: []topology.Service{wsService("ws", app.URL, nil),
			wsService("wsz", app.URL, map[string]string{"websocket.permessage_deflate": "true"})}})
	e.deploy(topo("pub", svc("app", app.URL)))

	b := browsertest.New(t, browsertest.Options{BasicUser: "alice", BasicPassword: "browser-pass"})
	b.Navigate(e.fe.URL + "/gateway/t/ws/")
	b.WaitFor(`window.results && results.length >= 4`)
	got := browsertest.Eval[[]string](b, `results`)
	if strings.Join(got, " | ") != "ext: | text:hello from the browser | binary:1,2,3,255 | text:z×100000" {
		t.Fatalf("the page's WebSocket saw %q\nconsole: %q\nrequests: %v\nlog: %s", got, b.Console(), b.Requests(), e.logs)
	}
	if n := app.live.Load(); n != 1 {
		t.Fatalf("%d WebSockets at the backend, want 1", n)
	}

	anon := browsertest.New(t, browsertest.Options{})
	anon.Navigate(e.fe.URL + "/gateway/pub/app/")
	anon.WaitFor(`window.results && results.some(r => r.startsWith("close:"))`)
	got = browsertest.Eval[[]string](anon, `results`)
	if strings.Contains(strings.Join(got, " "), "text:") || !strings.Contains(strings.Join(got, " "), "close:1006") {
		t.Fatalf("without credentials the WebSocket saw %q", got)
	}
	if n := app.live.Load(); n != 1 {
		t.Fatalf("a refused upgrade reached the backend (%d WebSockets)", n)
	}
	// A service with permessage-deflate: Chromium's offer is taken, its
	// compressed messages reach the backend and the backend's come back.
	bz := browsertest.New(t, browsertest.Options{BasicUser: "alice", BasicPassword: "browser-pass"})
	bz.Navigate(e.fe.URL + "/gateway/t/ws/?ws=/gateway/t/wsz/socket")
	bz.WaitFor(`window.results && results.length >= 4`)
	got = browsertest.Eval[[]string](bz, `results`)
	if strings.Join(got, " | ") != "ext:permessage-deflate; server_no_context_takeover; client_no_context_takeover | text:hello from the browser | binary:1,2,3,255 | text:z×100000" {
		t.Fatalf("with permessage-deflate the page's WebSocket saw %q\nconsole: %q\nlog: %s", got, bz.Console(), e.logs)
	}
}
