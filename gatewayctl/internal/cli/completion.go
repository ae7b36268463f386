package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

type completionOptions struct {
	f     *factory
	root  *cobra.Command
	shell string
}

func newCompletionCommand(f *factory) *cobra.Command {
	o := &completionOptions{f: f}
	cmd := &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Long: `Print a completion script for the given shell. Topology names are completed
from the live gatewayd for 'topology get', 'delete', 'history' and 'rollback'.`,
		Example: `  # bash, for the current shell
  source <(gatewayctl completion bash)

  # zsh, permanently
  gatewayctl completion zsh > "${fpath[1]}/_gatewayctl"

  # fish
  gatewayctl completion fish > ~/.config/fish/completions/gatewayctl.fish`,
		Args:      exactArgs("SHELL"),
		ValidArgs: []cobra.Completion{"bash", "zsh", "fish", "powershell"},
		RunE:      runE(o),
	}
	return cmd
}

func (o *completionOptions) Complete(cmd *cobra.Command, args []string) error {
	o.root, o.shell = cmd.Root(), args[0]
	return nil
}

func (o *completionOptions) Validate() error {
	switch o.shell {
	case "bash", "zsh", "fish", "powershell":
		return nil
	}
	return fmt.Errorf("unsupported shell %q: use bash, zsh, fish or powershell", o.shell)
}

func (o *completionOptions) Run(context.Context) error {
	out := o.f.out()
	switch o.shell {
	case "bash":
		return o.root.GenBashCompletionV2(out, true)
	case "zsh":
		return o.root.GenZshCompletion(out)
	case "fish":
		return o.root.GenFishCompletion(out, true)
	default:
		return o.root.GenPowerShellCompletionWithDesc(out)
	}
}
