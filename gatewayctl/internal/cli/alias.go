package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newAliasCommand(f *factory) *cobra.Command {
	cmd := newGroup("alias", "Manage credential aliases (encrypted named secrets)",
		`  # Store a secret read from a no-echo prompt (or from stdin when piped)
  gatewayctl alias create ldap-bind-password
  printf '%s' "$PW" | gatewayctl alias create ldap-bind-password --topology sandbox

  gatewayctl alias list --all`,
		newAliasCreateCommand(f),
		newAliasListCommand(f),
		newAliasGetCommand(f),
		newAliasDeleteCommand(f),
		newAliasReencryptCommand(f),
	)
	cmd.Aliases = []string{"aliases"}
	return cmd
}

// aliasScope describes where an alias lives, for messages.
func aliasScope(topology string) string {
	if topology == "" {
		return "gateway scope"
	}
	return fmt.Sprintf("topology %q", topology)
}

// topologyScopeFlag registers --topology for alias commands.
func topologyScopeFlag(cmd *cobra.Command, f *factory, v *string) {
	cmd.Flags().StringVar(v, "topology", "", "topology the alias belongs to (default: gateway scope)")
	_ = cmd.RegisterFlagCompletionFunc("topology", f.completeTopologyFlag)
}
