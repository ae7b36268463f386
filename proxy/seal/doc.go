// Package seal turns a backend target the gateway may dispatch to (a
// WebHDFS datanode URL from a namenode's redirect) into an opaque token,
// and back.
//
// A token is the target and its expiry, encrypted and authenticated with
// XChaCha20-Poly1305 under a gateway key, bound to a binding string (the
// topology and service that issued it): a token is opened only by the
// binding it was sealed for, before its expiry, and unmodified. The
// gateway dispatches a follow-up request only to a target it opened from a
// token, so a client cannot make it fetch a URL of its choosing.
//
// Rotate replaces the sealing key (after a master-key rotation); tokens of
// the replaced key still open until they expire, and the key is dropped a
// TTL after its replacement.
//
// CheckTarget refuses targets a gateway must never be sent to even by its
// own backends: other schemes than http and https (file:, gopher:), URLs
// with user info, hosts no URL parser reads as written, and link-local,
// unspecified or multicast addresses (the cloud metadata service at
// 169.254.169.254 in every spelling getaddrinfo accepts, 2852039166 or
// 0xa9.254.43518, and its names); CheckAddr is the address check alone,
// for the dial of a target whose name resolved.
//
//	s, _ := seal.New(key, 5*time.Minute)
//	tok, _ := s.Seal("sandbox\x00webhdfs", "http://dn1:9864/webhdfs/v1/f?op=OPEN")
//	target, err := s.Open("sandbox\x00webhdfs", tok) // the URL, or ErrInvalid / ErrExpired
package seal
