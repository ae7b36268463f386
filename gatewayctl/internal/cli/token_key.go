package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

func newTokenKeyCommand(f *factory) *cobra.Command {
	return newGroup("key", "Manage the token signing keys",
		`  gatewayctl token key list
  gatewayctl token key rotate --algorithm ES256`,
		newTokenKeyRotateCommand(f),
		newTokenKeyListCommand(f),
	)
}

type tokenKeyRotateOptions struct {
	f   *factory
	req *gatewayv1.RotateSigningKeyRequest
}

func newTokenKeyRotateCommand(f *factory) *cobra.Command {
	o := &tokenKeyRotateOptions{f: f, req: &gatewayv1.RotateSigningKeyRequest{}}
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Make a new signing key active; the old one verifies its tokens until they expire",
		Long: `Create a new signing key for an algorithm and make it the one new tokens are
signed with. The key it replaces signs nothing more and stays in the JWKS until
the last token it signed has expired, so no live token stops verifying.`,
		Example: `  gatewayctl token key rotate --algorithm ES256
  gatewayctl token key rotate --algorithm RS256 --rsa-bits 4096`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	cmd.Flags().StringVar(&o.req.Algorithm, "algorithm", "ES256", "RS256, RS384, RS512, PS256, ES256, ES384 or EdDSA")
	cmd.Flags().Int32Var(&o.req.RsaBits, "rsa-bits", 0, "RSA modulus size: 2048, 3072 or 4096 (default: the gateway's)")
	return cmd
}

func (o *tokenKeyRotateOptions) Complete(*cobra.Command, []string) error { return nil }
func (o *tokenKeyRotateOptions) Validate() error                         { return nil }

func (o *tokenKeyRotateOptions) Run(ctx context.Context) error {
	conn, err := o.f.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := gatewayv1.NewTokenServiceClient(conn).RotateSigningKey(ctx, o.req)
	if err != nil {
		return err
	}
	return o.f.print(resp, func(w io.Writer) {
		fmt.Fprintf(w, "signing key %s (%s) is active\n", resp.GetKey().GetKid(), resp.GetKey().GetAlgorithm())
	})
}

type tokenKeyListOptions struct{ f *factory }

func newTokenKeyListCommand(f *factory) *cobra.Command {
	o := &tokenKeyListOptions{f: f}
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the signing keys (never their private parts)",
		Example: `  gatewayctl token key list -o json`,
		Args:    cobra.NoArgs,
		RunE:    runE(o),
	}
}

func (o *tokenKeyListOptions) Complete(*cobra.Command, []string) error { return nil }
func (o *tokenKeyListOptions) Validate() error                         { return nil }

func (o *tokenKeyListOptions) Run(ctx context.Context) error {
	conn, err := o.f.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := gatewayv1.NewTokenServiceClient(conn).ListSigningKeys(ctx, &gatewayv1.ListSigningKeysRequest{})
	if err != nil {
		return err
	}
	return o.f.print(resp, func(w io.Writer) {
		row(w, "KID", "ALGORITHM", "CREATED", "ACTIVE", "RETIRED UNTIL")
		for _, k := range resp.GetKeys() {
			until := "-"
			if k.GetRetiredUntil() != nil {
				until = fmtTime(k.GetRetiredUntil())
			}
			row(w, k.GetKid(), k.GetAlgorithm(), fmtTime(k.GetCreatedAt()), yesNo(k.GetActive()), until)
		}
	})
}
