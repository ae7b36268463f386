package proxy_test

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

// An upload whose client asked to close the connection (Connection:
// close; an HTTP/1.0 client's default), answered by the backend before it
// had the body with an answer that streams (its head goes out before the
// handler returns): the body's writer, which outlives the handler while
// the backend still takes the body, reads nothing of the client
// connection's reader once the connection closed. It read it after it
// went back to the pool: reset (the process panicked on its nil reader)
// or taken by another connection (whose bytes went to this backend).
func TestClosingUploadAnsweredEarly(t *testing.T) {
	const size = 32 << 20
	// The lean front only: net/http's server closes such a connection at
	// once (it lingers only past MaxBytesReader's limit), and the reset
	// may destroy the answer before the client read it.
	for _, kind := range []string{frontend.KindLean} {
		t.Run(kind, func(t *testing.T) {
			addr := serveRaw(t, func(c net.Conn) {
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				answer := strings.Repeat("n", 256<<10)
				fmt.Fprintf(c, "HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(answer), answer)
				_ = c.SetReadDeadline(time.Now().Add(failsafe))
				_, _ = io.Copy(io.Discard, req.Body) // takes the body on
			})
			e := newEnv(t, proxyConfig())
			fe := newTestFront(t, e.p, kind)
			e.deploy(topo("t", svc("s", "http://"+addr)))
			for i := 0; i < 5; i++ {
				c, err := net.Dial("tcp", fe.Listener.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				_ = c.SetDeadline(time.Now().Add(2 * failsafe))
				go func() {
					fmt.Fprintf(c, "PUT /gateway/t/s/up HTTP/1.1\r\nHost: gw\r\nConnection: close\r\nContent-Length: %d\r\n\r\n", size)
					c.Write(make([]byte, size))
				}()
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					t.Fatalf("early answer: %v", err)
				}
				got, rerr := io.ReadAll(resp.Body)
				if resp.StatusCode != http.StatusForbidden || len(got) != 256<<10 {
					t.Fatalf("early answer: %d, %d bytes, %v\n%s", resp.StatusCode, len(got), rerr, e.logs.String())
				}
				c.Close()
			}
		})
	}
}
