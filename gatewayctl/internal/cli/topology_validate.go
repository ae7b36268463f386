package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

type topologyValidateOptions struct {
	f *factory

	file       string
	name       string
	format     string
	serverSide bool

	docFormat gatewayv1.Format
}

func newTopologyValidateCommand(f *factory) *cobra.Command {
	o := &topologyValidateOptions{f: f}
	cmd := &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a topology document without deploying it",
		Long: `Check a topology document with the same rules gatewayd applies before it
compiles one (every problem at once). This works offline: no config file and
no server are needed. Errors are printed with their line numbers and the exit
code is 1. What only the server can check (that aliases and truststores
exist, that providers accept their parameters) is listed as not checked.

--server-side asks gatewayd's Validate call instead, which also checks
provider parameters and that referenced aliases exist. FILE "-" reads
standard input.`,
		Example: `  gatewayctl topology validate sandbox.yaml
  gatewayctl topology validate sandbox.xml --name sandbox
  gatewayctl topology validate sandbox.yaml --server-side`,
		Args: exactArgs("FILE"),
		RunE: runE(o),
	}
	fs := cmd.Flags()
	fs.StringVar(&o.name, "name", "", "topology name (overrides the name in the document)")
	fs.StringVar(&o.format, "format", "", "document format: yaml, json or xml (default: guessed)")
	fs.BoolVar(&o.serverSide, "server-side", false, "validate on gatewayd, including provider parameters and aliases")
	_ = cmd.RegisterFlagCompletionFunc("format", formatFlagCompletion())
	return cmd
}

func (o *topologyValidateOptions) Complete(_ *cobra.Command, args []string) error {
	o.file = args[0]
	return nil
}

func (o *topologyValidateOptions) Validate() error {
	var err error
	o.docFormat, err = parseFormat(o.format)
	return err
}

func (o *topologyValidateOptions) Run(ctx context.Context) error {
	doc, source, err := o.f.readDocument(o.file, "topology")
	if err != nil {
		return err
	}
	if o.serverSide {
		return o.runServerSide(ctx, doc, source)
	}
	t, warnings, err := compileTopology(doc, o.docFormat, source, o.name)
	if err != nil {
		return err
	}
	o.f.printWarnings(warnings)
	if o.f.output != outputTable {
		// The same document as the server-side Validate answers.
		return o.f.print(&gatewayv1.ValidateResponse{Topology: topologyProto(t), Warnings: warnings}, nil)
	}
	fmt.Fprintf(o.f.out(), "%s: topology %q is valid (%s, %s)\n", source, t.Name, plural(len(t.Providers), "provider"), plural(len(t.Services), "service"))
	if checks := serverChecks(t); len(checks) > 0 {
		fmt.Fprintln(o.f.out(), "Not checked offline (gatewayd checks them at deploy; --server-side asks it now):")
		for _, c := range checks {
			fmt.Fprintf(o.f.out(), "  - %s\n", c)
		}
	}
	return nil
}

func (o *topologyValidateOptions) runServerSide(ctx context.Context, doc []byte, source string) error {
	conn, err := o.f.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := gatewayv1.NewTopologyServiceClient(conn).Validate(ctx, &gatewayv1.ValidateRequest{
		Document: doc, Format: o.docFormat, Name: o.name, SourceName: source,
	})
	if err != nil {
		return err
	}
	o.f.printWarnings(resp.GetWarnings())
	if o.f.output != outputTable {
		return o.f.print(resp, nil)
	}
	t := resp.GetTopology()
	fmt.Fprintf(o.f.out(), "%s: topology %q is valid on the server (%s, %s)\n", source, t.GetName(), plural(len(t.GetProviders()), "provider"), plural(len(t.GetServices()), "service"))
	return nil
}
