package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

type aliasReencryptOptions struct {
	f *factory
}

func newAliasReencryptCommand(f *factory) *cobra.Command {
	o := &aliasReencryptOptions{f: f}
	return &cobra.Command{
		Use:   "reencrypt",
		Short: "Re-encrypt aliases sealed with older KDF or cipher settings",
		Long: `Re-encrypt, under the configured KDF and cipher, every alias whose record
uses older settings (shown as STALE in 'alias list').`,
		Example: `  gatewayctl alias list --all
  gatewayctl alias reencrypt`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
}

func (o *aliasReencryptOptions) Complete(*cobra.Command, []string) error { return nil }
func (o *aliasReencryptOptions) Validate() error                         { return nil }

func (o *aliasReencryptOptions) Run(ctx context.Context) error {
	conn, err := o.f.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := gatewayv1.NewAliasServiceClient(conn).ReencryptAliases(ctx, &gatewayv1.ReencryptAliasesRequest{})
	if err != nil {
		return err
	}
	return o.f.print(resp, func(w io.Writer) {
		fmt.Fprintf(w, "re-encrypted %s\n", plural(int(resp.GetReencrypted()), "alias"))
	})
}
