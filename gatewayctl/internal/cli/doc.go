// Package cli implements the gatewayctl commands.
//
// Every verb lives in its own file and follows one shape: an options struct
// holding its flags and the shared *factory, with Complete (fill in defaults
// from arguments and flags), Validate (reject bad input; the error is a usage
// error, exit code 2) and Run(ctx) (talk to gatewayd, print). Commands never
// exit the process: they return errors, and Main maps them to a one-line
// message on stderr and an exit code.
//
// The factory carries the injected IO streams, the global flags (--config,
// --server, -o, --timeout) and the pieces that touch the outside world: config
// loading (config.go), the mTLS gRPC connection (dial.go), the printers
// (printer.go) and the terminal used for secret prompts (secrets.go).
//
// gRPC status codes become human errors in errors.go, the single place where
// that mapping lives. Secrets (alias values, master secrets) are read from
// stdin, a file or a no-echo prompt; they are never printed and never part of
// an error message.
//
// The package imports only the generated management API and
// internal/topology (for the offline `topology validate` and for printing a
// topology as its native YAML document), through topology_adapter.go.
package cli
