package frontend_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/securegw/gateway/proxy/frontend"
)

// BenchmarkLeanFront: requests on one keep-alive connection to the lean
// front, with the stall bound off and at its default: a small answer to a
// GET, and to a POST of 1 KiB (the body arrives with the head).
func BenchmarkLeanFront(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "hello, world")
	})
	post := "POST /x HTTP/1.1\r\nHost: gw\r\nContent-Length: 1024\r\n\r\n" + string(make([]byte, 1024))
	for _, stall := range []time.Duration{0, frontend.DefaultStallTimeout} {
		for _, req := range []struct{ name, raw string }{
			{"get", "GET /x HTTP/1.1\r\nHost: gw\r\n\r\n"},
			{"post-1KiB", post},
		} {
			b.Run("stall="+strconv.Itoa(int(stall.Seconds()))+"s/"+req.name, func(b *testing.B) {
				f, err := frontend.NewFront(h, frontend.ServerOptions{StallTimeout: stall}, frontend.KindLean)
				if err != nil {
					b.Fatal(err)
				}
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					b.Fatal(err)
				}
				go func() { _ = f.Serve(ln) }()
				b.Cleanup(func() { f.Close() })
				c, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				br := bufio.NewReader(c)
				b.ReportAllocs()
				for b.Loop() {
					if _, err := io.WriteString(c, req.raw); err != nil {
						b.Fatal(err)
					}
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						b.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		}
	}
}
