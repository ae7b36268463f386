package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

type certExportOptions struct {
	f      *factory
	format string
}

func newCertExportCommand(f *factory) *cobra.Command {
	o := &certExportOptions{f: f}
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Print the certificate chain of gatewayd's live TLS identity (never the key)",
		Example: `  gatewayctl cert export > gateway.pem
  gatewayctl cert export -o json`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	cmd.Flags().StringVar(&o.format, "format", "pem", "certificate encoding: pem")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]cobra.Completion{"pem"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func (o *certExportOptions) Complete(*cobra.Command, []string) error { return nil }

func (o *certExportOptions) Validate() error {
	if strings.ToLower(o.format) != "pem" {
		return fmt.Errorf("invalid --format %q: only pem is supported", o.format)
	}
	return nil
}

func (o *certExportOptions) Run(ctx context.Context) error {
	conn, err := o.f.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := gatewayv1.NewPKIServiceClient(conn).ExportCertificate(ctx, &gatewayv1.ExportCertificateRequest{})
	if err != nil {
		return err
	}
	if o.f.output != outputTable {
		return o.f.print(resp, nil)
	}
	_, err = o.f.out().Write(resp.GetPem())
	return err
}
