package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

type tokenRenewOptions struct {
	f   *factory
	ttl time.Duration
	req *gatewayv1.RenewTokenRequest
}

func newTokenRenewCommand(f *factory) *cobra.Command {
	o := &tokenRenewOptions{f: f, req: &gatewayv1.RenewTokenRequest{}}
	cmd := &cobra.Command{
		Use:   "renew ID",
		Short: "Extend a token's expiry, up to its policy's maximum lifetime",
		Example: `  gatewayctl token renew 6f1c2d3e
  gatewayctl token renew 6f1c2d3e --ttl 12h`,
		Args: exactArgs("ID"),
		RunE: runE(o),
	}
	cmd.Flags().Var(durationFlag{&o.ttl}, "ttl", "new lifetime from now, e.g. 1h or 7d (default: the policy's)")
	return cmd
}

func (o *tokenRenewOptions) Complete(_ *cobra.Command, args []string) error {
	o.req.Id = args[0]
	return nil
}

func (o *tokenRenewOptions) Validate() error {
	var err error
	o.req.Ttl, err = ttlFlag(o.ttl)
	return err
}

func (o *tokenRenewOptions) Run(ctx context.Context) error {
	conn, err := o.f.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := gatewayv1.NewTokenServiceClient(conn).RenewToken(ctx, o.req)
	if err != nil {
		return err
	}
	return o.f.print(resp, func(w io.Writer) {
		fmt.Fprintf(w, "token %s renewed: expires %s\n", o.req.GetId(), fmtTime(resp.GetInfo().GetExpiresAt()))
	})
}
