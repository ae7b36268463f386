// Package h1 is the wire of the proxy's HTTP/1.1 backend connections, in
// place of net/http's Transport: keep-alive connections pooled per backend
// origin (LIFO, a stale one found by a non-blocking peek before it is
// reused, idle ones closed after the idle timeout; one with bytes past the
// end of its last answer is closed, and one whose answer had no body by
// rule, HEAD, 204 or 304, is peeked at before any reuse, under TLS too),
// the request head written once into the connection's buffer, the response head read into
// one string that the header values are sliced from, and response bodies
// streamed as they come (Content-Length, chunked with trailers, or to the
// connection's end), moved by splice(2) when both sides are plain TCP; a
// Read of a chunked body returns the data of every chunk already buffered.
// Pipe copies a large body with its reading and writing overlapped.
// Conn.ReadFrom sends a request body the other way, by splice(2) from a
// plain TCP client connection when both sides are plain TCP.
//
// Everything runs on the caller's goroutine: a request without a body costs
// one write and one read system call on a reused plain TCP connection (its
// head is sent from inside the wait for its answer, FlushOnRead, so no
// read finds nothing before the wait), and no goroutine switch. The package knows nothing of routing, headers hygiene
// or failover: the proxy decides what to send and what to do with an error.
package h1
