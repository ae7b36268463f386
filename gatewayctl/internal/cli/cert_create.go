package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/durationpb"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

type certCreateOptions struct {
	f *factory

	keyType   string
	keySize   int32
	curve     string
	hostnames []string
	validity  time.Duration
	force     bool

	req *gatewayv1.CreateCertificateRequest
}

func newCertCreateCommand(f *factory) *cobra.Command {
	o := &certCreateOptions{f: f, validity: 825 * 24 * time.Hour}
	cmd := &cobra.Command{
		Use:   "create --hostname H...",
		Short: "Create a new TLS identity for gatewayd and make it live",
		Long: `create makes a new TLS identity, signed by the admin CA, and makes it live at once
for the proxy and the management API. Name every host clients use, including
the one in gatewayctl's server_name (localhost by default): a certificate that
does not name it locks this gatewayctl out, so create refuses unless --force.`,
		Example: `  gatewayctl cert create --hostname gw.example.com --hostname localhost --hostname 127.0.0.1
  gatewayctl cert create --key-type rsa --key-size 4096 --hostname gw.example.com --validity 397d
  gatewayctl cert create --key-type ecdsa --curve P-384 --hostname gw.example.com`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	fs := cmd.Flags()
	fs.StringVar(&o.keyType, "key-type", "ecdsa", "key type: rsa, ecdsa or ed25519")
	fs.Int32Var(&o.keySize, "key-size", 0, "RSA key size in bits: 2048, 3072 or 4096 (default: the server's)")
	fs.StringVar(&o.curve, "curve", "", "ECDSA curve: P-256 or P-384 (default: the server's)")
	fs.StringSliceVar(&o.hostnames, "hostname", nil, "DNS name or IP address of the gateway (repeatable; required)")
	fs.Var(durationFlag{&o.validity}, "validity", "validity period, e.g. 825d or 2160h")
	fs.BoolVar(&o.force, "force", false, "create it even if it does not name the host this gatewayctl connects to")
	_ = cmd.RegisterFlagCompletionFunc("key-type", cobra.FixedCompletions([]cobra.Completion{"rsa", "ecdsa", "ed25519"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("curve", cobra.FixedCompletions([]cobra.Completion{"P-256", "P-384"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func (o *certCreateOptions) Complete(*cobra.Command, []string) error { return nil }

func (o *certCreateOptions) Validate() error {
	key := &gatewayv1.KeySpec{}
	switch strings.ToLower(o.keyType) {
	case "rsa":
		key.Type = gatewayv1.KeyType_KEY_TYPE_RSA
		key.RsaBits = o.keySize
	case "ecdsa", "ec":
		key.Type = gatewayv1.KeyType_KEY_TYPE_ECDSA
		key.Curve = o.curve
	case "ed25519":
		key.Type = gatewayv1.KeyType_KEY_TYPE_ED25519
	default:
		return fmt.Errorf("invalid --key-type %q: use rsa, ecdsa or ed25519", o.keyType)
	}
	if o.keySize != 0 && key.Type != gatewayv1.KeyType_KEY_TYPE_RSA {
		return errors.New("--key-size applies to rsa keys only")
	}
	if o.curve != "" && key.Type != gatewayv1.KeyType_KEY_TYPE_ECDSA {
		return errors.New("--curve applies to ecdsa keys only")
	}
	var hosts []string
	for _, h := range o.hostnames {
		if h = strings.TrimSpace(h); h != "" {
			hosts = append(hosts, h)
		}
	}
	if len(hosts) == 0 {
		return errors.New("at least one --hostname is required")
	}
	if o.validity <= 0 {
		return errors.New("--validity must be positive")
	}
	o.req = &gatewayv1.CreateCertificateRequest{Key: key, Hostnames: hosts, Validity: durationpb.New(o.validity)}
	return nil
}

func (o *certCreateOptions) Run(ctx context.Context) error {
	cfg, err := o.f.loadConfig()
	if err != nil {
		return err
	}
	name := cfg.ServerName
	if name == "" {
		name, _, _ = net.SplitHostPort(cfg.Server)
	}
	if !o.force && !slices.ContainsFunc(o.req.GetHostnames(), func(h string) bool { return strings.EqualFold(strings.Trim(h, "[]"), name) }) {
		return fmt.Errorf("the new identity would not name %q, the host this gatewayctl verifies gatewayd as (server_name): add --hostname %s, or --force", name, name)
	}
	conn, err := o.f.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := gatewayv1.NewPKIServiceClient(conn).CreateCertificate(ctx, o.req)
	if err != nil {
		return err
	}
	return o.f.print(resp, func(w io.Writer) {
		fmt.Fprintln(w, "new TLS identity is live:")
		describeCertificate(w, resp.GetCertificate())
	})
}
