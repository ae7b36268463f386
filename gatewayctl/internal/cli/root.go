package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/securegw/gateway/internal/flagerr"
)

// IOStreams are the standard streams of a command, injected so tests can run
// commands with buffers.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// Main runs gatewayctl with args (without the program name) and returns the
// process exit code: 0 on success, 1 on errors, 2 on usage errors. getenv
// looks up environment variables (os.Getenv in production).
func Main(ctx context.Context, args []string, streams IOStreams, getenv func(string) string) int {
	return run(ctx, args, newFactory(streams, getenv))
}

// run executes the command line with f; tests call it with their own
// factory (and terminal).
func run(ctx context.Context, args []string, f *factory) int {
	streams := f.streams
	root := newRootCommand(f)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprint(streams.ErrOut, formatError(err))
	code := exitCode(err)
	if code == exitUsage && cmd != nil {
		fmt.Fprintf(streams.ErrOut, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return code
}

// runner is the shape of every command's options.
type runner interface {
	// Complete fills in the options from arguments and flags.
	Complete(cmd *cobra.Command, args []string) error
	// Validate rejects bad input; its error is a usage error.
	Validate() error
	// Run does the work.
	Run(ctx context.Context) error
}

// runE adapts a runner to cobra.
func runE(o runner) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := o.Complete(cmd, args); err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return asUsageError(err)
		}
		return o.Run(cmd.Context())
	}
}

func newRootCommand(f *factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "gatewayctl",
		Short: "Manage a gatewayd secure gateway",
		Long: `gatewayctl manages a gatewayd secure gateway through its gRPC management API,
over mutual TLS. The connection settings come from a YAML config file written
by 'gatewayd init' (see --config).`,
		Example: `  # Show the state of the gateway and who you are to it
  gatewayctl status

  # Deploy a topology, then list what is deployed
  gatewayctl topology deploy sandbox.yaml
  gatewayctl topology list -o yaml`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			switch f.output {
			case outputTable, outputJSON, outputYAML:
			default:
				return usageErrorf("invalid output format %q: use table, json or yaml", f.output)
			}
			if f.timeout <= 0 {
				return usageErrorf("--timeout must be positive")
			}
			return nil
		},
	}
	root.Version = clientVersion()
	root.SetVersionTemplate("gatewayctl {{.Version}}\n")
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetIn(f.streams.In)
	root.SetOut(f.streams.Out)
	root.SetErr(f.streams.ErrOut)

	pf := root.PersistentFlags()
	pf.StringVar(&f.configPath, "config", "", "path of the config file (default $GATEWAYCTL_CONFIG, else ~/.config/gatewayctl/config.yaml)")
	pf.StringVar(&f.server, "server", "", "host:port of gatewayd's management API (overrides the config file)")
	pf.StringVarP(&f.output, "output", "o", outputTable, "output format: table, json or yaml")
	pf.DurationVar(&f.timeout, "timeout", 10*time.Second, "time limit of each call to gatewayd")
	_ = root.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(
		[]cobra.Completion{outputTable, outputJSON, outputYAML}, cobra.ShellCompDirectiveNoFileComp))

	root.AddCommand(
		newStatusCommand(f),
		newVersionCommand(f),
		newTopologyCommand(f),
		newAuditCommand(f),
		newAliasCommand(f),
		newMasterCommand(f),
		newCertCommand(f),
		newTruststoreCommand(f),
		newTokenCommand(f),
		newTokenPolicyCommand(f),
		newGroupsCommand(f),
		newHashPasswordCommand(f),
		newCompletionCommand(f),
	)
	groupCommand(root)
	setUsageErrors(root)
	// Groups are runnable only to reject unknown subcommands: do not show
	// "gatewayctl topology [flags]" as a usage line.
	root.SetUsageTemplate(strings.Replace(root.UsageTemplate(),
		"Usage:{{if .Runnable}}",
		"Usage:{{if and .Runnable (not .HasAvailableSubCommands)}}", 1))
	return root
}

// groupCommand makes a command with subcommands runnable: with no argument
// it prints its help, with an unknown one it fails with a usage error (cobra
// would otherwise print help and succeed).
func groupCommand(cmd *cobra.Command) {
	cmd.Args = cobra.ArbitraryArgs
	cmd.SuggestionsMinimumDistance = 2
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += fmt.Sprintf(" (did you mean: %s?)", strings.Join(s, ", "))
		}
		return usageErrorf("%s", msg)
	}
}

// newGroup returns a command that only holds subcommands.
func newGroup(use, short, example string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, Example: example}
	cmd.AddCommand(subs...)
	groupCommand(cmd)
	return cmd
}

// setUsageErrors makes flag and argument errors of every command usage
// errors (exit code 2).
func setUsageErrors(root *cobra.Command) {
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return asUsageError(flagerr.Describe(err)) })
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Args != nil {
			args := c.Args
			c.Args = func(cmd *cobra.Command, a []string) error {
				if err := args(cmd, a); err != nil {
					return asUsageError(err)
				}
				return nil
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// exactArgs is cobra.ExactArgs with the names of the arguments in the error.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == len(names) {
			return nil
		}
		if len(args) < len(names) {
			return fmt.Errorf("missing %s", strings.Join(names[len(args):], " "))
		}
		return fmt.Errorf("too many arguments: want %s, got %q", strings.Join(names, " "), args)
	}
}

// expectRevisionFlag registers --expect-revision; the value is sent only
// when the flag is set (see optionalInt64).
func expectRevisionFlag(fs *pflag.FlagSet, v *int64) {
	fs.Int64Var(v, "expect-revision", 0, "fail unless the topology's current revision is this one (0: it must not exist)")
}

// optionalInt64 returns a pointer to v if the flag name was set, else nil.
func optionalInt64(cmd *cobra.Command, name string, v int64) *int64 {
	if !cmd.Flags().Changed(name) {
		return nil
	}
	return &v
}

// defaultConfigPath is ~/.config/gatewayctl/config.yaml.
func defaultConfigPath(getenv func(string) string) (string, error) {
	home := getenv("HOME")
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", errors.New("no config file: set --config or GATEWAYCTL_CONFIG")
		}
	}
	return filepath.Join(home, ".config", "gatewayctl", "config.yaml"), nil
}
