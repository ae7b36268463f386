// Command wsload is the WebSocket part of the benchmark: a backend, a plain
// gorilla/websocket proxy to compare with, and load generators. Every mode
// is bounded in time and prints JSON lines.
//
//	wsload serve  -listen ADDR                          echo backend (gorilla, small pooled buffers)
//	wsload gproxy -listen ADDR -backend ws://…          plain gorilla relay: two goroutines, pooled buffers
//	wsload hold   -url U -n 9000 -src 127.0.0.2,… -hold 30s
//	              open n connections, print {"event":"ready",…}, hold them (echo
//	              each once at the end), print {"event":"done","dropped":…}
//	wsload rtt    -url U -n 5000 -duration 20s          each connection echoes 1 msg/s; latency percentiles
//	wsload tput   -url U -c 64 -duration 5s             closed-loop echo; messages per second
//	wsload stream -url U -c 64 -window 16 -duration 5s  streaming echo: a window of messages in flight
//	              per connection; messages per second
//	wsload revoke -url U -tokens FILE -revoke CMD       one socket per token (Bearer), then each
//	              revoked by CMD (its {} replaced by the token id): time from the
//	              command's start until the socket's close frame
//
// Source addresses (-src) spread the client sockets over several loopback
// addresses so that they do not run out of ephemeral ports.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// cpuSeconds is this process's user+system CPU time so far: the load
// generator's own share, to check it is not the bottleneck.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: wsload serve|gproxy|hold|rtt|tput|revoke …")
		os.Exit(2)
	}
	mode, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	backend := fs.String("backend", "", "backend ws:// URL (gproxy)")
	url := fs.String("url", "", "ws:// URL to load")
	n := fs.Int("n", 1000, "connections")
	c := fs.Int("c", 64, "connections (tput)")
	src := fs.String("src", "", "comma-separated local source addresses")
	hold := fs.Duration("hold", 30*time.Second, "how long to hold (hold)")
	dur := fs.Duration("duration", 10*time.Second, "how long to measure")
	size := fs.Int("size", 32, "message size")
	header := fs.String("header", "", "a request header, Name: value")
	tokens := fs.String("tokens", "", "file of 'id token' lines (revoke)")
	revoke := fs.String("revoke", "", "command revoking the token id {} (revoke)")
	window := fs.Int("window", 16, "messages in flight per connection (stream)")
	_ = fs.Parse(args)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var err error
	switch mode {
	case "serve":
		err = serve(ctx, *listen, echoHandler())
	case "gproxy":
		err = serve(ctx, *listen, gorillaProxy(*backend))
	case "hold":
		err = holdMode(ctx, *url, *n, srcs(*src), *hold, hdr(*header))
	case "rtt":
		err = rttMode(ctx, *url, *n, srcs(*src), *dur, *size, hdr(*header))
	case "tput":
		err = tputMode(ctx, *url, *c, *dur, *size, hdr(*header))
	case "stream":
		err = streamMode(ctx, *url, *c, *window, *dur, *size)
	case "revoke":
		err = revokeMode(ctx, *url, *tokens, *revoke)
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil {
		out(map[string]any{"event": "error", "error": err.Error()})
		os.Exit(1)
	}
}

func out(v map[string]any) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

func srcs(s string) []string {
	if s == "" {
		return []string{"127.0.0.1"}
	}
	return strings.Split(s, ",")
}

func hdr(s string) http.Header {
	h := http.Header{}
	if k, v, ok := strings.Cut(s, ":"); ok {
		h.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	return h
}

var pool = &sync.Pool{}

var upgrader = websocket.Upgrader{ReadBufferSize: 512, WriteBufferSize: 512, WriteBufferPool: pool,
	CheckOrigin: func(*http.Request) bool { return true }}

func serve(ctx context.Context, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	out(map[string]any{"event": "listening", "addr": ln.Addr().String()})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func echoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !websocket.IsWebSocketUpgrade(r) {
			_, _ = w.Write([]byte("ok")) // plain HTTP: still served?
			return
		}
		c, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(mt, msg); err != nil {
				return
			}
		}
	})
}

// gorillaProxy is the plain Go relay the gateway is compared with: gorilla
// on both sides, small buffers, write buffers pooled, a goroutine per
// direction.
func gorillaProxy(backend string) http.Handler {
	d := websocket.Dialer{ReadBufferSize: 512, WriteBufferSize: 512, WriteBufferPool: pool}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _, err := d.Dial(backend, nil)
		if err != nil {
			http.Error(w, "backend unavailable", http.StatusBadGateway)
			return
		}
		c, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			b.Close()
			return
		}
		pipe := func(dst, src *websocket.Conn) {
			defer dst.Close()
			defer src.Close()
			for {
				mt, msg, err := src.ReadMessage()
				if err != nil {
					return
				}
				if err := dst.WriteMessage(mt, msg); err != nil {
					return
				}
			}
		}
		go pipe(b, c)
		pipe(c, b)
	})
}

// dialer returns a dialer whose i-th connection binds source address i mod len.
func dialer(src []string, i int) *websocket.Dialer {
	la := &net.TCPAddr{IP: net.ParseIP(src[i%len(src)])}
	nd := &net.Dialer{LocalAddr: la, Timeout: 10 * time.Second}
	return &websocket.Dialer{NetDialContext: nd.DialContext, ReadBufferSize: 256, WriteBufferSize: 256,
		WriteBufferPool: pool, HandshakeTimeout: 20 * time.Second}
}

// dialAll opens n connections, 64 handshakes in flight.
func dialAll(ctx context.Context, url string, n int, src []string, h http.Header) ([]*websocket.Conn, error) {
	conns := make([]*websocket.Conn, n)
	var wg sync.WaitGroup
	var firstErr error
	var mu sync.Mutex
	sem := make(chan struct{}, 64)
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, resp, err := dialer(src, i).DialContext(ctx, url, h)
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					if resp != nil {
						err = fmt.Errorf("%w (status %d)", err, resp.StatusCode)
					}
					firstErr = fmt.Errorf("connection %d: %w", i, err)
				}
				mu.Unlock()
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	return conns, firstErr
}

func holdMode(ctx context.Context, url string, n int, src []string, hold time.Duration, h http.Header) error {
	start := time.Now()
	conns, err := dialAll(ctx, url, n, src, h)
	open := 0
	for _, c := range conns {
		if c != nil {
			open++
		}
	}
	ev := map[string]any{"event": "ready", "open": open, "wanted": n, "seconds": time.Since(start).Seconds()}
	if err != nil {
		ev["first_error"] = err.Error()
	}
	out(ev)
	// Each held connection reads (a close ends it): count the drops.
	var dropped atomic.Int64
	var wg sync.WaitGroup
	replies := make([]chan []byte, n)
	for i, c := range conns {
		if c == nil {
			continue
		}
		replies[i] = make(chan []byte, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				_, msg, err := c.ReadMessage()
				if err != nil {
					if ctx.Err() == nil {
						dropped.Add(1)
					}
					close(replies[i])
					return
				}
				replies[i] <- msg
			}
		}()
	}
	select {
	case <-ctx.Done():
	case <-time.After(hold):
	}
	// Every connection still relays: one echo each.
	alive := 0
	for i, c := range conns {
		if c == nil {
			continue
		}
		_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if c.WriteMessage(websocket.TextMessage, []byte("still there?")) != nil {
			continue
		}
		select {
		case m, ok := <-replies[i]:
			if ok && string(m) == "still there?" {
				alive++
			}
		case <-time.After(10 * time.Second):
		}
	}
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
	wg.Wait()
	out(map[string]any{"event": "done", "open": open, "dropped": dropped.Load(), "alive_at_end": alive})
	return nil
}

func percentiles(d []time.Duration) map[string]any {
	if len(d) == 0 {
		return map[string]any{"count": 0}
	}
	slices.Sort(d)
	p := func(q float64) float64 {
		return float64(d[min(len(d)-1, int(q*float64(len(d))))].Microseconds()) / 1000
	}
	return map[string]any{"count": len(d), "p50_ms": p(0.50), "p99_ms": p(0.99), "p999_ms": p(0.999), "max_ms": p(1)}
}

func rttMode(ctx context.Context, url string, n int, src []string, dur time.Duration, size int, h http.Header) error {
	conns, err := dialAll(ctx, url, n, src, h)
	if err != nil {
		return err
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	msg := make([]byte, size)
	for i := range msg {
		msg[i] = 'a' + byte(i%26)
	}
	var mu sync.Mutex
	var lat []time.Duration
	var errs atomic.Int64
	var wg sync.WaitGroup
	start := time.Now().Add(time.Second)
	end := start.Add(dur)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Staggered: connection i sends at start + i/n s, then every second.
			next := start.Add(time.Duration(i) * time.Second / time.Duration(n))
			var mine []time.Duration
			for next.Before(end) && ctx.Err() == nil {
				time.Sleep(time.Until(next))
				t0 := time.Now()
				_ = c.SetWriteDeadline(t0.Add(5 * time.Second))
				_ = c.SetReadDeadline(t0.Add(5 * time.Second))
				if c.WriteMessage(websocket.BinaryMessage, msg) != nil {
					errs.Add(1)
					return
				}
				if _, _, err := c.ReadMessage(); err != nil {
					errs.Add(1)
					return
				}
				mine = append(mine, time.Since(t0))
				next = next.Add(time.Second)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res := percentiles(lat)
	res["event"], res["errors"], res["conns"] = "rtt", errs.Load(), n
	out(res)
	return nil
}

func tputMode(ctx context.Context, url string, c int, dur time.Duration, size int, h http.Header) error {
	conns, err := dialAll(ctx, url, c, []string{"127.0.0.1"}, h)
	if err != nil {
		return err
	}
	msg := make([]byte, size)
	var count, errs atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(dur)
	for _, conn := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.Close()
			_ = conn.SetWriteDeadline(deadline.Add(5 * time.Second))
			_ = conn.SetReadDeadline(deadline.Add(5 * time.Second))
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if conn.WriteMessage(websocket.BinaryMessage, msg) != nil {
					errs.Add(1)
					return
				}
				if _, _, err := conn.ReadMessage(); err != nil {
					errs.Add(1)
					return
				}
				count.Add(1)
			}
		}()
	}
	wg.Wait()
	out(map[string]any{"event": "tput", "msgs_per_s": float64(count.Load()) / dur.Seconds(), "errors": errs.Load(), "conns": c,
		"client_cpu_s": cpuSeconds()})
	return nil
}

func revokeMode(ctx context.Context, url, tokensFile, cmd string) error {
	f, err := os.Open(tokensFile)
	if err != nil {
		return err
	}
	defer f.Close()
	type sock struct {
		id     string
		c      *websocket.Conn
		closed chan time.Time
	}
	var socks []sock
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		id, tok, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if !ok {
			continue
		}
		c, resp, err := dialer([]string{"127.0.0.1"}, 0).DialContext(ctx, url, http.Header{"Authorization": {"Bearer " + tok}})
		if err != nil {
			if resp != nil {
				err = fmt.Errorf("%w (status %d)", err, resp.StatusCode)
			}
			return fmt.Errorf("connecting with token %s: %w", id, err)
		}
		s := sock{id, c, make(chan time.Time, 1)}
		go func() {
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					s.closed <- time.Now()
					return
				}
			}
		}()
		socks = append(socks, s)
	}
	var lat []time.Duration
	failures := 0
	for _, s := range socks {
		t0 := time.Now()
		args := strings.Fields(strings.ReplaceAll(cmd, "{}", s.id))
		if err := exec.CommandContext(ctx, args[0], args[1:]...).Run(); err != nil {
			return fmt.Errorf("revoking %s: %w", s.id, err)
		}
		select {
		case t := <-s.closed:
			lat = append(lat, t.Sub(t0))
		case <-time.After(10 * time.Second):
			failures++
		}
		s.c.Close()
	}
	res := percentiles(lat)
	res["event"], res["not_closed"] = "revoke", failures
	out(res)
	return nil
}
