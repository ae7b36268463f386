package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

type tokenEnableOptions struct {
	f       *factory
	id      string
	enabled bool
}

func newTokenEnableCommand(f *factory, enabled bool) *cobra.Command {
	o := &tokenEnableOptions{f: f, enabled: enabled}
	use, short := "disable ID", "Disable a token: gateways refuse it until it is enabled again"
	if enabled {
		use, short = "enable ID", "Enable a disabled token again"
	}
	return &cobra.Command{
		Use:     use,
		Short:   short,
		Example: "  gatewayctl token " + use[:len(use)-3] + " 6f1c2d3e-…",
		Args:    exactArgs("ID"),
		RunE:    runE(o),
	}
}

func (o *tokenEnableOptions) Complete(_ *cobra.Command, args []string) error {
	o.id = args[0]
	return nil
}

func (o *tokenEnableOptions) Validate() error { return nil }

func (o *tokenEnableOptions) Run(ctx context.Context) error {
	conn, err := o.f.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := gatewayv1.NewTokenServiceClient(conn).SetTokenEnabled(ctx, &gatewayv1.SetTokenEnabledRequest{Id: o.id, Enabled: o.enabled})
	if err != nil {
		return err
	}
	return o.f.print(resp, func(w io.Writer) {
		state := "disabled"
		if o.enabled {
			state = "enabled"
		}
		fmt.Fprintf(w, "token %s %s\n", o.id, state)
	})
}
