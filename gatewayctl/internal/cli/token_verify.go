package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

type tokenVerifyOptions struct {
	f     *factory
	token string
}

func newTokenVerifyCommand(f *factory) *cobra.Command {
	o := &tokenVerifyOptions{f: f}
	return &cobra.Command{
		Use:   "verify TOKEN|-",
		Short: "Say what a gateway would decide about a token (signature, claims, state)",
		Long: `Verify a token as a gateway would: its signature with a live key, its issuer
and validity, and its state (revoked, disabled, expired). Exits non-zero when
the token would be refused. "-" reads the token from standard input, which
keeps it out of the process list.`,
		Example: `  gatewayctl token verify "$TOKEN"
  echo "$TOKEN" | gatewayctl token verify -`,
		Args: exactArgs("TOKEN"),
		RunE: runE(o),
	}
}

func (o *tokenVerifyOptions) Complete(_ *cobra.Command, args []string) error {
	o.token = args[0]
	if o.token == "-" {
		line, err := bufio.NewReader(o.f.streams.In).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("reading the token: %w", err)
		}
		o.token = line
	}
	o.token = strings.TrimSpace(o.token)
	return nil
}

func (o *tokenVerifyOptions) Validate() error {
	if o.token == "" {
		return errors.New("no token given")
	}
	return nil
}

func (o *tokenVerifyOptions) Run(ctx context.Context) error {
	conn, err := o.f.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := gatewayv1.NewTokenServiceClient(conn).VerifyToken(ctx, &gatewayv1.VerifyTokenRequest{Token: o.token})
	if err != nil {
		return err
	}
	if err := o.f.print(resp, func(w io.Writer) {
		verdict := "valid"
		if !resp.GetValid() {
			verdict = "refused: " + resp.GetReason()
		}
		row(w, "Verdict:", verdict)
		if i := resp.GetInfo(); i != nil {
			row(w, "ID:", i.GetId())
			row(w, "Subject:", i.GetSubject())
			row(w, "Actors:", list(i.GetActorChain()))
			row(w, "Policy:", orDefault(i.GetPolicy(), "-"))
			row(w, "Type:", i.GetType())
			row(w, "Algorithm:", orDefault(i.GetAlgorithm(), "-"))
			row(w, "Issued:", fmtTime(i.GetIssuedAt()))
			row(w, "Expires:", fmtTime(i.GetExpiresAt()))
			row(w, "Max lifetime:", fmtTime(i.GetMaxLifetimeAt()))
		}
		if resp.GetClaimsJson() != "" {
			row(w, "Header:", resp.GetHeaderJson())
			row(w, "Claims:", resp.GetClaimsJson())
		}
	}); err != nil {
		return err
	}
	if !resp.GetValid() {
		return fmt.Errorf("token refused: %s", resp.GetReason())
	}
	return nil
}
