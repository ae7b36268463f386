// Package revocation is the gateway's set of revoked credentials
// (chain.RevocationChecker): token ids (jti) and session ids that no
// topology may accept any more.
//
// Readers (every authenticated request) load one immutable snapshot with
// an atomic pointer and look the id up in a map: no lock, O(1). Writers
// (the control plane applying revocations from the store) build a new
// snapshot and swap it in; they are serialised among themselves and never
// block readers. A revocation is kept until the credential it names would
// have expired anyway (Prune forgets those).
package revocation
