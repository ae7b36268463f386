// Package frontend builds the gateway's client-facing listeners around the
// proxy handler: the proxy listener's server (NewFront), an *http.Server
// with limits (NewServer), its TLS configuration with optional client
// certificates (TLSConfig), liveness and readiness handlers (Health), and
// the metrics handler for a separate listener (Metrics).
//
// Limits and their defaults:
//
//	MaxHeaderBytes     64 KiB  larger request headers get 431
//	ReadHeaderTimeout  10s     a client trickling its headers (slowloris) is cut off
//	ReadTimeout        0       whole-request bound; 0 so uploads may stream
//	WriteTimeout       0       responses may stream (downloads, SSE)
//	StallTimeout       0       a silent body or an answer not taken ends the request
//	IdleTimeout        120s    idle keep-alive connections are closed
//
// (The gateway's configuration sets StallTimeout to DefaultStallTimeout,
// 60s, unless told otherwise.)
//
// # Stalls
//
// StallTimeout bounds the time between two reads of a request body that
// brought bytes, and between two writes of the answer the client took
// bytes of (nginx's client_body_timeout and send_timeout), not the whole
// transfer: a slow but moving upload or download is never cut, a silent
// or stalled client is, and with it the backend connection the request
// holds. It composes with ReadTimeout and WriteTimeout: the earlier
// deadline applies. The client-gone watch and the wait for the next
// request's head keep their own deadlines (a client waiting for a slow
// answer sends nothing, rightly). Per path:
//
//   - lean front, copied body reads (connReader): the read deadline moves
//     to StallTimeout from now before each read of the body (at most once
//     per StallTimeout/16, so that reads cost no system call more); the
//     watch puts the handler's deadline back;
//   - lean front, spliced uploads and downloads: splice.CopySides moves
//     the client side's deadline before each wait for it;
//   - lean front, answers: the connection under the response's buffer
//     (connWriter) moves the write deadline before each write (again at
//     most once per StallTimeout/16: a keep-alive connection's small
//     answers cost nothing more); a write that timed out while the client
//     acknowledged bytes (TCP_INFO; a reader slower than the kernel's
//     wakeups, a third of the send buffer) goes on, under TLS too (the
//     TCP connection under it is a tlsSock), so only a client that
//     takes nothing fails. A stalled body answers 408; a stalled answer
//     closes the connection (under TLS without close_notify, which the
//     client would not take either);
//   - net/http's server (KindNetHTTP, and HTTP/2 on either front): the
//     handler is wrapped (stallHandler): the request body moves the read
//     deadline before each read and puts the request's back at its end
//     (net/http then reads in the background), the writer moves the write
//     deadline before each write and flush (HTTP/1: also at the start of
//     each request, which bounds the server's last flush; HTTP/2 streams
//     once past the first flow-control window) and ReadFrom goes in
//     pieces of 256 KiB; HTTP2Config.WriteByteTimeout bounds HTTP/2
//     connections. Progress there is a write that returned, which the
//     kernel allows once a third of the send buffer is free.
//
// # Two front servers
//
// NewFront serves the proxy with one of two HTTP/1.1 servers (gateway.yaml's
// proxy.front): net/http's (KindNetHTTP), or the lean server (KindLean,
// type Lean). Both serve the same http.Handler: providers and the proxy see
// an *http.Request and an http.ResponseWriter either way. On a TLS front
// the lean server does the handshake and hands a connection whose ALPN
// chose h2 to net/http's server (HTTP/2 for browsers), keeping those that
// chose http/1.1 (or nothing).
//
// The lean server keeps what makes net/http's server safe and drops what
// costs per request:
//
//   - parsing is net/http's (http.ReadRequest): the framing rules
//     (Content-Length with Transfer-Encoding, repeated lengths, unknown
//     codings, obsolete line folding) are Go's. The plain heads nearly
//     every client sends (no body, an origin-form target, field names of
//     letters, digits and '-', values of visible ASCII, CRLF line ends,
//     one Host) the server reads itself in one pass over the bytes it
//     buffered (simpleRequest), into what http.ReadRequest returns for
//     them (a fuzz test holds it to that), reusing the connection's
//     header map and URL from request to request for a ContextHandler
//     (cleared; such a handler holds nothing of a request past its return;
//     a plain handler may, and gets a map and URL of its own; a target
//     whose path has no escapes is read without url.ParseRequestURI, into
//     what it returns); any other head, and every
//     error, is ReadRequest's. A handler that is a ContextHandler (the
//     proxy) is handed the request without a context and makes the one
//     shallow copy that carries it. The server adds net/http's
//     checks: exactly one valid Host field for HTTP/1.1 (counted on the raw
//     head, which ReadRequest does not keep; its value read as ReadRequest
//     reads it: only spaces and tabs trimmed, folded lines joined), valid
//     field names and values, HTTP/1.x only (505, the h2c prior-knowledge
//     preface PRI * HTTP/2.0 too, which net/http's server would hand to
//     the handler: the net/http front answers it 505 before the proxy as
//     well), a first Expect field
//     without the token 100-continue (417, as net/http's server reads it), a head
//     over MaxHeaderBytes (431), unknown transfer codings (501), else 400;
//     after a malformed request it answers and closes;
//   - one goroutine per connection, its buffers from pools (a head larger
//     than the 4 KiB reader moves the connection to a reader of the
//     limit's size until it is idle again), one response writer
//     reused request after request; a connection that closes while a body
//     reader that outlived its handler may still be in its reader (a
//     body's writer to a backend that answered early) leaves that reader
//     to the collector, not to the pool;
//   - an idle connection gives its buffers back: one that waited a second
//     for its next request (or its first) returns its reader and its
//     writer (with the room for a small body) to their pools, drops what
//     the last exchange left (request, header values), and waits for one
//     byte read into the connection's own; it takes a reader again when
//     that byte came. An idle plain keep-alive connection then holds its
//     goroutine's stack (4 KiB) and about 3 KiB of heap instead of about
//     16 KiB (under TLS, crypto/tls keeps its own record buffers). A
//     busy connection costs nothing more: the wait's first deadline
//     replaces the idle one, and its requests come within it. The empty
//     line some clients send after a POST body is dropped before the wait
//     and after it (a CR alone, the byte the wait read, waits for its LF);
//   - no background read per request: the request context learns that the
//     client went away only once someone waits on it (its Done starts a
//     one-byte read, after the body was read to its end), as the proxy's
//     backend watch does for a slow answer; a byte read then is the next
//     pipelined request, kept. Nor a cancel context: the request context
//     makes its context.WithCancel on that first Done (contexts derived
//     from it are registered with it, as with net/http's), and until then
//     its end is a flag;
//   - one read-deadline change per request in the common case: the idle
//     (or header) deadline is replaced before the handler's first read of
//     the connection, not after every head;
//   - one read(2) per request of a busy keep-alive connection, under TLS
//     too: the answer to a request without a body is sent from inside the
//     wait for the next request (deferred.go; under TLS, crypto/tls's read
//     of the TCP connection), where Go's read would first try one that
//     finds nothing; a pipelined request that came while the handler ran
//     waits for it at most 10 ms (deferredWait). A client that paused
//     longer than that after an answer gets its next 8 at once
//     (answersAtOnce): its waits would end at their deadlines, each a
//     timer that wakes the goroutine for nothing.
//
// Answers: a body of unknown length the handler ends within 2 KiB gets a
// Content-Length; a longer or flushed one is chunked (HTTP/1.1, with
// trailers declared in Trailer, which must be valid trailer fields, or
// set with http.TrailerPrefix) or ends with the connection (HTTP/1.0).
// An HTTP/1.0 request is answered in HTTP/1.0, as net/http's server
// answers it, and never with an informational (1xx) answer, which RFC 9110
// §15.2 forbids and net/http's server writes (netHTTPRules drops it on the
// net/http front). Keep-alive follows net/http, and RFC 9112 §9.6 where Go's
// server does not: an HTTP/1.0 request keeps the connection only when its
// first Connection field holds keep-alive, no field has the close option,
// and the answer has a length (then it says Connection: keep-alive; a
// closing HTTP/1.0 answer says nothing, 1.0's default, or close to a
// request with that option). net/http's server reads only the first field
// (wantsHttp10KeepAlive) and keeps a Keep-Alive, close request's
// connection; the net/http front closes it too (netHTTPRules), so the
// fronts agree. Connection: close in an HTTP/1.1 request or
// from the handler, a body shorter than its Content-Length, an unread request body over 256 KiB, a request
// whose client waits for a 100 Continue that was not sent (it goes out
// when the handler first reads the body), and Shutdown all close the
// connection after the answer. (Once 100 Continue went out, an answer
// before the body's end keeps the connection when at most 256 KiB of the
// body are left and no other goroutine still reads it: the rest is read
// after the handler as any body's; net/http's server closes then. The
// answer never waits for body bytes the client has not sent: on the
// net/http front, an answer whose head the handler writes after a read of
// the body that stopped short of its end says Connection: close, which
// keeps Go's server from waiting for a read in progress (netHTTPRules,
// readWatch).) A connection closed over a body the client may still be
// sending lingers (closeLingering): it half-closes, then discards what the
// client sends while it sends (at most 500 ms of quiet, 5 s in all;
// nginx's lingering_timeout and lingering_time, where net/http's server
// waits 500 ms in all), after waiting on the same terms for a body reader
// that outlived its handler to let go; closing at once would make the
// kernel answer the client's bytes with a reset, which destroys an answer
// the client has not read yet. Panics are
// logged and close the
// connection (http.ErrAbortHandler silently). The writer implements
// http.Flusher, http.Hijacker (what the handler wrote goes out first),
// io.ReaderFrom and http.ResponseController's deadline setters.
//
// # Bodies by the kernel
//
// On a plain TCP connection, the writer's ReadFrom sends a body of known
// length from a TCP source (the proxy's backend connection) by splice(2)
// in raw system calls (package splice), from a file by sendfile(2). The
// request body implements io.WriterTo: a body of known length (no
// chunking) whose unread rest is at least 64 KiB goes to an io.ReaderFrom
// (the proxy's plain TCP backend connection, h1.Conn.ReadFrom) as the
// bytes the server buffered (a write), then w.ReadFrom of the connection
// limited to exactly the rest, which the kernel splices: a request
// pipelined after the body stays for the server, and the body is at its
// end as soon as its last bytes left the client connection, before the
// backend has them (its answer may end before the splice returns, and the
// connection serves the pipelined request). 100 Continue goes out
// before, the read deadline bounds it as any read of the body, and a body
// that broke off (the client hung up or stalled, or w failed) closes the
// connection after the answer. TLS connections, chunked bodies and
// net/http's front (KindNetHTTP) copy.
//
// Shutdown closes idle connections, waits for active ones (not hijacked
// ones) and the ConnState hook feeds gateway_frontend_open_connections
// for both servers. Accept errors such as running out of descriptors back
// off and retry, as net/http's server does.
//
// Certificate hot reload is internal/pki's: TLSConfig only takes its
// GetCertificate.
package frontend
