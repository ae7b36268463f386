package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

// Version is the version of gatewayctl, set at build time with
// -ldflags "-X github.com/securegw/gateway/gatewayctl/internal/cli.Version=v1.2.3".
var Version = ""

// clientVersion returns Version, else the module version from the build
// information.
func clientVersion() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

type versionOptions struct {
	f          *factory
	clientOnly bool
}

func newVersionCommand(f *factory) *cobra.Command {
	o := &versionOptions{f: f}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the versions of gatewayctl and gatewayd",
		Example: `  gatewayctl version
  gatewayctl version --client`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	cmd.Flags().BoolVar(&o.clientOnly, "client", false, "print the client version only; do not contact gatewayd")
	return cmd
}

func (o *versionOptions) Complete(*cobra.Command, []string) error { return nil }
func (o *versionOptions) Validate() error                         { return nil }

func (o *versionOptions) Run(ctx context.Context) error {
	v := struct {
		Client string `json:"client_version"`
		Server string `json:"server_version,omitempty"`
	}{Client: clientVersion()}
	if !o.clientOnly {
		st, err := o.serverStatus(ctx)
		if err != nil {
			// Still say what the client is before failing.
			if o.f.output == outputTable {
				fmt.Fprintf(o.f.out(), "Client: %s\n", v.Client)
			}
			return err
		}
		v.Server = st.GetVersion()
	}
	if o.f.output != outputTable {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		return o.f.printJSON(b)
	}
	return o.f.printTable(func(w io.Writer) {
		row(w, "Client:", v.Client)
		if !o.clientOnly {
			row(w, "Server:", v.Server)
		}
	})
}

func (o *versionOptions) serverStatus(ctx context.Context) (*gatewayv1.GetStatusResponse, error) {
	conn, err := o.f.dial()
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return gatewayv1.NewStatusServiceClient(conn).GetStatus(ctx, &gatewayv1.GetStatusRequest{})
}
