package cli

import "github.com/spf13/cobra"

func newTokenCommand(f *factory) *cobra.Command {
	cmd := newGroup("token", "Issue, renew, revoke and list gateway tokens",
		`  TOKEN=$(gatewayctl token issue --policy etl --on-behalf-of alice --ttl 1h)
  gatewayctl token list --subject alice`,
		newTokenIssueCommand(f),
		newTokenRenewCommand(f),
		newTokenRevokeCommand(f),
		newTokenListCommand(f),
		newTokenVerifyCommand(f),
		newTokenEnableCommand(f, true),
		newTokenEnableCommand(f, false),
		newTokenKeyCommand(f),
	)
	cmd.Aliases = []string{"tokens"}
	return cmd
}
