// Package secretsvc is gatewayd's keeper of secrets: credential aliases,
// the master secret that protects them, the gateway's TLS identity and the
// named truststores. It implements the AliasService and PKIService of the
// management API, and gives the rest of the daemon what it needs at run
// time: [Service.Resolve] (the proxy's secret resolver),
// [Service.MissingAliases] (the deploy-time alias check),
// [Service.LoadIdentity] (the TLS identity for pki.NewReloader) and
// [Service.Truststore].
//
// The cryptography is internal/secrets': this package decides what is
// sealed under which identity, how it is laid out in the store, and how
// writes of sealed data are ordered against a master-secret rotation.
//
// # Store layout
//
// Aliases are objects of kind store.KindAlias. The key is "SCOPE/NAME",
// where SCOPE is the topology name, or "@gateway" for the gateway scope
// ("@" cannot start a topology name, so the scopes never collide and a
// prefix lists one scope). The value is the sealed record exactly as
// secrets.Keyring.Seal returns it (version, cipher id, key id, nonce,
// ciphertext and tag): every stored byte is authenticated, and the record
// says which cipher and key it needs. The record's additional data is its
// identity "alias/SCOPE/NAME" with SCOPE "gateway" for the gateway scope, so
// a value copied under another name or scope does not open. That is also why
// a topology named "gateway" cannot have aliases of its own (its identities
// would be the gateway scope's): aliases of that topology are resolved from
// the gateway scope, and creating one in its scope is refused.
// Creation times are not kept (the store keeps the time of the last write,
// which re-encryption and rotation also update).
//
// Truststores are objects of kind store.KindTruststore keyed by name, the
// value being the concatenated PEM certificates (re-encoded, without any
// text between blocks). Removing the last certificate deletes the
// truststore.
//
// Meta values are the daemon's: [MetaVerifier] (the master-secret verifier),
// [MetaCACert] and [MetaTLSCert] (PEM), [MetaCAKey] and [MetaTLSKey] (PKCS#8
// PEM sealed with the meta key as additional data).
//
// # Rotation and concurrency
//
// Every write of sealed data (alias create, re-encryption, certificate
// creation, master rotation) holds one mutex, so that nothing is sealed
// under a keyring that a rotation through this gateway is replacing.
//
// A master rotation (AliasService.RotateMaster without new_data_key) checks
// the current secret against the stored verifier and stores the data key
// wrapped by the new secret with one compare-and-set of the verifier: no
// record changes, so every gateway sharing the store (etcd) keeps serving,
// sealing and opening with the data key it holds, and none needs the new
// secret until it restarts. A gateway reports in its registration whether
// its master secret file still opens the store (see package daemon).
//
// With new_data_key the rotation also replaces the data key: it reseals
// every alias, the CA, TLS and token keys and writes the new verifier in one
// store transaction (staged on etcd): a crash leaves the old or the new
// state, whole. Only after the commit is the live keyring swapped
// (atomically) and the old one closed. Readers never take the mutex: a
// reader that meets a record written by a rotation that committed after it
// loaded the keyring reads and opens again with the new one. Other gateways
// follow the new key through the verifier's link ([Service.Follow]): a
// reader meeting a record under an unknown key follows and opens again, and
// every sealing write follows first, then checks after its write that no
// rotation committed in between (else it seals and writes again), so that
// no record stays under a key no gateway holds.
//
// # Errors
//
// Handlers return wrapped store errors (mapped to gRPC codes by the API's
// interceptor) or, for what the store cannot tell, a gRPC status:
// InvalidArgument for bad input, PermissionDenied for a wrong current master
// secret, DataLoss for a record that fails authentication (naming the alias
// or meta key, never the value). No error, log line or response carries a
// secret, except RevealAlias' response.
//
// # Reveal
//
// RevealAlias returns an alias' value. It exists because an operator who
// must move or check a credential would otherwise need the master secret
// and the data file, which is a wider exposure than one named value; the
// API's interceptor restricts it to admins and audits every call, whatever
// its outcome.
package secretsvc
