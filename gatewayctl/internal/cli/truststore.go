package cli

import "github.com/spf13/cobra"

func newTruststoreCommand(f *factory) *cobra.Command {
	cmd := newGroup("truststore", "Manage the named truststores that verify backends",
		`  gatewayctl truststore add backends ca.pem
  gatewayctl truststore list`,
		newTruststoreAddCommand(f),
		newTruststoreListCommand(f),
		newTruststoreRemoveCommand(f),
	)
	cmd.Aliases = []string{"truststores"}
	return cmd
}
