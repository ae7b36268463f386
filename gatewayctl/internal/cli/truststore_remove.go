package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

type truststoreRemoveOptions struct {
	f   *factory
	req *gatewayv1.RemoveTrustedCertificateRequest
}

func newTruststoreRemoveCommand(f *factory) *cobra.Command {
	o := &truststoreRemoveOptions{f: f}
	return &cobra.Command{
		Use:   "remove NAME FINGERPRINT",
		Short: "Remove a certificate, by SHA-256 fingerprint, from a truststore",
		Example: `  gatewayctl truststore list backends
  gatewayctl truststore remove backends 3f:a1:...:9c`,
		Args: exactArgs("NAME", "FINGERPRINT"),
		RunE: runE(o),
	}
}

func (o *truststoreRemoveOptions) Complete(_ *cobra.Command, args []string) error {
	o.req = &gatewayv1.RemoveTrustedCertificateRequest{Truststore: args[0], Sha256Fingerprint: args[1]}
	return nil
}

func (o *truststoreRemoveOptions) Validate() error { return nil }

func (o *truststoreRemoveOptions) Run(ctx context.Context) error {
	conn, err := o.f.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := gatewayv1.NewPKIServiceClient(conn).RemoveTrustedCertificate(ctx, o.req)
	if err != nil {
		return err
	}
	return o.f.print(resp, func(w io.Writer) {
		fmt.Fprintf(w, "removed %s from truststore %q\n", o.req.GetSha256Fingerprint(), o.req.GetTruststore())
	})
}
