package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/securegw/gateway/server/internal/config"
)

// loadServe resolves serve's configuration for args, with gatewayyaml (if
// not empty) as the data dir's gateway.yaml.
func loadServe(t *testing.T, gatewayYAML string, args ...string) (config.Config, error) {
	t.Helper()
	dir := t.TempDir()
	if gatewayYAML != "" {
		if err := os.WriteFile(filepath.Join(dir, config.FileName), []byte(gatewayYAML), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	o := &globalOptions{}
	cmd := &cobra.Command{}
	o.bind(cmd)
	o.bindDev(cmd)
	if err := cmd.ParseFlags(append([]string{"--data-dir", dir}, args...)); err != nil {
		t.Fatal(err)
	}
	return o.load(cmd)
}

// A --dev daemon never binds beyond loopback unless --dev-listen-any says so.
func TestDevListensOnLoopback(t *testing.T) {
	loopback := func(t *testing.T, c config.Config) {
		t.Helper()
		for _, a := range []string{c.Proxy.Listen, c.Management.Listen, c.Metrics.Listen} {
			if !config.IsLoopback(a) {
				t.Errorf("%q is not loopback (config %+v)", a, c)
			}
		}
	}
	t.Run("no gateway.yaml", func(t *testing.T) {
		c, err := loadServe(t, "", "--dev")
		if err != nil {
			t.Fatal(err)
		}
		loopback(t, c)
	})
	t.Run("gateway.yaml setting only the log level", func(t *testing.T) {
		c, err := loadServe(t, "log:\n  level: debug\n", "--dev")
		if err != nil {
			t.Fatal(err)
		}
		loopback(t, c)
		if c.Log.Level != "debug" || c.Proxy.Listen != "127.0.0.1:8443" {
			t.Errorf("got level %q, proxy %q", c.Log.Level, c.Proxy.Listen)
		}
	})
	refused := []struct {
		name, yaml string
		args       []string
		key        string
	}{
		{"proxy.listen in gateway.yaml", "proxy:\n  listen: \":8443\"\n", nil, "proxy.listen"},
		{"management.listen in gateway.yaml", "management:\n  listen: 0.0.0.0:8444\n", nil, "management.listen"},
		{"--proxy-listen", "", []string{"--proxy-listen", "[::]:9443"}, "proxy.listen"},
		{"--metrics-listen", "", []string{"--metrics-listen", "192.0.2.1:9464"}, "metrics.listen"},
	}
	for _, tc := range refused {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			_, err := loadServe(t, tc.yaml, append([]string{"--dev"}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), "--dev-listen-any") || !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("got %v, want a refusal naming %s and --dev-listen-any", err, tc.key)
			}
			if _, ok := err.(usageError); !ok {
				t.Errorf("got %T, want a usage error", err)
			}
		})
	}
	t.Run("--dev-listen-any allows it", func(t *testing.T) {
		c, err := loadServe(t, "proxy:\n  listen: \":8443\"\n", "--dev", "--dev-listen-any")
		if err != nil || c.Proxy.Listen != ":8443" {
			t.Fatalf("got %q, %v", c.Proxy.Listen, err)
		}
	})
	t.Run("without --dev the default is every interface", func(t *testing.T) {
		c, err := loadServe(t, "log:\n  level: debug\n")
		if err != nil || c.Proxy.Listen != ":8443" {
			t.Fatalf("got %q, %v", c.Proxy.Listen, err)
		}
	})
}
