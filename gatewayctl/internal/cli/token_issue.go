package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

type tokenIssueOptions struct {
	f   *factory
	ttl time.Duration
	req *gatewayv1.IssueTokenRequest
}

func newTokenIssueCommand(f *factory) *cobra.Command {
	o := &tokenIssueOptions{f: f, req: &gatewayv1.IssueTokenRequest{}}
	cmd := &cobra.Command{
		Use:   "issue",
		Short: "Issue a token, for yourself or on behalf of a user",
		Long: `Issue a signed token (JWT). The token alone goes to standard output, so it can
be captured; its ID, subject and expiry go to standard error. It is shown
once and never stored by gatewayd. With -o json or yaml the token and its
metadata are printed together.`,
		Example: `  TOKEN=$(gatewayctl token issue --policy etl --ttl 1h)
  gatewayctl token issue --policy etl --on-behalf-of alice --audience hive --audience webhdfs --ttl 7d`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	fs := cmd.Flags()
	fs.StringVar(&o.req.Policy, "policy", "", "token policy to issue under (default: the server's)")
	fs.StringVar(&o.req.OnBehalfOf, "on-behalf-of", "", "subject to issue the token for (default: yourself)")
	fs.Var(durationFlag{&o.ttl}, "ttl", "lifetime of the token, e.g. 1h or 7d (default: the policy's)")
	fs.StringArrayVar(&o.req.Audiences, "audience", nil, "audience of the token (repeatable)")
	fs.StringVar(&o.req.Comment, "comment", "", "free text stored with the token")
	fs.StringVar(&o.req.Algorithm, "algorithm", "", "signing algorithm, if the policy allows it (default: the policy's)")
	fs.StringVar(&o.req.Type, "type", "", "token type: jwt (default) or passcode")
	return cmd
}

func (o *tokenIssueOptions) Complete(*cobra.Command, []string) error { return nil }

func (o *tokenIssueOptions) Validate() error {
	var err error
	o.req.Ttl, err = ttlFlag(o.ttl)
	return err
}

func (o *tokenIssueOptions) Run(ctx context.Context) error {
	conn, err := o.f.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := gatewayv1.NewTokenServiceClient(conn).IssueToken(ctx, o.req)
	if err != nil {
		return err
	}
	if o.f.output != outputTable {
		return o.f.print(resp, nil)
	}
	info := resp.GetInfo()
	fmt.Fprintf(o.f.errOut(), "issued token %s for %s (policy %s), expires %s\n",
		info.GetId(), info.GetSubject(), orDefault(info.GetPolicy(), "-"), fmtTime(info.GetExpiresAt()))
	_, err = io.WriteString(o.f.out(), resp.GetToken()+"\n")
	return err
}
