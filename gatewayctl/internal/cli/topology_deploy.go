package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

type topologyDeployOptions struct {
	f *factory

	file           string
	name           string
	format         string
	dryRun         bool
	expectRevision int64

	req *gatewayv1.DeployRequest
}

func newTopologyDeployCommand(f *factory) *cobra.Command {
	o := &topologyDeployOptions{f: f}
	cmd := &cobra.Command{
		Use:   "deploy FILE",
		Short: "Deploy a topology document (YAML, JSON or Knox XML)",
		Long: `Send a topology document to gatewayd, which compiles, stores and publishes it.
The document's name field names the topology unless --name is given (Knox XML
has none: the file name is used). FILE "-" reads standard input.

Prints the services added, changed and removed and the new revision, or
"unchanged" when the document equals the live one.`,
		Example: `  # Preview, then deploy
  gatewayctl topology deploy sandbox.yaml --dry-run
  gatewayctl topology deploy sandbox.yaml

  # Deploy a Knox topology under another name, only if it is still at revision 7
  gatewayctl topology deploy sandbox.xml --name sandbox2 --expect-revision 7

  # Create only if it does not exist yet
  cat sandbox.yaml | gatewayctl topology deploy - --expect-revision 0`,
		Args: exactArgs("FILE"),
		RunE: runE(o),
	}
	fs := cmd.Flags()
	fs.StringVar(&o.name, "name", "", "topology name (overrides the name in the document)")
	fs.StringVar(&o.format, "format", "", "document format: yaml, json or xml (default: guessed)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "only report what would change")
	expectRevisionFlag(fs, &o.expectRevision)
	_ = cmd.RegisterFlagCompletionFunc("format", formatFlagCompletion())
	return cmd
}

func (o *topologyDeployOptions) Complete(cmd *cobra.Command, args []string) error {
	o.file = args[0]
	o.req = &gatewayv1.DeployRequest{
		Name:           o.name,
		DryRun:         o.dryRun,
		ExpectRevision: optionalInt64(cmd, "expect-revision", o.expectRevision),
	}
	return nil
}

func (o *topologyDeployOptions) Validate() error {
	format, err := parseFormat(o.format)
	if err != nil {
		return err
	}
	o.req.Format = format
	if o.req.ExpectRevision != nil && *o.req.ExpectRevision < 0 {
		return fmt.Errorf("--expect-revision must not be negative")
	}
	return nil
}

func (o *topologyDeployOptions) Run(ctx context.Context) error {
	doc, source, err := o.f.readDocument(o.file, "topology")
	if err != nil {
		return err
	}
	o.req.Document, o.req.SourceName = doc, source

	conn, err := o.f.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := gatewayv1.NewTopologyServiceClient(conn).Deploy(ctx, o.req)
	if err != nil {
		return err
	}
	o.f.printWarnings(resp.GetWarnings())
	sortChanges(resp.Changes)
	return o.f.print(resp, func(w io.Writer) {
		name := resp.GetTopology().GetTopology().GetName()
		rev := resp.GetTopology().GetRevision()
		switch {
		case resp.GetDryRun() && !resp.GetChanged():
			fmt.Fprintf(w, "dry run: topology %q unchanged (revision %d)\n", name, rev)
		case resp.GetDryRun():
			fmt.Fprintf(w, "dry run: deploying topology %q would change (nothing was stored):\n", name)
		case !resp.GetChanged():
			fmt.Fprintf(w, "topology %q unchanged (revision %d)\n", name, rev)
		default:
			fmt.Fprintf(w, "topology %q deployed at revision %d\n", name, rev)
		}
		if resp.GetChanged() {
			printChanges(w, resp.GetChanges())
		}
	})
}
