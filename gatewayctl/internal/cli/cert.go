package cli

import (
	"io"
	"slices"

	"github.com/spf13/cobra"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

func newCertCommand(f *factory) *cobra.Command {
	return newGroup("cert", "Manage gatewayd's TLS identity",
		`  gatewayctl cert create --hostname gw.example.com --hostname 10.0.0.5
  gatewayctl cert export > gateway.pem
  gatewayctl cert client ci-deployer --out-dir ./ci-deployer`,
		newCertCreateCommand(f),
		newCertExportCommand(f),
		newCertClientCommand(f),
	)
}

// describeCertificate prints one certificate as key/value lines.
func describeCertificate(w io.Writer, c *gatewayv1.CertificateInfo) {
	row(w, "Subject:", c.GetSubject())
	row(w, "Issuer:", c.GetIssuer())
	row(w, "DNS names:", list(slices.Sorted(slices.Values(c.GetDnsNames()))))
	row(w, "IP addresses:", list(slices.Sorted(slices.Values(c.GetIpAddresses()))))
	row(w, "Not before:", fmtTime(c.GetNotBefore()))
	row(w, "Not after:", fmtTime(c.GetNotAfter()))
	row(w, "Key type:", c.GetKeyType())
	row(w, "Serial:", c.GetSerial())
	row(w, "SHA-256 fingerprint:", c.GetSha256Fingerprint())
}
