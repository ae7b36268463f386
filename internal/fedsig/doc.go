// Package fedsig signs and verifies the federation signature: the header
// one gateway adds when it re-dispatches a user's request to another
// gateway (seed 001), proving that the identity headers it sent come from a
// holder of the shared secret, for this request, now, and once.
//
// The signature is HMAC-SHA256, keyed with the secret both gateways hold as
// a credential alias, over (each field length-prefixed, so that no two
// different requests sign the same bytes):
//
//	version, method, path (decoded, as routed), raw query, timestamp,
//	nonce, user, groups
//
// and travels in one header (Header):
//
//	X-Gateway-Signature: v1 t=1767225600 n=<nonce> s=<signature>
//
// with the timestamp in Unix seconds, a 128-bit random nonce and the MAC,
// both base64url without padding. The receiver (Verifier) recomputes the
// MAC and compares it in constant time, refuses a timestamp further than its
// window from its clock, and records each nonce in a replay cache until the
// timestamp leaves the window, so that a signature is accepted once. The
// replay cache is the small interface ReplayCache, declared here: the
// gateway's in-memory, bounded one today (proxy/chain/replay), a store
// shared by every gateway of a cluster when several run on one store, so
// that a signature replayed to another gateway of the cluster is refused
// too.
//
// The body is not signed (the gateway streams it): two-way TLS between the
// gateways protects the request in transit; the signature binds the
// asserted identity to this request's method, path and query, now, once.
//
// The errors of Verify say which check failed, for the receiver's log; they
// never carry the secret or the signature, and a client is never told.
package fedsig
