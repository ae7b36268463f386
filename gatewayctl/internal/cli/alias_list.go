package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

type aliasListOptions struct {
	f        *factory
	topology string
	all      bool
}

func newAliasListCommand(f *factory) *cobra.Command {
	o := &aliasListOptions{f: f}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List credential aliases (never their values)",
		Example: `  gatewayctl alias list
  gatewayctl alias list --topology sandbox
  gatewayctl alias list --all`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	topologyScopeFlag(cmd, f, &o.topology)
	cmd.Flags().BoolVar(&o.all, "all", false, "list the aliases of every scope")
	return cmd
}

func (o *aliasListOptions) Complete(*cobra.Command, []string) error { return nil }

func (o *aliasListOptions) Validate() error {
	if o.all && o.topology != "" {
		return fmt.Errorf("--all and --topology cannot be used together")
	}
	return nil
}

func (o *aliasListOptions) Run(ctx context.Context) error {
	scope := o.topology
	if o.all {
		scope = "*"
	}
	conn, err := o.f.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := gatewayv1.NewAliasServiceClient(conn).ListAliases(ctx, &gatewayv1.ListAliasesRequest{Topology: scope})
	if err != nil {
		return err
	}
	// Sorted in every output format, so that the output is stable.
	slices.SortFunc(resp.Aliases, func(a, b *gatewayv1.AliasInfo) int {
		return cmp.Or(strings.Compare(a.GetTopology(), b.GetTopology()), strings.Compare(a.GetName(), b.GetName()))
	})
	return o.f.print(resp, func(w io.Writer) {
		row(w, "NAME", "TOPOLOGY", "KDF", "CIPHER", "KEY-ID", "STALE", "UPDATED")
		for _, a := range resp.GetAliases() {
			row(w, a.GetName(), a.GetTopology(), a.GetKdf(), a.GetCipher(), a.GetKeyId(), yesNo(a.GetStale()), fmtTime(a.GetUpdatedAt()))
		}
	})
}
