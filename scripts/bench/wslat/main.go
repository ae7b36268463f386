// Command wslat measures the echo round trip through the gateway's
// WebSocket relay in process when every message wakes a parked side (the
// 5,000 × 1 msg/s case, where the relay's epoll dispatch is on the path),
// optionally with some of the process's Ps kept busy: what a shared
// machine's scheduling noise blurs in the wsload rtt figure.
//
//	wslat -busy 1 -n 300
//
// It prints one JSON line: p50_ms, p90_ms, p99_ms.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy"
)

func main() {
	busy := flag.Int("busy", 1, "goroutines spinning meanwhile (Ps kept busy)")
	n := flag.Int("n", 300, "round trips")
	conns := flag.Int("conns", 20, "connections, used in turn (each quiet long enough to park)")
	flag.Parse()

	up := websocket.Upgrader{}
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, m, err := c.ReadMessage()
			if err != nil || c.WriteMessage(mt, m) != nil {
				return
			}
		}
	}))
	defer be.Close()
	p, err := proxy.New(proxy.Config{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Registerer: prometheus.NewRegistry()})
	if err != nil {
		log.Fatal(err)
	}
	t := &topology.Topology{Name: "b",
		Providers: []topology.Provider{{Role: "authentication", Name: "anonymous"}, {Role: "identity-assertion", Name: "default"}},
		Services:  []topology.Service{{Path: "e", URLs: []string{"ws" + strings.TrimPrefix(be.URL, "http")}, WebSocket: true}}}
	c, err := p.Compile(context.Background(), t)
	if err != nil {
		log.Fatal(err)
	}
	p.Apply(c)
	fe := httptest.NewServer(p)
	defer fe.Close()

	stop := make(chan struct{})
	for range *busy {
		go func() {
			for x := 0; ; x++ {
				select {
				case <-stop:
					return
				default:
				}
				for i := range 100000 {
					x += i
				}
			}
		}()
	}
	defer close(stop)
	ws := make([]*websocket.Conn, *conns)
	for i := range ws {
		if ws[i], _, err = websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(fe.URL, "http")+"/gateway/b/e", nil); err != nil {
			log.Fatal(err)
		}
	}
	msg := make([]byte, 32)
	lat := make([]time.Duration, 0, *n)
	for i := range *n {
		c := ws[i%len(ws)]
		// Pacing: each connection is quiet conns × 3 ms (60 ms by default,
		// past the relay's 20 ms linger), so every message wakes a parked side.
		time.Sleep(3 * time.Millisecond)
		t0 := time.Now()
		if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
			log.Fatal(err)
		}
		if _, _, err := c.ReadMessage(); err != nil {
			log.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
	_ = json.NewEncoder(os.Stdout).Encode(map[string]any{"event": "wslat", "busy": *busy, "p50_ms": ms(0.5), "p90_ms": ms(0.9), "p99_ms": ms(0.99)})
}
