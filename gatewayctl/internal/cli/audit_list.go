package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/spf13/cobra"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

func newAuditCommand(f *factory) *cobra.Command {
	return newGroup("audit", "Read the audit log of mutating calls",
		`  gatewayctl audit list --limit 20`,
		newAuditListCommand(f))
}

type auditListOptions struct {
	f   *factory
	req *gatewayv1.ListAuditRequest
}

func newAuditListCommand(f *factory) *cobra.Command {
	o := &auditListOptions{f: f, req: &gatewayv1.ListAuditRequest{}}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List audit records, newest first",
		Example: `  gatewayctl audit list
  gatewayctl audit list --principal alice --target topology/ --limit 20

  # The page after the oldest record shown (sequence 1234)
  gatewayctl audit list --before 1234`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	fs := cmd.Flags()
	fs.Int32Var(&o.req.Limit, "limit", 100, "at most this many records")
	fs.Int64Var(&o.req.Before, "before", 0, "only records with a sequence number below this one (paging)")
	fs.StringVar(&o.req.Principal, "principal", "", "only records of this principal")
	fs.StringVar(&o.req.TargetPrefix, "target", "", "only records whose target starts with this prefix, e.g. topology/sandbox")
	return cmd
}

func (o *auditListOptions) Complete(*cobra.Command, []string) error { return nil }

func (o *auditListOptions) Validate() error {
	if o.req.Limit <= 0 {
		return fmt.Errorf("--limit must be positive")
	}
	if o.req.Before < 0 {
		return fmt.Errorf("--before must not be negative")
	}
	return nil
}

func (o *auditListOptions) Run(ctx context.Context) error {
	conn, err := o.f.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := gatewayv1.NewAuditServiceClient(conn).ListAudit(ctx, o.req)
	if err != nil {
		return err
	}
	// Newest first in every output format.
	slices.SortFunc(resp.Records, func(a, b *gatewayv1.AuditRecord) int { return cmp.Compare(b.GetSequence(), a.GetSequence()) })
	return o.f.print(resp, func(w io.Writer) {
		row(w, "SEQ", "TIME", "PRINCIPAL", "METHOD", "TARGET", "OUTCOME", "DETAIL")
		for _, r := range resp.GetRecords() {
			row(w, r.GetSequence(), fmtTime(r.GetTime()), r.GetPrincipal(), shortMethod(r.GetMethod()), r.GetTarget(), r.GetOutcome(), r.GetDetail())
		}
	})
}
