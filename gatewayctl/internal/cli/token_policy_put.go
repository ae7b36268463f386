package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

type tokenPolicyPutOptions struct {
	f              *factory
	file           string
	expectRevision int64
	expect         *int64
}

func newTokenPolicyPutCommand(f *factory) *cobra.Command {
	o := &tokenPolicyPutOptions{f: f}
	cmd := &cobra.Command{
		Use:   "put FILE",
		Short: "Create or replace a token policy from a YAML file",
		Long: `Create or replace a token policy from a YAML file whose keys are the policy's
fields (unknown keys are errors); durations are written like 1h or 7d:

  name: etl
  allowed_callers: [svc-etl]
  allowed_subjects: ["*"]
  default_ttl: 1h
  max_ttl: 12h
  max_lifetime: 7d
  audiences: [hive]
  algorithm: ES256

FILE "-" reads standard input.`,
		Example: `  gatewayctl token-policy put etl.yaml
  gatewayctl token-policy get etl -o yaml > etl.yaml   # edit, then
  gatewayctl token-policy put etl.yaml --expect-revision 4`,
		Args: exactArgs("FILE"),
		RunE: runE(o),
	}
	cmd.Flags().Int64Var(&o.expectRevision, "expect-revision", 0, "fail unless the policy's current revision is this one (0: it must not exist)")
	return cmd
}

func (o *tokenPolicyPutOptions) Complete(cmd *cobra.Command, args []string) error {
	o.file = args[0]
	o.expect = optionalInt64(cmd, "expect-revision", o.expectRevision)
	return nil
}

func (o *tokenPolicyPutOptions) Validate() error {
	if o.expect != nil && *o.expect < 0 {
		return errors.New("--expect-revision must not be negative")
	}
	return nil
}

func (o *tokenPolicyPutOptions) Run(ctx context.Context) error {
	data, source, err := o.f.readDocument(o.file, "token policy")
	if err != nil {
		return err
	}
	policy, err := parsePolicyFile(source, data)
	if err != nil {
		return err
	}
	conn, err := o.f.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := gatewayv1.NewTokenPolicyServiceClient(conn).PutTokenPolicy(ctx, &gatewayv1.PutTokenPolicyRequest{Policy: policy, ExpectRevision: o.expect})
	if err != nil {
		return err
	}
	return o.f.print(resp, func(w io.Writer) {
		fmt.Fprintf(w, "token policy %q stored at revision %d\n", resp.GetPolicy().GetName(), resp.GetRevision())
	})
}
