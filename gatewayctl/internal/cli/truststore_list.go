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

type truststoreListOptions struct {
	f    *factory
	name string
}

func newTruststoreListCommand(f *factory) *cobra.Command {
	o := &truststoreListOptions{f: f}
	return &cobra.Command{
		Use:     "list [NAME]",
		Aliases: []string{"ls"},
		Short:   "List the certificates of every truststore, or of one",
		Example: `  gatewayctl truststore list
  gatewayctl truststore list backends -o yaml`,
		Args: cobra.MaximumNArgs(1),
		RunE: runE(o),
	}
}

func (o *truststoreListOptions) Complete(_ *cobra.Command, args []string) error {
	if len(args) == 1 {
		o.name = args[0]
	}
	return nil
}

func (o *truststoreListOptions) Validate() error { return nil }

func (o *truststoreListOptions) Run(ctx context.Context) error {
	conn, err := o.f.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := gatewayv1.NewPKIServiceClient(conn).ListTruststores(ctx, &gatewayv1.ListTruststoresRequest{Name: o.name})
	if err != nil {
		return err
	}
	slices.SortFunc(resp.Truststores, func(a, b *gatewayv1.Truststore) int { return strings.Compare(a.GetName(), b.GetName()) })
	for _, s := range resp.Truststores {
		sortCertificates(s.Certificates)
	}
	return o.f.print(resp, func(w io.Writer) {
		row(w, "TRUSTSTORE", "SUBJECT", "NOT-AFTER", "SHA256-FINGERPRINT")
		for _, s := range resp.GetTruststores() {
			printCertificateRows(w, s.GetName(), s.GetCertificates())
		}
	})
}

// sortCertificates sorts certificates by subject and fingerprint.
func sortCertificates(certs []*gatewayv1.CertificateInfo) {
	slices.SortFunc(certs, func(a, b *gatewayv1.CertificateInfo) int {
		return cmp.Or(strings.Compare(a.GetSubject(), b.GetSubject()), strings.Compare(a.GetSha256Fingerprint(), b.GetSha256Fingerprint()))
	})
}

// printCertificateRows prints certificates, prefixed with a truststore
// column when store is not "".
func printCertificateRows(w io.Writer, store string, certs []*gatewayv1.CertificateInfo) {
	if store == "" {
		row(w, "SUBJECT", "NOT-AFTER", "SHA256-FINGERPRINT")
	}
	for _, c := range certs {
		if store == "" {
			row(w, c.GetSubject(), fmtTime(c.GetNotAfter()), c.GetSha256Fingerprint())
		} else {
			row(w, store, c.GetSubject(), fmtTime(c.GetNotAfter()), c.GetSha256Fingerprint())
		}
	}
}
