// Package tokensvc is the gateway's token service and identity broker:
// signing keys (sealed in the store, rotated with retired keys kept in the
// JWKS while tokens they signed live), token policies, issuance for oneself
// or on behalf of a subject (RFC 8693 act claim), token state (renew,
// revoke, enable/disable, eviction of expired entries) and verification.
//
// The store is the source of truth. The service's in-memory view (token
// state, the revocation set, the live keys) changes only through Reload and
// Apply, which the reconciler calls from the store's watch: a change made
// through any gateway sharing the store reaches them all the same way, and
// a mutation is acknowledged once its revision is applied. Verifying a token
// reads memory only.
//
// A policy names on-behalf-of subjects by name or by group. A subject's
// groups (for allowed_subject_groups and include_groups) come from the
// policy's group_source, a topology whose group sources the daemon asks
// (Options.Groups); a failed lookup refuses the issuance. A policy's
// topologies are recorded in each token's state and returned by
// VerifyToken: the jwt providers of other topologies refuse the token.
//
// HS256 is never signed with the gateway's keys: a topology that asks for
// it (a KNOXTOKEN service's hmac_secret) passes its secret with the request,
// and the token is bound to that topology. Under a management call, a new
// token's state and the call's audit record are written in one commit
// (api.PendingAudit, the bbolt store's PutObjectAudited); the store shares
// that commit with the other issuances in flight.
package tokensvc
