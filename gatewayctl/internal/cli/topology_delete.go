package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

type topologyDeleteOptions struct {
	f *factory

	expectRevision int64
	req            *gatewayv1.DeleteRequest
}

func newTopologyDeleteCommand(f *factory) *cobra.Command {
	o := &topologyDeleteOptions{f: f}
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a topology and unpublish its services",
		Example: `  gatewayctl topology delete sandbox

  # Only if nobody changed it since revision 12
  gatewayctl topology delete sandbox --expect-revision 12`,
		Args:              exactArgs("NAME"),
		ValidArgsFunction: f.completeTopologyNames,
		RunE:              runE(o),
	}
	expectRevisionFlag(cmd.Flags(), &o.expectRevision)
	return cmd
}

func (o *topologyDeleteOptions) Complete(cmd *cobra.Command, args []string) error {
	o.req = &gatewayv1.DeleteRequest{Name: args[0], ExpectRevision: optionalInt64(cmd, "expect-revision", o.expectRevision)}
	return nil
}

func (o *topologyDeleteOptions) Validate() error {
	if o.req.ExpectRevision != nil && *o.req.ExpectRevision <= 0 {
		return fmt.Errorf("--expect-revision must be positive for a delete")
	}
	return nil
}

func (o *topologyDeleteOptions) Run(ctx context.Context) error {
	conn, err := o.f.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := gatewayv1.NewTopologyServiceClient(conn).Delete(ctx, o.req)
	if err != nil {
		return err
	}
	return o.f.print(resp, func(w io.Writer) {
		fmt.Fprintf(w, "topology %q deleted at revision %d\n", o.req.GetName(), resp.GetRevision())
	})
}
