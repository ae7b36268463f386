package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

type topologyRollbackOptions struct {
	f *factory

	revision       int64
	expectRevision int64
	dryRun         bool
	req            *gatewayv1.RollbackRequest
}

func newTopologyRollbackCommand(f *factory) *cobra.Command {
	o := &topologyRollbackOptions{f: f}
	cmd := &cobra.Command{
		Use:   "rollback NAME --revision R",
		Short: "Redeploy an earlier revision of a topology as a new revision",
		Example: `  gatewayctl topology history sandbox
  gatewayctl topology rollback sandbox --revision 3 --dry-run
  gatewayctl topology rollback sandbox --revision 3 --expect-revision 9`,
		Args:              exactArgs("NAME"),
		ValidArgsFunction: f.completeTopologyNames,
		RunE:              runE(o),
	}
	fs := cmd.Flags()
	fs.Int64Var(&o.revision, "revision", 0, "revision to go back to (required; see 'topology history')")
	fs.BoolVar(&o.dryRun, "dry-run", false, "only report what would change")
	expectRevisionFlag(fs, &o.expectRevision)
	return cmd
}

func (o *topologyRollbackOptions) Complete(cmd *cobra.Command, args []string) error {
	o.req = &gatewayv1.RollbackRequest{
		Name:           args[0],
		Revision:       o.revision,
		DryRun:         o.dryRun,
		ExpectRevision: optionalInt64(cmd, "expect-revision", o.expectRevision),
	}
	return nil
}

func (o *topologyRollbackOptions) Validate() error {
	if o.revision <= 0 {
		return fmt.Errorf("--revision is required and must be positive")
	}
	if o.req.ExpectRevision != nil && *o.req.ExpectRevision <= 0 {
		return fmt.Errorf("--expect-revision must be positive for a rollback")
	}
	return nil
}

func (o *topologyRollbackOptions) Run(ctx context.Context) error {
	conn, err := o.f.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := gatewayv1.NewTopologyServiceClient(conn).Rollback(ctx, o.req)
	if err != nil {
		return err
	}
	sortChanges(resp.Changes)
	return o.f.print(resp, func(w io.Writer) {
		name := o.req.GetName()
		switch {
		case !resp.GetChanged():
			fmt.Fprintf(w, "topology %q unchanged (revision %d): it already has the document of revision %d; nothing was stored\n", name, resp.GetTopology().GetRevision(), o.req.GetRevision())
			return
		case resp.GetDryRun():
			fmt.Fprintf(w, "dry run: rolling topology %q back to revision %d would change (nothing was stored):\n", name, o.req.GetRevision())
		default:
			fmt.Fprintf(w, "topology %q rolled back to revision %d, now at revision %d\n", name, o.req.GetRevision(), resp.GetTopology().GetRevision())
		}
		if len(resp.GetChanges()) == 0 {
			fmt.Fprintln(w, "  no service changes")
		}
		printChanges(w, resp.GetChanges())
	})
}
