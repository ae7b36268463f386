package cli

import (
	"cmp"
	"context"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

type tokenListOptions struct {
	f   *factory
	req *gatewayv1.ListTokensRequest
}

func newTokenListCommand(f *factory) *cobra.Command {
	o := &tokenListOptions{f: f, req: &gatewayv1.ListTokensRequest{}}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List issued tokens (metadata only, never the tokens)",
		Example: `  gatewayctl token list
  gatewayctl token list --subject alice --include-revoked`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	cmd.Flags().StringVar(&o.req.Subject, "subject", "", "only tokens of this subject")
	cmd.Flags().BoolVar(&o.req.IncludeRevoked, "include-revoked", false, "include revoked tokens")
	return cmd
}

func (o *tokenListOptions) Complete(*cobra.Command, []string) error { return nil }
func (o *tokenListOptions) Validate() error                         { return nil }

func (o *tokenListOptions) Run(ctx context.Context) error {
	conn, err := o.f.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := gatewayv1.NewTokenServiceClient(conn).ListTokens(ctx, o.req)
	if err != nil {
		return err
	}
	// Oldest first in every output format.
	slices.SortFunc(resp.Tokens, func(a, b *gatewayv1.TokenInfo) int {
		return cmp.Or(a.GetIssuedAt().AsTime().Compare(b.GetIssuedAt().AsTime()), strings.Compare(a.GetId(), b.GetId()))
	})
	return o.f.print(resp, func(w io.Writer) {
		row(w, "ID", "SUBJECT", "ACTOR", "POLICY", "ISSUED", "EXPIRES", "REVOKED")
		for _, t := range resp.GetTokens() {
			row(w, t.GetId(), t.GetSubject(), t.GetActor(), t.GetPolicy(), fmtTime(t.GetIssuedAt()), fmtTime(t.GetExpiresAt()), yesNo(t.GetRevoked()))
		}
	})
}
