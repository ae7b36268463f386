package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

type aliasGetOptions struct {
	f        *factory
	name     string
	topology string
	reveal   bool
}

func newAliasGetCommand(f *factory) *cobra.Command {
	o := &aliasGetOptions{f: f}
	cmd := &cobra.Command{
		Use:   "get NAME",
		Short: "Show an alias; with --reveal, print its value",
		Long: `Show an alias's metadata. With --reveal, print its value instead, exactly as
stored (a newline is added only on a terminal). Revealing is for
administrators only and is always audited.`,
		Example: `  gatewayctl alias get ldap-bind-password
  gatewayctl alias get ldap-bind-password --topology sandbox --reveal > pw.txt`,
		Args: exactArgs("NAME"),
		RunE: runE(o),
	}
	topologyScopeFlag(cmd, f, &o.topology)
	cmd.Flags().BoolVar(&o.reveal, "reveal", false, "print the secret value (audited)")
	return cmd
}

func (o *aliasGetOptions) Complete(_ *cobra.Command, args []string) error {
	o.name = args[0]
	return nil
}

func (o *aliasGetOptions) Validate() error { return nil }

func (o *aliasGetOptions) Run(ctx context.Context) error {
	conn, err := o.f.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	client := gatewayv1.NewAliasServiceClient(conn)
	if o.reveal {
		resp, err := client.RevealAlias(ctx, &gatewayv1.RevealAliasRequest{Name: o.name, Topology: o.topology})
		if err != nil {
			return err
		}
		defer clear(resp.Value)
		if o.f.output != outputTable {
			return o.f.print(resp, nil)
		}
		if _, err := o.f.out().Write(resp.GetValue()); err != nil {
			return err
		}
		if o.f.term.IsTerminal(o.f.out()) {
			fmt.Fprintln(o.f.out())
		}
		return nil
	}

	resp, err := client.ListAliases(ctx, &gatewayv1.ListAliasesRequest{Topology: o.topology})
	if err != nil {
		return err
	}
	for _, a := range resp.GetAliases() {
		if a.GetName() == o.name && a.GetTopology() == o.topology {
			return o.f.print(a, func(w io.Writer) {
				row(w, "Name:", a.GetName())
				row(w, "Scope:", aliasScope(a.GetTopology()))
				row(w, "Created:", fmtTime(a.GetCreatedAt()))
				row(w, "Updated:", fmtTime(a.GetUpdatedAt()))
				row(w, "KDF:", a.GetKdf())
				row(w, "Cipher:", a.GetCipher())
				row(w, "Key ID:", a.GetKeyId())
				row(w, "Stale:", yesNo(a.GetStale()))
			})
		}
	}
	return fmt.Errorf("alias %q not found (%s)", o.name, aliasScope(o.topology))
}
