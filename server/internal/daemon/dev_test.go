package daemon

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
	"github.com/securegw/gateway/server/internal/config"
)

// startDev serves c in --dev mode until the returned stop is called.
func startDev(t *testing.T, c config.Config) (*testGateway, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	g := &testGateway{cfg: c, done: make(chan error, 1)}
	ready := make(chan Addrs, 1)
	go func() {
		g.done <- Serve(ctx, ServeOptions{Config: c, Dev: true, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Ready: func(a Addrs) { ready <- a }})
	}()
	select {
	case g.addrs = <-ready:
	case err := <-g.done:
		cancel()
		t.Fatalf("serve --dev: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("not ready")
	}
	return g, func() {
		cancel()
		if err := <-g.done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}
}

// A --dev daemon keeps its master secret in the data dir; a rotation
// updates that file, so the daemon still starts afterwards.
func TestDevModeSurvivesAMasterRotation(t *testing.T) {
	c := testConfig(t)
	g, stop := startDev(t, c)
	l := Layout{c.DataDir}
	old, err := os.ReadFile(l.DevSecret())
	if err != nil {
		t.Fatal(err)
	}
	newSecret := []byte("a new dev master secret, long enough")
	_, err = gatewayv1.NewAliasServiceClient(g.dial(t, adminCert(t, c))).RotateMaster(context.Background(),
		&gatewayv1.RotateMasterRequest{CurrentSecret: bytes.TrimSpace(old), NewSecret: newSecret})
	if err != nil {
		t.Fatalf("rotate: %v", err)
	}
	stop()
	got, err := os.ReadFile(l.DevSecret())
	if err != nil || string(bytes.TrimSpace(got)) != string(newSecret) {
		t.Fatalf("dev secret file after rotation: %q %v", got, err)
	}
	if fi, _ := os.Stat(l.DevSecret()); fi.Mode().Perm() != 0o600 {
		t.Fatalf("dev secret file mode %v", fi.Mode().Perm())
	}
	_, stop = startDev(t, c)
	stop()
}
