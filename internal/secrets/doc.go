// Package secrets encrypts the gateway's credential aliases at rest.
//
// # Key hierarchy
//
// The operator's master secret is never stored. [Unlock] runs the configured
// password-based KDF (argon2id by default; scrypt and PBKDF2-SHA256/512 are
// available) once, over the master secret and a random salt, to get a
// key-encryption key. That key unwraps a random 256-bit data key held in the
// verifier, a small JSON document the server keeps in the store's metadata
// next to the KDF parameters, the salt and the key id. The verifier's AEAD
// seal doubles as the check of the master secret: a wrong secret fails it
// with [ErrWrongMasterSecret] before any alias is touched, and tampering with
// the stored parameters fails it too (they are its additional data).
//
// Data records are sealed with subkeys derived from the data key by
// HKDF-SHA256, one per cipher (AES-256-GCM by default, or
// XChaCha20-Poly1305). Every record is self-describing:
//
//	version(1) | cipher id(1) | key id(8) | nonce(12 or 24) | ciphertext+tag(16)
//
// The first ten bytes and the record's identity (for example
// "alias/sandbox/ldap-bind-password") are the AEAD's additional data, so a
// flipped byte anywhere, or a record copied under another identity, fails
// with [ErrIntegrity].
//
// # Changing settings
//
// KDF parameters protect only the data key, so changing them never touches
// data: the next [Unlock] checks the secret with the stored parameters, then
// rewraps the data key with the new ones and returns the new verifier for the
// server to store. Changing the cipher applies to new writes; older records
// still open, [Keyring.Stale] reports them and [Keyring.Reseal] upgrades
// them.
//
// # Rotation
//
// [Rewrap] protects the same data key with a new master secret: a new
// verifier, no record touched. Processes already running with the data key
// (other gateways sharing the store) keep sealing and opening; only a
// process that unlocks afterwards needs the new secret. This is what a
// master rotation does by default.
//
// [Rotate] creates a new data key under a new master secret; the server
// reseals every record with [Keyring.ResealWith] in one store transaction and
// stores the new verifier in the same transaction. That verifier also holds
// the new data key sealed under a key derived from the previous one (the
// link, bound to both key ids), so that a process running with the previous
// key follows with [Follow], without the master secret. The link lasts until
// the next [Rewrap]: a rotation because the data key itself may have leaked
// is complete once a master rotation dropped it. A verifier written before
// links existed is the same document without them: nothing to upgrade.
//
// Weak parameters (below the OWASP password storage recommendations) are
// refused unless explicitly allowed. Absurd ones (that would exhaust memory or
// time at unlock) are refused always, also when read from a stored verifier.
package secrets
