package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/durationpb"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

type certClientOptions struct {
	f        *factory
	name     string
	outDir   string
	validity string
}

func newCertClientCommand(f *factory) *cobra.Command {
	o := &certClientOptions{f: f}
	cmd := &cobra.Command{
		Use:   "client NAME --out-dir DIR",
		Short: "Create a management client certificate for a new principal (the key never leaves this machine)",
		Long: `client makes a key and a certificate request here, has the admin CA sign it, and
writes NAME.pem, NAME-key.pem (0600), ca.pem and a gatewayctl.yaml into DIR.
The principal NAME has no role until gateway.yaml gives it one:

  management:
    principals:
      NAME: [operator]`,
		Example: `  gatewayctl cert client ci-deployer --out-dir ./ci-deployer --validity 30d
  GATEWAYCTL_CONFIG=./ci-deployer/gatewayctl.yaml gatewayctl topology list`,
		Args: cobra.ExactArgs(1),
		RunE: runE(o),
	}
	cmd.Flags().StringVar(&o.outDir, "out-dir", "", "directory to write the key, certificate and gatewayctl.yaml to (created 0700)")
	cmd.Flags().StringVar(&o.validity, "validity", "90d", "validity of the certificate, e.g. 90d or 720h")
	return cmd
}

func (o *certClientOptions) Complete(_ *cobra.Command, args []string) error {
	o.name = args[0]
	return nil
}

func (o *certClientOptions) Validate() error {
	if o.name == "" || len(o.name) > 64 || strings.ContainsFunc(o.name, func(r rune) bool { return r < 0x21 || r == 0x7f || r == '/' }) {
		return fmt.Errorf("invalid principal name %q: 1-64 printable characters, no spaces or '/'", o.name)
	}
	if o.outDir == "" {
		return errors.New("--out-dir is required")
	}
	if _, err := parseDuration(o.validity); err != nil {
		return fmt.Errorf("invalid --validity: %w", err)
	}
	return nil
}

func (o *certClientOptions) Run(ctx context.Context) error {
	validity, _ := parseDuration(o.validity)
	cfg, err := o.f.loadConfig()
	if err != nil {
		return err
	}
	files := map[string]string{
		"cert":   filepath.Join(o.outDir, o.name+".pem"),
		"key":    filepath.Join(o.outDir, o.name+"-key.pem"),
		"ca":     filepath.Join(o.outDir, "ca.pem"),
		"config": filepath.Join(o.outDir, "gatewayctl.yaml"),
	}
	for _, p := range files {
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("%s exists; refusing to overwrite it", p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generating a key: %w", err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: o.name}}, key)
	if err != nil {
		return fmt.Errorf("making the certificate request: %w", err)
	}
	conn, err := o.f.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := gatewayv1.NewPKIServiceClient(conn).IssueClientCertificate(ctx, &gatewayv1.IssueClientCertificateRequest{
		CsrPem:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
		Validity: durationpb.New(validity),
	})
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.outDir, 0o700); err != nil {
		return err
	}
	serverName := cfg.ServerName
	doc := fmt.Sprintf("# gatewayctl configuration of principal %s\nserver: %s\nca: ca.pem\ncert: %s.pem\nkey: %s-key.pem\n", o.name, cfg.Server, o.name, o.name)
	if serverName != "" {
		doc += "server_name: " + serverName + "\n"
	}
	for _, w := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{files["key"], pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600},
		{files["cert"], resp.GetCertificatePem(), 0o644},
		{files["ca"], resp.GetCaPem(), 0o644},
		{files["config"], []byte(doc), 0o600},
	} {
		if err := os.WriteFile(w.path, w.data, w.mode); err != nil {
			return fmt.Errorf("writing %s: %w", w.path, err)
		}
	}
	if o.f.output != outputTable {
		return o.f.print(resp.GetCertificate(), nil)
	}
	fmt.Fprintf(o.f.out(), "Principal %q: certificate valid until %s, files in %s.\n", o.name, fmtTime(resp.GetCertificate().GetNotAfter()), o.outDir)
	fmt.Fprintf(o.f.out(), "Give it a role in gateway.yaml, keeping the admin (the list replaces the default):\n"+
		"  management:\n    principals:\n      admin: [admin]\n      %s: [operator]\n"+
		"restart gatewayd, then use GATEWAYCTL_CONFIG=%s\n", o.name, files["config"])
	return nil
}
