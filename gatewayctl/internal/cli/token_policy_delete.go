package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

type tokenPolicyDeleteOptions struct {
	f    *factory
	name string
}

func newTokenPolicyDeleteCommand(f *factory) *cobra.Command {
	o := &tokenPolicyDeleteOptions{f: f}
	return &cobra.Command{
		Use:     "delete NAME",
		Short:   "Delete a token policy",
		Example: `  gatewayctl token-policy delete etl`,
		Args:    exactArgs("NAME"),
		RunE:    runE(o),
	}
}

func (o *tokenPolicyDeleteOptions) Complete(_ *cobra.Command, args []string) error {
	o.name = args[0]
	return nil
}

func (o *tokenPolicyDeleteOptions) Validate() error { return nil }

func (o *tokenPolicyDeleteOptions) Run(ctx context.Context) error {
	conn, err := o.f.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := gatewayv1.NewTokenPolicyServiceClient(conn).DeleteTokenPolicy(ctx, &gatewayv1.DeleteTokenPolicyRequest{Name: o.name})
	if err != nil {
		return err
	}
	return o.f.print(resp, func(w io.Writer) {
		fmt.Fprintf(w, "token policy %q deleted\n", o.name)
	})
}
