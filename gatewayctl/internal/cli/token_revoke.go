package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

type tokenRevokeOptions struct {
	f  *factory
	id string
}

func newTokenRevokeCommand(f *factory) *cobra.Command {
	o := &tokenRevokeOptions{f: f}
	return &cobra.Command{
		Use:     "revoke ID",
		Short:   "Revoke a token; gateways reject it from then on",
		Example: `  gatewayctl token revoke 6f1c2d3e`,
		Args:    exactArgs("ID"),
		RunE:    runE(o),
	}
}

func (o *tokenRevokeOptions) Complete(_ *cobra.Command, args []string) error {
	o.id = args[0]
	return nil
}

func (o *tokenRevokeOptions) Validate() error { return nil }

func (o *tokenRevokeOptions) Run(ctx context.Context) error {
	conn, err := o.f.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := gatewayv1.NewTokenServiceClient(conn).RevokeToken(ctx, &gatewayv1.RevokeTokenRequest{Id: o.id})
	if err != nil {
		return err
	}
	return o.f.print(resp, func(w io.Writer) {
		fmt.Fprintf(w, "token %s revoked\n", o.id)
	})
}
