// Package pki issues and loads the gateway's X.509 identities: a private
// certificate authority, server certificates for the proxy and management
// listeners, and client certificates for gatewayctl and gateway-to-gateway
// two-way TLS.
//
// Key types and sizes are configurable through [KeySpec] (RSA 2048/3072/4096,
// ECDSA P-256/P-384, Ed25519; ECDSA P-256 by default). Certificates carry
// random 128-bit serial numbers, the key usages their role needs, a subject
// key identifier, and a NotBefore one minute in the past to absorb clock skew.
// The CA may sign leaves only (MaxPathLen 0).
//
// Private keys are written as PKCS#8 PEM; [WriteFileAtomic] writes them (or
// any file) so that a crash never leaves a half-written file behind.
// [Reloader] serves a TLS identity that can be swapped while listening, and
// keeps the old identity when a new one fails to load.
package pki
