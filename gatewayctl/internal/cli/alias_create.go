package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

type aliasCreateOptions struct {
	f *factory

	topology  string
	generate  bool
	length    int32
	value     string
	valueSet  bool
	lengthSet bool
	overwrite bool
	fromFile  string

	name string
}

func newAliasCreateCommand(f *factory) *cobra.Command {
	o := &aliasCreateOptions{f: f}
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a credential alias",
		Long: `Create a credential alias: a named secret encrypted at rest by gatewayd and
referenced from topologies as ${alias:NAME}.

The value is read from standard input when it is piped (one trailing newline
is dropped), else from a no-echo prompt asked twice. --from-file stores a
file's bytes exactly as they are (binary-safe, nothing dropped: a Kerberos
keytab, a key file). --generate lets the server create a random value instead. --value puts the secret in the command
line, where other users of the machine can see it: avoid it. Empty values are
refused. The value is never printed.`,
		Example: `  # Prompt for the value
  gatewayctl alias create ldap-bind-password

  # From a file or a pipe, for a topology
  gatewayctl alias create ldap-bind-password --topology sandbox < secret.txt

  # A binary file, byte for byte (a Kerberos keytab)
  gatewayctl alias create http-keytab --from-file http.keytab

  # Let gatewayd generate 48 random bytes
  gatewayctl alias create hmac-key --generate --length 48`,
		Args: exactArgs("NAME"),
		RunE: runE(o),
	}
	fs := cmd.Flags()
	topologyScopeFlag(cmd, f, &o.topology)
	fs.BoolVar(&o.generate, "generate", false, "let gatewayd generate a random value")
	fs.Int32Var(&o.length, "length", 32, "length in bytes of a generated value")
	fs.StringVar(&o.value, "value", "", "the value (INSECURE: visible to other users in the process list; prefer stdin)")
	fs.BoolVar(&o.overwrite, "overwrite", false, "replace an existing alias")
	fs.StringVar(&o.fromFile, "from-file", "", "store the bytes of this file exactly (binary-safe; at most 64 KiB)")
	return cmd
}

func (o *aliasCreateOptions) Complete(cmd *cobra.Command, args []string) error {
	o.name = args[0]
	o.valueSet = cmd.Flags().Changed("value")
	o.lengthSet = cmd.Flags().Changed("length")
	return nil
}

func (o *aliasCreateOptions) Validate() error {
	if o.generate && o.valueSet {
		return fmt.Errorf("--generate and --value cannot be used together")
	}
	if o.fromFile != "" && (o.generate || o.valueSet) {
		return fmt.Errorf("--from-file cannot be used with --generate or --value")
	}
	if o.lengthSet && !o.generate {
		return fmt.Errorf("--length needs --generate")
	}
	if o.generate && (o.length <= 0 || o.length > 4096) {
		return fmt.Errorf("--length must be between 1 and 4096")
	}
	if o.valueSet && o.value == "" {
		return errEmptySecret
	}
	return nil
}

func (o *aliasCreateOptions) Run(ctx context.Context) error {
	// Load the config before asking for the secret: a broken config should
	// not cost the user a prompt. The connection itself is lazy.
	conn, err := o.f.dial()
	if err != nil {
		return err
	}
	defer conn.Close()

	req := &gatewayv1.CreateAliasRequest{Name: o.name, Topology: o.topology, Overwrite: o.overwrite}
	switch {
	case o.generate:
		req.GenerateLength = o.length
	case o.fromFile != "":
		v, err := readFileExact(o.fromFile)
		if err != nil {
			return fmt.Errorf("alias %q: %w", o.name, err)
		}
		req.Value = v
	case o.valueSet:
		fmt.Fprintln(o.f.errOut(), "warning: a value given with --value is visible to other users of this machine (process list, shell history); prefer stdin or the prompt")
		req.Value = []byte(o.value)
	default:
		v, err := o.f.readSecret(fmt.Sprintf("value of alias %q", o.name), true)
		if err != nil {
			return fmt.Errorf("alias %q: %w", o.name, err)
		}
		req.Value = v
	}
	defer clear(req.Value)

	resp, err := gatewayv1.NewAliasServiceClient(conn).CreateAlias(ctx, req)
	if err != nil {
		return err
	}
	return o.f.print(resp, func(w io.Writer) {
		verb := "created"
		if o.overwrite {
			verb = "stored"
		}
		fmt.Fprintf(w, "alias %q %s (%s)\n", o.name, verb, aliasScope(o.topology))
	})
}
