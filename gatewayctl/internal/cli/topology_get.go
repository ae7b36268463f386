package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

type topologyGetOptions struct {
	f *factory

	name     string
	revision int64
}

func newTopologyGetCommand(f *factory) *cobra.Command {
	o := &topologyGetOptions{f: f}
	cmd := &cobra.Command{
		Use:   "get NAME",
		Short: "Show a deployed topology",
		Long: `Show a deployed topology, at its current revision or an earlier one.

-o yaml prints the topology as a native YAML document, which 'topology deploy'
accepts as is; -o json prints the API's TopologyInfo with its metadata.`,
		Example: `  gatewayctl topology get sandbox
  gatewayctl topology get sandbox --revision 3

  # Edit and redeploy
  gatewayctl topology get sandbox -o yaml > sandbox.yaml
  gatewayctl topology deploy sandbox.yaml`,
		Args:              exactArgs("NAME"),
		ValidArgsFunction: f.completeTopologyNames,
		RunE:              runE(o),
	}
	cmd.Flags().Int64Var(&o.revision, "revision", 0, "revision to show (default: the current one)")
	return cmd
}

func (o *topologyGetOptions) Complete(_ *cobra.Command, args []string) error {
	o.name = args[0]
	return nil
}

func (o *topologyGetOptions) Validate() error {
	if o.revision < 0 {
		return fmt.Errorf("--revision must not be negative")
	}
	return nil
}

func (o *topologyGetOptions) Run(ctx context.Context) error {
	conn, err := o.f.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := gatewayv1.NewTopologyServiceClient(conn).Get(ctx, &gatewayv1.GetRequest{Name: o.name, Revision: o.revision})
	if err != nil {
		return err
	}
	info := resp.GetTopology()
	switch o.f.output {
	case outputYAML:
		doc, err := topologyDocument(info.GetTopology())
		if err != nil {
			return fmt.Errorf("rendering topology %q as YAML: %w", o.name, err)
		}
		_, err = o.f.out().Write(doc)
		return err
	case outputJSON:
		return o.f.print(info, nil)
	}
	return o.f.printTable(func(w io.Writer) { describeTopology(w, info) })
}

// describeTopology prints a topology for humans: metadata, then providers
// and services as sorted tables.
func describeTopology(w io.Writer, info *gatewayv1.TopologyInfo) {
	t := info.GetTopology()
	row(w, "Name:", t.GetName())
	row(w, "Description:", t.GetDescription())
	row(w, "Revision:", info.GetRevision())
	row(w, "Created at revision:", info.GetCreateRevision())
	row(w, "Updated:", fmtTime(info.GetUpdatedAt()))
	row(w, "Updated by:", info.GetUpdatedBy())

	providers := slices.Clone(t.GetProviders())
	slices.SortStableFunc(providers, func(a, b *gatewayv1.Provider) int {
		return cmp.Or(strings.Compare(a.GetRole(), b.GetRole()), strings.Compare(a.GetName(), b.GetName()))
	})
	io.WriteString(w, "\n")
	row(w, "ROLE", "PROVIDER", "ENABLED", "PARAMS")
	for _, p := range providers {
		row(w, p.GetRole(), p.GetName(), yesNo(p.GetEnabled()), paramKeys(p.GetParams()))
	}

	services := slices.Clone(t.GetServices())
	slices.SortFunc(services, func(a, b *gatewayv1.Service) int { return strings.Compare(a.GetPath(), b.GetPath()) })
	io.WriteString(w, "\n")
	row(w, "PATH", "ROLE", "URLS", "WEBSOCKET")
	for _, s := range services {
		row(w, s.GetPath(), s.GetRole(), list(s.GetUrls()), yesNo(s.GetWebsocket()))
	}
}

// paramKeys lists parameter names only: values may hold secrets or alias
// references and are shown with -o yaml.
func paramKeys(params map[string]string) string {
	return list(slices.Sorted(maps.Keys(params)))
}
