package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/securegw/gateway/server/internal/config"
)

func TestParseDays(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"825d", 825 * 24 * time.Hour, true},
		{"2160h", 2160 * time.Hour, true},
		{"0d", 0, false},
		{"-1d", 0, false},
		{"xd", 0, false},
		{"-5h", 0, false},
		{"soon", 0, false},
	}
	for _, tc := range cases {
		got, err := parseDays(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseDays(%q) = %v, %v", tc.in, got, err)
		}
	}
}

// runGatewayd runs the gatewayd command line in-process.
func runGatewayd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	root := newRootCommand(nil, &out, &out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestVersionFlag(t *testing.T) {
	out, err := runGatewayd(t, "--version")
	if err != nil || out != "gatewayd "+version+"\n" {
		t.Fatalf("got %q, %v", out, err)
	}
}

// config check runs serve's validation without starting anything.
func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	written := 0
	write := func(name, doc string) string {
		written++
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", "management:\n  principals:\n    admin: [admin]\n    ci-deployer: [operator]\n")
	type checkCase struct {
		name string
		args []string
		want string // in the output, or in the error when wantErr
		err  bool
	}
	cases := []checkCase{
		{"valid file", []string{good}, good + ": valid\n", false},
		{"valid via --config", []string{"--config", good}, good + ": valid\n", false},
		{"no admin", []string{write("noadmin.yaml", "management:\n  principals:\n    ci-deployer: [operator]\n")}, "no principal has the admin role", true},
		{"every problem named", []string{write("bad.yaml", "log:\n  level: loud\n  format: xml\n")}, `log.level: "loud" is not debug, info, warn or error` + "\n" + `log.format: "xml"`, true},
		{"unknown key", []string{write("typo.yaml", "proxy:\n  listne: :1\n")}, "listne", true},
		{"public url", []string{write("public.yaml", "proxy:\n  public_url: https://gw.example.com\n")}, ": valid\n", false},
		{"public url with a path", []string{write("pubpath.yaml", "proxy:\n  public_url: https://gw.example.com/knox\n")},
			`proxy.public_url: "https://gw.example.com/knox" has a path ("/knox"): a path prefix is not supported`, true},
		{"missing file", []string{filepath.Join(dir, "nope.yaml")}, "no such file", true},
		{"data dir without a file", []string{"--data-dir", t.TempDir()}, "the default configuration (no gateway.yaml in", false},
	}
	if runtime.GOOS == "linux" { // elsewhere, serve refuses any tcp_congestion at its listener
		reno := write("reno.yaml", "proxy:\n  tcp_congestion: reno\n")
		cases = append(cases,
			checkCase{"congestion control the kernel has", []string{reno}, reno + ": valid\n", false},
			checkCase{"congestion control the kernel lacks", []string{write("nocc.yaml", "proxy:\n  tcp_congestion: nosuchcc\n")},
				`proxy.tcp_congestion: congestion control "nosuchcc": this kernel has no such algorithm; it offers `, true})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runGatewayd(t, append([]string{"config", "check"}, tc.args...)...)
			if tc.err {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("got %v (output %q), want an error containing %q", err, out, tc.want)
				}
				return
			}
			if err != nil || !strings.Contains(out, tc.want) {
				t.Fatalf("got %q, %v, want %q", out, err, tc.want)
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != written {
		t.Errorf("config check created files: %v", entries)
	}
}

// Durations in the log are float milliseconds under a key naming the unit.
func TestLogDurationsInMillis(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		var buf bytes.Buffer
		c := config.Default()
		c.Log.Format = format
		newLogger(c, &buf).Info("access", "duration", 1234567*time.Nanosecond, "status", 200)
		want := map[string]string{"json": `"duration_ms":1.234,"status":200`, "text": "duration_ms=1.234 status=200"}[format]
		if !strings.Contains(buf.String(), want) {
			t.Errorf("%s: got %q, want %q", format, buf.String(), want)
		}
	}
}

// Flag errors name the flag and the value, not the parser's internals.
func TestFlagErrors(t *testing.T) {
	for args, want := range map[string]string{
		"init --key-size big":                  `--key-size: "big" is not a whole number`,
		"init --key-size 99999999999999999999": `--key-size: "99999999999999999999" is out of range`,
		"serve --dev=perhaps":                  `--dev: "perhaps" is not true or false`,
	} {
		_, err := runGatewayd(t, strings.Fields(args)...)
		if err == nil || err.Error() != want {
			t.Errorf("%s: got %v, want %q", args, err, want)
		}
		if _, ok := err.(usageError); !ok {
			t.Errorf("%s: got %T, want a usage error", args, err)
		}
	}
}
