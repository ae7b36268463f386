package browsertest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/securegw/gateway/internal/browsertest"
)

// TestBrowserSeesWhatAUserSees drives Chromium through a login form, a
// Basic-protected page, a script's fetch and a cross-origin image, and
// checks what the package reports of each.
func TestBrowserSeesWhatAUserSees(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/gif")
		w.Write([]byte("GIF89a"))
	}))
	t.Cleanup(other.Close)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!doctype html><form method="post" action="/login"><input id="u" name="u"><button id="go">go</button></form>`)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "sess", Value: "v-" + r.FormValue("u"), HttpOnly: true, Path: "/"})
		http.Redirect(w, r, "/home", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /home", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("sess")
		if err != nil {
			http.Error(w, "no session", http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, `<!doctype html><p id="who">%s</p><img src="%s/x.gif"><script>
fetch("/data").then(r => r.text()).then(t => { document.title = t; console.log("got", t) })
</script>`, c.Value, other.URL)
	})
	mux.HandleFunc("GET /data", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "data-ok") })
	mux.HandleFunc("GET /basic", func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "pw" {
			w.Header().Set("WWW-Authenticate", `Basic realm="t"`)
			http.Error(w, "who?", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `<!doctype html><p id="ok">basic-ok</p>`)
	})
	up := websocket.Upgrader{}
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, m, err := c.ReadMessage()
			if err != nil || c.WriteMessage(mt, append([]byte("echo:"), m...)) != nil {
				return
			}
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	b := browsertest.New(t, browsertest.Options{BasicUser: "alice", BasicPassword: "pw"})
	b.Navigate(srv.URL + "/login")
	b.Submit(map[string]string{"#u": "bob"}, "#go")
	if loc := b.Location(); loc != srv.URL+"/home" {
		t.Fatalf("after login at %q, want /home", loc)
	}
	if who := b.Text("#who"); who != "v-bob" {
		t.Fatalf("page shows %q", who)
	}
	b.WaitFor(`document.title === "data-ok"`)
	cookies := b.Cookies(srv.URL)
	if len(cookies) != 1 || cookies[0].Name != "sess" || !cookies[0].HTTPOnly {
		t.Fatalf("cookies %+v", cookies)
	}
	if got := browsertest.Eval[string](b, `document.cookie`); got != "" {
		t.Fatalf("an HttpOnly cookie is visible to scripts: %q", got)
	}
	foreign := b.ForeignRequests(srv.URL)
	if len(foreign) != 1 || !strings.HasPrefix(foreign[0].URL, other.URL) {
		t.Fatalf("foreign requests %v, want only the image of %s", foreign, other.URL)
	}
	if !strings.Contains(strings.Join(b.Console(), "\n"), "got data-ok") {
		t.Fatalf("console %q", b.Console())
	}

	got := browsertest.Eval[string](b, `new Promise((ok, fail) => {
  const ws = new WebSocket(location.origin.replace("http", "ws") + "/ws");
  ws.onopen = () => ws.send("hi");
  ws.onmessage = e => { ok(e.data); ws.close(); };
  ws.onerror = () => fail("ws error");
})`)
	if got != "echo:hi" {
		t.Fatalf("websocket answered %q", got)
	}
	var sawWS bool
	for _, r := range b.Requests() {
		sawWS = sawWS || (r.Type == "WebSocket" && r.Status == http.StatusSwitchingProtocols)
	}
	if !sawWS {
		t.Fatalf("no WebSocket with 101 in %v", b.Requests())
	}

	b.Navigate(srv.URL + "/basic")
	if got := b.Text("#ok"); got != "basic-ok" {
		t.Fatalf("basic page shows %q", got)
	}
}
