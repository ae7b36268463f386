// Package frontend builds the gateway's client-facing listeners around the
// proxy handler: an *http.Server with limits (NewServer), its TLS
// configuration with optional client certificates (TLSConfig), liveness and
// readiness handlers (Health), and the metrics handler for a separate
// listener (Metrics).
//
// Limits and their defaults:
//
//	MaxHeaderBytes     64 KiB  larger request headers get 431
//	ReadHeaderTimeout  10s     a client trickling its headers (slowloris) is cut off
//	ReadTimeout        0       whole-request bound; 0 so uploads may stream
//	WriteTimeout       0       responses may stream (downloads, SSE)
//	IdleTimeout        120s    idle keep-alive connections are closed
//
// Certificate hot reload is internal/pki's: TLSConfig only takes its
// GetCertificate.
package frontend
