package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

type aliasDeleteOptions struct {
	f   *factory
	req *gatewayv1.DeleteAliasRequest
}

func newAliasDeleteCommand(f *factory) *cobra.Command {
	o := &aliasDeleteOptions{f: f, req: &gatewayv1.DeleteAliasRequest{}}
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a credential alias",
		Example: `  gatewayctl alias delete ldap-bind-password
  gatewayctl alias delete ldap-bind-password --topology sandbox`,
		Args: exactArgs("NAME"),
		RunE: runE(o),
	}
	topologyScopeFlag(cmd, f, &o.req.Topology)
	return cmd
}

func (o *aliasDeleteOptions) Complete(_ *cobra.Command, args []string) error {
	o.req.Name = args[0]
	return nil
}

func (o *aliasDeleteOptions) Validate() error { return nil }

func (o *aliasDeleteOptions) Run(ctx context.Context) error {
	conn, err := o.f.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := gatewayv1.NewAliasServiceClient(conn).DeleteAlias(ctx, o.req)
	if err != nil {
		return err
	}
	return o.f.print(resp, func(w io.Writer) {
		fmt.Fprintf(w, "alias %q deleted (%s)\n", o.req.GetName(), aliasScope(o.req.GetTopology()))
	})
}
