package cli

import (
	"context"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

type topologyListOptions struct {
	f *factory
}

func newTopologyListCommand(f *factory) *cobra.Command {
	o := &topologyListOptions{f: f}
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the deployed topologies",
		Example: `  gatewayctl topology list
  gatewayctl topology list -o json`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
}

func (o *topologyListOptions) Complete(*cobra.Command, []string) error { return nil }
func (o *topologyListOptions) Validate() error                         { return nil }

func (o *topologyListOptions) Run(ctx context.Context) error {
	conn, err := o.f.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := gatewayv1.NewTopologyServiceClient(conn).List(ctx, &gatewayv1.ListRequest{})
	if err != nil {
		return err
	}
	// Sorted in every output format, so that the output is stable.
	slices.SortFunc(resp.Topologies, func(a, b *gatewayv1.TopologyInfo) int {
		return strings.Compare(a.GetTopology().GetName(), b.GetTopology().GetName())
	})
	return o.f.print(resp, func(w io.Writer) {
		row(w, "NAME", "REVISION", "SERVICES", "UPDATED", "UPDATED-BY")
		for _, t := range resp.GetTopologies() {
			row(w, t.GetTopology().GetName(), t.GetRevision(), t.GetServiceCount(), fmtTime(t.GetUpdatedAt()), t.GetUpdatedBy())
		}
	})
}
