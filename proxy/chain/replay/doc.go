// Package replay is the gateway's in-memory replay cache
// (chain.ReplayCache): it accepts each key (a signed request's nonce) once
// while the key is valid.
//
// The cache is bounded: it holds at most the size given to New. Keys leave
// in the order they came in, once expired; lookups, inserts and evictions
// are O(1) (a map and a ring of insertion order). Keys recorded with
// different lifetimes may expire out of that order: a full cache then
// sweeps the expired ones out (O(size), only when one of them has
// expired), so a long-lived key does not hold expired ones in. A cache
// full of keys that are all still valid fails closed: Seen reports true (a
// replay), so a flood of valid nonces can refuse requests but never let
// one through twice. Size it for the peak rate of signed requests times their
// validity window.
//
// Shared puts the cache in front of a store that gateways share (the etcd
// store's Claim): a key is then accepted once by the whole cluster, and a
// store that does not record it fails closed.
package replay
