package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

type truststoreAddOptions struct {
	f    *factory
	name string
	file string
}

func newTruststoreAddCommand(f *factory) *cobra.Command {
	o := &truststoreAddOptions{f: f}
	return &cobra.Command{
		Use:   "add NAME FILE",
		Short: "Add the PEM certificates of FILE to a truststore",
		Long:  `Add every certificate of a PEM file to the named truststore, creating it if needed. FILE "-" reads standard input.`,
		Example: `  gatewayctl truststore add backends ca.pem
  cat ca1.pem ca2.pem | gatewayctl truststore add backends -`,
		Args: exactArgs("NAME", "FILE"),
		RunE: runE(o),
	}
}

func (o *truststoreAddOptions) Complete(_ *cobra.Command, args []string) error {
	o.name, o.file = args[0], args[1]
	return nil
}

func (o *truststoreAddOptions) Validate() error { return nil }

func (o *truststoreAddOptions) Run(ctx context.Context) error {
	var (
		pem []byte
		err error
	)
	if o.file == "-" {
		pem, err = io.ReadAll(io.LimitReader(o.f.streams.In, maxDocumentSize))
	} else {
		pem, err = os.ReadFile(o.file)
	}
	if err != nil {
		return fmt.Errorf("reading certificates: %w", err)
	}
	conn, err := o.f.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := gatewayv1.NewPKIServiceClient(conn).AddTrustedCertificates(ctx, &gatewayv1.AddTrustedCertificatesRequest{Truststore: o.name, Pem: pem})
	if err != nil {
		return err
	}
	sortCertificates(resp.Added)
	return o.f.print(resp, func(w io.Writer) {
		fmt.Fprintf(w, "added %s to truststore %q\n", plural(len(resp.GetAdded()), "certificate"), o.name)
		printCertificateRows(w, "", resp.GetAdded())
	})
}
