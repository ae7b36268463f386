package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/securegw/gateway/internal/flagerr"
	"github.com/securegw/gateway/internal/pki"
	"github.com/securegw/gateway/server/internal/config"
	"github.com/securegw/gateway/server/internal/daemon"
)

type usageError struct{ error }

// parseDays parses a Go duration or a number of days ("825d").
func parseDays(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 {
			return 0, fmt.Errorf("%q is not a positive number of days", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration (like 825d or 2160h)", s)
	}
	return d, nil
}

func oneLine(err error) string {
	s := strings.ReplaceAll(strings.TrimSpace(err.Error()), ":\n", ": ")
	return strings.ReplaceAll(s, "\n", "; ")
}

// globalOptions are the flags shared by init and serve.
type globalOptions struct {
	configFile       string
	dataDir          string
	masterSecretFile string
	storeURL         string
	proxyListen      string
	mgmtListen       string
	metricsListen    string
	logLevel         string
	logFormat        string
	dev              bool
	devListenAny     bool
	// loaded is the file load read, if any.
	loaded string
}

func (g *globalOptions) bind(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&g.configFile, "config", "", "gateway.yaml to read (default: DATA_DIR/gateway.yaml when present)")
	f.StringVar(&g.dataDir, "data-dir", "", "data directory (default /var/lib/gateway, or .gateway with --dev)")
	f.StringVar(&g.masterSecretFile, "master-secret-file", "", "file holding the master secret (else $"+daemon.EnvMasterSecret+", else a prompt)")
	f.StringVar(&g.storeURL, "store", "", "store: bbolt (in the data dir) or etcd://host:2379,host:2379/prefix (overrides store.backend, store.etcd.endpoints and store.etcd.prefix)")
	f.StringVar(&g.proxyListen, "proxy-listen", "", "proxy address (overrides proxy.listen)")
	f.StringVar(&g.mgmtListen, "management-listen", "", "management gRPC address (overrides management.listen)")
	f.StringVar(&g.metricsListen, "metrics-listen", "", `metrics address (overrides metrics.listen; "off" disables)`)
	f.StringVar(&g.logLevel, "log-level", "", "debug, info, warn or error")
	f.StringVar(&g.logFormat, "log-format", "", "json or text")
}

// bindDev registers --dev and --dev-listen-any.
func (g *globalOptions) bindDev(cmd *cobra.Command) {
	f := cmd.Flags()
	f.BoolVar(&g.dev, "dev", false, "development mode: loopback only, init when needed with a generated master secret in the data dir")
	f.BoolVar(&g.devListenAny, "dev-listen-any", false, "let a --dev daemon listen on non-loopback addresses (its master secret is in the data dir: never on a shared network)")
}

// load resolves the configuration: file, then flags that were set. A --dev
// daemon listens on loopback unless --dev-listen-any says otherwise.
func (g *globalOptions) load(cmd *cobra.Command) (config.Config, error) {
	c := config.Default()
	if g.dev {
		c = config.DevDefault()
	}
	dataDir := g.dataDir
	if dataDir == "" && g.dev {
		dataDir = ".gateway"
	}
	file := g.configFile
	if file == "" {
		lookIn := dataDir
		if lookIn == "" {
			lookIn = c.DataDir
		}
		if _, err := os.Stat(filepath.Join(lookIn, config.FileName)); err == nil {
			file = filepath.Join(lookIn, config.FileName)
		}
	}
	g.loaded = file
	if file != "" {
		var err error
		if c, err = config.LoadOver(file, c); err != nil {
			return c, err
		}
	}
	if dataDir != "" {
		c.DataDir = dataDir
	}
	set := func(flag string, dst *string, v string) {
		if cmd.Flags().Changed(flag) {
			*dst = v
		}
	}
	if cmd.Flags().Changed("store") {
		if err := c.Store.ParseStoreURL(g.storeURL); err != nil {
			return c, usageError{fmt.Errorf("--store: %w", err)}
		}
	}
	set("proxy-listen", &c.Proxy.Listen, g.proxyListen)
	set("management-listen", &c.Management.Listen, g.mgmtListen)
	set("metrics-listen", &c.Metrics.Listen, g.metricsListen)
	if c.Metrics.Listen == "off" {
		c.Metrics.Listen = ""
	}
	set("log-level", &c.Log.Level, g.logLevel)
	set("log-format", &c.Log.Format, g.logFormat)
	if g.dev && !g.devListenAny {
		if open := c.NonLoopback(); len(open) > 0 {
			return c, usageError{fmt.Errorf("--dev listens on loopback only, but %s is not a loopback address: "+
				"a dev daemon keeps its master secret in the data dir. Listen on 127.0.0.1, or pass --dev-listen-any "+
				"to expose it anyway", strings.Join(open, " and "))}
		}
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return c, fmt.Errorf("data dir: %w", err)
	}
	c.DataDir = abs
	return c, nil
}

func (g *globalOptions) secretSource(in *os.File, errOut io.Writer) daemon.SecretSource {
	return daemon.SecretSource{
		File:   g.masterSecretFile,
		Env:    os.Getenv(daemon.EnvMasterSecret),
		Prompt: in != nil && term.IsTerminal(int(in.Fd())),
		In:     in,
		Out:    errOut,
	}
}

func newLogger(c config.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Log.Level))
	opts := &slog.HandlerOptions{Level: lvl, ReplaceAttr: durationsInMillis}
	if c.Log.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// durationsInMillis logs every duration as float milliseconds under a key
// that names the unit ("duration" becomes "duration_ms": 1.234): slog
// would write bare nanoseconds in JSON, readable by neither people nor
// dashboards without knowing the unit.
func durationsInMillis(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() != slog.KindDuration {
		return a
	}
	ms := float64(a.Value.Duration().Microseconds()) / 1000
	return slog.Float64(a.Key+"_ms", ms)
}

func newRootCommand(in *os.File, out, errOut io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "gatewayd",
		Short:         "The secure gateway daemon",
		SilenceUsage:  true,
		SilenceErrors: true,
		Example: `  gatewayd serve --dev                          # try it: loopback, generated secrets in .gateway/
  gatewayd init --data-dir /var/lib/gateway --master-secret-file /run/secrets/gw-master
  gatewayd serve --data-dir /var/lib/gateway --master-secret-file /run/secrets/gw-master`,
	}
	root.Version = version
	root.SetVersionTemplate("gatewayd {{.Version}}\n")
	root.SetIn(in)
	root.SetOut(out)
	root.SetErr(errOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{flagerr.Describe(err)} })
	root.AddCommand(newInitCommand(in, out, errOut), newServeCommand(in, errOut), newVersionCommand(out), newConfigCommand(out), newStoreCommand(out, errOut))
	return root
}

func newVersionCommand(out io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version",
		Example: "  gatewayd version",
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintln(out, version)
			return err
		},
	}
}

func newConfigCommand(out io.Writer) *cobra.Command {
	o := &globalOptions{}
	check := &cobra.Command{
		Use:   "check [FILE]",
		Short: "Validate a gateway.yaml without starting the daemon",
		Long: `check reads a gateway.yaml (FILE, else --config, else DATA_DIR/gateway.yaml)
and runs the validation serve runs at start, including the refusal of a
configuration in which no principal has the admin role. It opens no store and
binds no port; it exits 1 naming every problem.`,
		Example: `  gatewayd config check /etc/gateway/gateway.yaml
  gatewayd config check --data-dir .gateway`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.configFile = args[0]
			}
			c, err := o.load(cmd)
			if err != nil {
				return err
			}
			if err := c.Validate(); err != nil {
				return fmt.Errorf("invalid configuration:\n%w", err)
			}
			what := o.loaded
			if what == "" {
				what = "the default configuration (no " + config.FileName + " in " + c.DataDir + ")"
			}
			_, err = fmt.Fprintf(out, "%s: valid\n", what)
			return err
		},
	}
	o.bind(check)
	cfg := &cobra.Command{Use: "config", Short: "Work with gateway.yaml", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() }}
	cfg.AddCommand(check)
	return cfg
}

type initOptions struct {
	globalOptions
	generate  bool
	hostnames []string
	keyType   string
	keySize   int
	curve     string
	validity  string
	clientVal string
	caVal     string
}

func newInitCommand(in *os.File, out, errOut io.Writer) *cobra.Command {
	o := &initOptions{}
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a data directory: master-secret verifier, admin CA, TLS identity, admin client certificate",
		Long: `init creates the gateway's identity in a data directory. The master secret
is never stored: it is read from --master-secret-file, $GATEWAY_MASTER_SECRET,
or a prompt, or generated into --master-secret-file with --generate. Private
keys are stored sealed under it; the admin client key for gatewayctl is
written 0600 next to a ready-to-use gatewayctl.yaml.`,
		Example: `  gatewayd init --data-dir /var/lib/gateway --generate --master-secret-file /run/secrets/gw-master
  gatewayd init --data-dir ./gw --hostname gw.example.com --hostname 10.0.0.5 --key-type rsa --key-size 4096`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.load(cmd)
			if err != nil {
				return err
			}
			spec, err := pki.ParseKeySpec(o.keyType, o.keySize, o.curve)
			if err != nil {
				return usageError{err}
			}
			io := daemon.DefaultInitOptions(c)
			io.Secret = o.secretSource(in, errOut)
			io.GenerateSecret = o.generate
			io.Hostnames = o.hostnames
			io.CAKey, io.TLSKey, io.ClientKey = spec, spec, spec
			for _, v := range []struct {
				flag, value string
				dst         *time.Duration
			}{{"validity", o.validity, &io.TLSValidity}, {"client-validity", o.clientVal, &io.ClientValidity}, {"ca-validity", o.caVal, &io.CAValidity}} {
				if v.value == "" {
					continue
				}
				d, err := parseDays(v.value)
				if err != nil {
					return usageError{fmt.Errorf("--%s: %w", v.flag, err)}
				}
				*v.dst = d
			}
			io.Log = newLogger(c, errOut)
			io.Out = out
			return daemon.Init(cmd.Context(), io)
		},
	}
	o.bind(cmd)
	f := cmd.Flags()
	f.BoolVar(&o.generate, "generate", false, "generate a random master secret into --master-secret-file")
	f.StringSliceVar(&o.hostnames, "hostname", nil, "DNS name or IP of the TLS identity (repeatable; default localhost, 127.0.0.1, ::1, host name)")
	f.StringVar(&o.keyType, "key-type", "ecdsa", "key type of the generated certificates: rsa, ecdsa or ed25519")
	f.IntVar(&o.keySize, "key-size", 0, "RSA key size: 2048, 3072 or 4096")
	f.StringVar(&o.curve, "curve", "", "ECDSA curve: P-256 or P-384")
	f.StringVar(&o.validity, "validity", "", "validity of the TLS identity, e.g. 825d or 2160h (default 825d)")
	f.StringVar(&o.clientVal, "client-validity", "", "validity of the admin client certificate (default 365d)")
	f.StringVar(&o.caVal, "ca-validity", "", "validity of the admin CA (default 3650d)")
	return cmd
}

// writeAddrFile returns a Ready callback that writes the daemon's addresses
// to path, one key=value a line, so scripts (make run) learn the real ports.
func writeAddrFile(path string, log *slog.Logger) func(daemon.Addrs) {
	if path == "" {
		return nil
	}
	return func(a daemon.Addrs) {
		doc := fmt.Sprintf("proxy=%s\nmanagement=%s\nmetrics=%s\n", a.Proxy, a.Management, a.Metrics)
		if err := pki.WriteFileAtomic(path, []byte(doc), 0o644); err != nil {
			log.Error("writing --addr-file", "err", err)
		}
	}
}

func newServeCommand(in *os.File, errOut io.Writer) *cobra.Command {
	o := &globalOptions{}
	var addrFile string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway",
		Long: `serve opens the data directory, unlocks it with the master secret, and runs
the proxy, the management API and the metrics listener until SIGINT or
SIGTERM, then shuts down in order: stop accepting, drain HTTP, stop gRPC
gracefully, close the store.`,
		Example: `  gatewayd serve --dev
  gatewayd serve --data-dir /var/lib/gateway --master-secret-file /run/secrets/gw-master
  gatewayd serve --config /etc/gateway/gateway.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.load(cmd)
			if err != nil {
				return err
			}
			log := newLogger(c, errOut)
			if open := c.NonLoopback(); o.dev && len(open) > 0 {
				log.Warn("--dev-listen-any: this dev daemon, whose master secret is in its data dir, listens beyond loopback; never on a shared network",
					"listeners", strings.Join(open, ", "))
			}
			err = daemon.Serve(cmd.Context(), daemon.ServeOptions{
				Config:  c,
				Secret:  o.secretSource(in, errOut),
				Dev:     o.dev,
				Version: version,
				Log:     log,
				Ready:   writeAddrFile(addrFile, log),
			})
			if errors.Is(err, daemon.ErrWrongMasterSecret) {
				if c.Store.Backend == config.StoreBackendEtcd {
					return errors.New("wrong master secret: the store was not opened and nothing was written " +
						"(if the master secret was rotated through another gateway, give this one the new secret)")
				}
				return errors.New("wrong master secret: the data directory was not opened and nothing was written")
			}
			return err
		},
	}
	o.bind(cmd)
	o.bindDev(cmd)
	cmd.Flags().StringVar(&addrFile, "addr-file", "", "once serving, write the addresses listened on to this file (proxy=…, management=…, metrics=… lines)")
	return cmd
}

func newStoreCommand(out, errOut io.Writer) *cobra.Command {
	var configFile, from, to string
	migrateCmd := &cobra.Command{
		Use:   "migrate",
		Short: "Copy the whole store to another backend and verify the copy",
		Long: `migrate copies everything a store holds (topologies with their history,
aliases and other objects, meta values, the audit log, the revision) into an
empty store, keeping every revision, then reads the copy back and compares
it with the source. Values stay sealed: no master secret is needed. Stop
the gateways using either store first (a bbolt store is locked by its
gatewayd). TLS and authentication to etcd come from store.etcd in --config.`,
		Example: `  gatewayd store migrate --from bolt:///var/lib/gateway --to etcd://10.0.0.5:2379,10.0.0.6:2379/gw
  gatewayd store migrate --from etcd://127.0.0.1:2379/gw --to bolt://./gw-copy --config gateway.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" || to == "" {
				return usageError{errors.New("--from and --to are required")}
			}
			c := config.Default()
			if configFile != "" {
				var err error
				if c, err = config.LoadOver(configFile, c); err != nil {
					return err
				}
			}
			return daemon.Migrate(cmd.Context(), c, from, to, out, newLogger(c, errOut))
		},
	}
	f := migrateCmd.Flags()
	f.StringVar(&from, "from", "", "source store: bolt://DATA_DIR or etcd://host:2379,host:2379/prefix")
	f.StringVar(&to, "to", "", "target store (must be empty): bolt://DATA_DIR or etcd://host:2379,host:2379/prefix")
	f.StringVar(&configFile, "config", "", "gateway.yaml whose store.etcd gives etcd's TLS files and user")
	st := &cobra.Command{Use: "store", Short: "Work with the store", Args: cobra.NoArgs}
	st.AddCommand(migrateCmd)
	return st
}
