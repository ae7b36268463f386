package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

type statusOptions struct {
	f *factory
}

func newStatusCommand(f *factory) *cobra.Command {
	o := &statusOptions{f: f}
	return &cobra.Command{
		Use:   "status",
		Short: "Show the state of gatewayd and who you are to it",
		Long: `Show the state of gatewayd (version, revisions, counts, addresses, backend
health) and the principal and roles the server sees for your client certificate.`,
		Example: `  gatewayctl status
  gatewayctl status -o json`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
}

func (o *statusOptions) Complete(*cobra.Command, []string) error { return nil }
func (o *statusOptions) Validate() error                         { return nil }

func (o *statusOptions) Run(ctx context.Context) error {
	conn, err := o.f.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	client := gatewayv1.NewStatusServiceClient(conn)
	st, err := client.GetStatus(ctx, &gatewayv1.GetStatusRequest{})
	if err != nil {
		return err
	}
	who, err := client.WhoAmI(ctx, &gatewayv1.WhoAmIRequest{})
	if status.Code(err) == codes.Unimplemented {
		who, err = nil, nil // an older server: show the status alone
	}
	if err != nil {
		return err
	}

	// Sorted in every output format, so that the output is stable.
	slices.SortFunc(st.Backends, func(a, b *gatewayv1.BackendStatus) int {
		return cmp.Or(strings.Compare(a.GetTopology(), b.GetTopology()), strings.Compare(a.GetService(), b.GetService()), strings.Compare(a.GetUrl(), b.GetUrl()))
	})
	if who != nil {
		slices.Sort(who.Roles)
	}
	if o.f.output != outputTable {
		doc := struct {
			Status json.RawMessage `json:"status"`
			WhoAmI json.RawMessage `json:"whoami,omitempty"`
		}{}
		if doc.Status, err = protoJSON(st); err != nil {
			return err
		}
		if who != nil {
			if doc.WhoAmI, err = protoJSON(who); err != nil {
				return err
			}
		}
		b, err := json.Marshal(doc)
		if err != nil {
			return err
		}
		return o.f.printJSON(b)
	}
	return o.f.printTable(func(w io.Writer) {
		row(w, "Version:", st.GetVersion())
		row(w, "Started:", fmtTime(st.GetStartedAt()))
		row(w, "Store revision:", st.GetStoreRevision())
		row(w, "Applied revision:", st.GetAppliedRevision())
		row(w, "Table generation:", st.GetTableGeneration())
		row(w, "Topologies:", st.GetTopologyCount())
		row(w, "Services:", st.GetServiceCount())
		row(w, "Proxy address:", st.GetProxyAddress())
		row(w, "Management address:", st.GetManagementAddress())
		row(w, "Data directory:", st.GetDataDir())
		if b := st.GetStoreBackend(); b != "" {
			row(w, "Store:", b)
		}
		if m := st.GetMaxOpenFiles(); m > 0 {
			row(w, "Descriptors:", fmt.Sprintf("%d open of %d", st.GetOpenFiles(), m))
		}
		row(w, "WebSockets:", st.GetWebsocketConnections())
		if who != nil {
			row(w, "Principal:", who.GetPrincipal())
			row(w, "Roles:", list(who.GetRoles()))
		}
		if len(st.GetGateways()) > 0 {
			io.WriteString(w, "\n")
			row(w, "GATEWAY", "MANAGEMENT", "PROXY", "APPLIED", "BEHIND", "READY", "KEY", "MASTER", "VERSION")
			for _, m := range st.GetGateways() {
				row(w, m.GetId(), m.GetManagementAddress(), m.GetProxyAddress(), m.GetAppliedRevision(),
					max(0, st.GetStoreRevision()-m.GetAppliedRevision()), yesNo(m.GetReady()),
					cmp.Or(m.GetKeyId(), "-"), cmp.Or(m.GetMaster(), "-"), m.GetVersion())
			}
		}
		if len(st.GetBackends()) == 0 {
			return
		}
		io.WriteString(w, "\n")
		row(w, "TOPOLOGY", "SERVICE", "URL", "HEALTHY", "FAILURES", "COOLOFF-UNTIL")
		for _, b := range st.GetBackends() {
			row(w, b.GetTopology(), b.GetService(), b.GetUrl(), yesNo(b.GetHealthy()), b.GetConsecutiveFailures(), fmtTime(b.GetCooloffUntil()))
		}
	})
}
