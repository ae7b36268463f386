// Package wsrelay relays WebSocket connections frame by frame between a
// client and a backend once both handshakes are done.
//
// The relay parses every frame (RFC 6455 §5): it refuses what the
// protocol forbids (unmasked client frames, masked backend frames,
// reserved bits without a negotiated extension, fragmented or oversized
// control frames, 64-bit lengths with the top bit set, continuation
// frames out of order) with close 1002, text that is not UTF-8 with 1007,
// and messages over the size limit with 1009. Close frames, their codes
// and reasons pass both ways, and so do pings and pongs; the relay's own
// keepalive pings are answered to it, not relayed. Text messages (and
// binary ones a rule names) can be rewritten by ordered rules per
// direction (Rules).
//
// permessage-deflate (RFC 7692) is negotiated with each side on its own
// (AcceptDeflate, DeflateOffer, CheckDeflateAnswer), always without
// context takeover: compressed messages are inflated within the message
// size limit (1009 past it, 1007 when they do not inflate) and pass
// compressed when the other side took the extension and no rule reads
// them, uncompressed otherwise.
//
// Memory: an idle relayed connection holds no goroutine and no buffer.
// Each side of a plain TCP connection is registered once, edge-triggered,
// on an epoll instance; when bytes arrive, one goroutine takes a pooled
// reader and writer, reads what the socket holds (never waiting between
// frames) and relays the frames there, and parks again once a read found
// the socket drained: no read that finds nothing, no re-arming, no read
// deadline per burst. An event while it runs makes it read again before
// parking. A frame that arrives in parts waits for its rest in the
// netpoller, bounded by WriteTimeout. Sides that cannot be parked (TLS,
// whose decrypted bytes the kernel cannot see, or other systems) keep one
// goroutine blocked on a one-byte read and take the buffers only once a
// frame has started. At most one goroutine per direction is active.
//
// A Hub tracks its connections: one sweeper goroutine per hub closes idle
// ones (IdleTimeout), pings quiet sides (PingInterval) and asks each
// connection's Guard whether it must close (credential revoked or
// expired). Close(code, reason) sends close frames both ways and drops
// both TCP connections once the peers answered or CloseTimeout passed.
package wsrelay
