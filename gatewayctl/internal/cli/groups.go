package cli

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/spf13/cobra"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

type groupsOptions struct {
	f   *factory
	req *gatewayv1.LookupRequest
}

func newGroupsCommand(f *factory) *cobra.Command {
	o := &groupsOptions{f: f, req: &gatewayv1.LookupRequest{}}
	cmd := &cobra.Command{
		Use:   "groups USER --topology T",
		Short: "Show a user's groups as a topology's group source sees them",
		Example: `  gatewayctl groups alice --topology sandbox
  gatewayctl groups alice --topology sandbox -o json`,
		Args: exactArgs("USER"),
		RunE: runE(o),
	}
	cmd.Flags().StringVar(&o.req.Topology, "topology", "", "topology whose group source to ask (required)")
	_ = cmd.RegisterFlagCompletionFunc("topology", f.completeTopologyFlag)
	return cmd
}

func (o *groupsOptions) Complete(_ *cobra.Command, args []string) error {
	o.req.User = args[0]
	return nil
}

func (o *groupsOptions) Validate() error {
	if o.req.Topology == "" {
		return fmt.Errorf("--topology is required")
	}
	return nil
}

func (o *groupsOptions) Run(ctx context.Context) error {
	conn, err := o.f.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := gatewayv1.NewGroupServiceClient(conn).Lookup(ctx, o.req)
	if err != nil {
		return err
	}
	slices.Sort(resp.Groups)
	return o.f.print(resp, func(w io.Writer) {
		row(w, "User:", resp.GetUser())
		row(w, "Source:", resp.GetSource())
		row(w, "Groups:", list(resp.GetGroups()))
	})
}
