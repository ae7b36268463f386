package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

type tokenPolicyGetOptions struct {
	f    *factory
	name string
}

func newTokenPolicyGetCommand(f *factory) *cobra.Command {
	o := &tokenPolicyGetOptions{f: f}
	return &cobra.Command{
		Use:   "get NAME",
		Short: "Show a token policy",
		Long: `Show a token policy. -o yaml prints the policy file that 'token-policy put'
reads; -o json prints the API response with the policy's revision.`,
		Example: `  gatewayctl token-policy get etl
  gatewayctl token-policy get etl -o yaml > etl.yaml`,
		Args: exactArgs("NAME"),
		RunE: runE(o),
	}
}

func (o *tokenPolicyGetOptions) Complete(_ *cobra.Command, args []string) error {
	o.name = args[0]
	return nil
}

func (o *tokenPolicyGetOptions) Validate() error { return nil }

func (o *tokenPolicyGetOptions) Run(ctx context.Context) error {
	conn, err := o.f.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := gatewayv1.NewTokenPolicyServiceClient(conn).GetTokenPolicy(ctx, &gatewayv1.GetTokenPolicyRequest{Name: o.name})
	if err != nil {
		return err
	}
	if o.f.output == outputYAML {
		b, err := encodePolicyFile(resp.GetPolicy())
		if err != nil {
			return fmt.Errorf("rendering token policy %q as YAML: %w", o.name, err)
		}
		_, err = o.f.out().Write(b)
		return err
	}
	return o.f.print(resp, func(w io.Writer) { describeTokenPolicy(w, resp.GetPolicy(), resp.GetRevision()) })
}
