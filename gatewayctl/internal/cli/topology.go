package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

func newTopologyCommand(f *factory) *cobra.Command {
	cmd := newGroup("topology", "Deploy, inspect and roll back topologies",
		`  gatewayctl topology validate sandbox.yaml
  gatewayctl topology deploy sandbox.yaml --dry-run
  gatewayctl topology deploy sandbox.yaml
  gatewayctl topology list`,
		newTopologyDeployCommand(f),
		newTopologyValidateCommand(f),
		newTopologyListCommand(f),
		newTopologyGetCommand(f),
		newTopologyDeleteCommand(f),
		newTopologyHistoryCommand(f),
		newTopologyRollbackCommand(f),
		newTopologyRolesCommand(f),
	)
	cmd.Aliases = []string{"topologies", "topo"}
	return cmd
}

// maxDocumentSize keeps a document under gRPC's default 4 MiB message limit.
const maxDocumentSize = 4<<20 - 64<<10

// readDocument reads a document (what: "topology", "token policy") from a
// file, or stdin for "-", and returns it with the source name sent to the
// server (the file's base name, which also names a Knox XML topology).
func (f *factory) readDocument(path, what string) ([]byte, string, error) {
	var (
		r      io.Reader
		source string
	)
	if path == "-" {
		r, source = f.streams.In, "<stdin>"
	} else {
		fh, err := os.Open(path)
		if err != nil {
			return nil, "", fmt.Errorf("reading %s: %w", what, err)
		}
		defer fh.Close()
		r, source = fh, filepath.Base(path)
	}
	b, err := io.ReadAll(io.LimitReader(r, maxDocumentSize+1))
	if err != nil {
		return nil, "", fmt.Errorf("reading %s from %s: %w", what, path, err)
	}
	if len(b) > maxDocumentSize {
		return nil, "", fmt.Errorf("%s document %s is larger than %d bytes", what, path, maxDocumentSize)
	}
	return b, source, nil
}

// parseFormat maps --format to the API's Format; "" lets the server guess.
func parseFormat(s string) (gatewayv1.Format, error) {
	switch strings.ToLower(s) {
	case "":
		return gatewayv1.Format_FORMAT_UNSPECIFIED, nil
	case "yaml", "yml":
		return gatewayv1.Format_FORMAT_YAML, nil
	case "json":
		return gatewayv1.Format_FORMAT_JSON, nil
	case "xml", "knox", "knox-xml":
		return gatewayv1.Format_FORMAT_KNOX_XML, nil
	}
	return 0, fmt.Errorf("invalid --format %q: use yaml, json or xml", s)
}

func formatFlagCompletion() cobra.CompletionFunc {
	return cobra.FixedCompletions([]cobra.Completion{"yaml", "json", "xml"}, cobra.ShellCompDirectiveNoFileComp)
}

// sortChanges orders service changes: added, then changed, then removed,
// each by path.
func sortChanges(changes []*gatewayv1.ServiceChange) {
	slices.SortStableFunc(changes, func(a, b *gatewayv1.ServiceChange) int {
		return cmp.Or(cmp.Compare(a.GetKind(), b.GetKind()), strings.Compare(a.GetPath(), b.GetPath()))
	})
}

// printChanges lists service changes, one line each, details indented.
func printChanges(w io.Writer, changes []*gatewayv1.ServiceChange) {
	for _, c := range changes {
		fmt.Fprintf(w, "  %-8s %s\n", changeKind(c.GetKind()), c.GetPath())
		for _, d := range c.GetDetails() {
			fmt.Fprintf(w, "             %s\n", d)
		}
	}
}

func changeKind(k gatewayv1.ServiceChange_Kind) string {
	switch k {
	case gatewayv1.ServiceChange_KIND_ADDED:
		return "added"
	case gatewayv1.ServiceChange_KIND_CHANGED:
		return "changed"
	case gatewayv1.ServiceChange_KIND_REMOVED:
		return "removed"
	}
	return "?"
}

// printWarnings writes the server's or compiler's warnings to stderr.
func (f *factory) printWarnings(warnings []string) {
	for _, w := range warnings {
		fmt.Fprintf(f.errOut(), "warning: %s\n", w)
	}
}

// completeTopologyNames completes the first argument with the names of the
// deployed topologies.
func (f *factory) completeTopologyNames(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return f.topologyNames(cmd, toComplete), cobra.ShellCompDirectiveNoFileComp
}

// completeTopologyFlag completes a --topology flag.
func (f *factory) completeTopologyFlag(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return f.topologyNames(cmd, toComplete), cobra.ShellCompDirectiveNoFileComp
}

// topologyNames lists the deployed topologies starting with prefix, sorted.
// Any failure just means no suggestions.
func (f *factory) topologyNames(cmd *cobra.Command, prefix string) []cobra.Completion {
	conn, err := f.dial()
	if err != nil {
		cobra.CompDebugln(err.Error(), false)
		return nil
	}
	defer conn.Close()
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	resp, err := gatewayv1.NewTopologyServiceClient(conn).List(ctx, &gatewayv1.ListRequest{})
	if err != nil {
		cobra.CompDebugln(err.Error(), false)
		return nil
	}
	var names []cobra.Completion
	for _, t := range resp.GetTopologies() {
		if n := t.GetTopology().GetName(); strings.HasPrefix(n, prefix) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}
