// Command gatewayd is the secure gateway daemon: an HTTP and WebSocket
// reverse proxy whose routing table is compiled from topologies, managed
// over a gRPC API backed by an embedded bbolt store.
//
//	gatewayd init --data-dir /var/lib/gateway --master-secret-file /run/secrets/master
//	gatewayd serve --data-dir /var/lib/gateway --master-secret-file /run/secrets/master
//	gatewayd serve --dev          # init when needed, then serve, on loopback
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := newRootCommand(os.Stdin, os.Stdout, os.Stderr)
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "gatewayd: "+oneLine(err))
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}
