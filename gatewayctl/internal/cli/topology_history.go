package cli

import (
	"cmp"
	"context"
	"io"
	"slices"

	"github.com/spf13/cobra"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

type topologyHistoryOptions struct {
	f    *factory
	name string
}

func newTopologyHistoryCommand(f *factory) *cobra.Command {
	o := &topologyHistoryOptions{f: f}
	return &cobra.Command{
		Use:   "history NAME",
		Short: "List the stored revisions of a topology, newest first",
		Example: `  gatewayctl topology history sandbox
  gatewayctl topology rollback sandbox --revision 3`,
		Args:              exactArgs("NAME"),
		ValidArgsFunction: f.completeTopologyNames,
		RunE:              runE(o),
	}
}

func (o *topologyHistoryOptions) Complete(_ *cobra.Command, args []string) error {
	o.name = args[0]
	return nil
}

func (o *topologyHistoryOptions) Validate() error { return nil }

func (o *topologyHistoryOptions) Run(ctx context.Context) error {
	conn, err := o.f.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := gatewayv1.NewTopologyServiceClient(conn).History(ctx, &gatewayv1.HistoryRequest{Name: o.name})
	if err != nil {
		return err
	}
	// Newest first in every output format.
	slices.SortFunc(resp.Entries, func(a, b *gatewayv1.HistoryEntry) int { return cmp.Compare(b.GetRevision(), a.GetRevision()) })
	return o.f.print(resp, func(w io.Writer) {
		row(w, "REVISION", "ACTION", "SERVICES", "UPDATED", "UPDATED-BY")
		for _, e := range resp.GetEntries() {
			row(w, e.GetRevision(), e.GetAction(), e.GetServiceCount(), fmtTime(e.GetUpdatedAt()), e.GetUpdatedBy())
		}
	})
}
