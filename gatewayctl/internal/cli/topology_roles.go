package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

type topologyRolesOptions struct {
	f *factory
}

func newTopologyRolesCommand(f *factory) *cobra.Command {
	o := &topologyRolesOptions{f: f}
	return &cobra.Command{
		Use:   "roles",
		Short: "List the service catalogue: the Knox service roles a topology may name",
		Long: `List the service catalogue: every service role of Apache Knox's service
definitions that a Knox topology may name, where the gateway publishes it
(/gateway/{topology}/PATH), the path a Knox topology's URL gets appended
(BACKEND), whether it is an API or a web UI, whether it is reached over
WebSocket, and what the gateway rewrites in its responses:
  headers   Location, Content-Location, Refresh and Set-Cookie (every service)
  body      also HTML, CSS, JavaScript and JSON bodies (web UIs)
  datanode  also redirects to hosts outside the topology, which become sealed
            gateway URLs (WebHDFS's datanodes)
This works offline: no config file and no server are needed.`,
		Example: `  gatewayctl topology roles
  gatewayctl topology roles -o json`,
		Args: exactArgs(),
		RunE: runE(o),
	}
}

func (o *topologyRolesOptions) Complete(*cobra.Command, []string) error { return nil }

func (o *topologyRolesOptions) Validate() error { return nil }

func (o *topologyRolesOptions) Run(context.Context) error {
	roles := catalogueRoles()
	if o.f.output != outputTable {
		b, err := json.Marshal(map[string]any{"roles": roles})
		if err != nil {
			return fmt.Errorf("encoding the catalogue: %w", err)
		}
		return o.f.printJSON(b)
	}
	return o.f.printTable(func(w io.Writer) {
		fmt.Fprintln(w, "ROLE\tPATH\tBACKEND\tTYPE\tWEBSOCKET\tREWRITE\tKNOX")
		for _, r := range roles {
			ws := "-"
			if r.WebSocket {
				ws = "yes"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Role, r.Path, dashIfEmpty(r.Backend), r.Type, ws, r.Rewrite, dashIfEmpty(strings.Join(r.Knox, ",")))
		}
	})
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
