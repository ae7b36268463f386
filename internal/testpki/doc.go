// Package testpki makes throw-away certificate authorities and
// certificates for tests: real X.509, real TLS handshakes, no files.
package testpki
