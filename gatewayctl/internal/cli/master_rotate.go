package cli

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

func newMasterCommand(f *factory) *cobra.Command {
	return newGroup("master", "Manage the master secret that protects stored secrets",
		`  gatewayctl master rotate --new-secret-file new-master.txt`,
		newMasterRotateCommand(f))
}

type masterRotateOptions struct {
	f           *factory
	newFile     string
	currentFile string
	newDataKey  bool
}

func newMasterRotateCommand(f *factory) *cobra.Command {
	o := &masterRotateOptions{f: f}
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Protect the stored secrets with a new master secret",
		Long: `Protect the stored secrets with a new master secret.

The master secret wraps a data key that seals every alias and private key:
rotate re-wraps it (one small write), so every gateway sharing the store
keeps serving and opening aliases, with nothing re-encrypted. Gateways
that start afterwards need the new secret: write it to each gateway's
--master-secret-file before its next restart (on a shared etcd store,
'gatewayctl status' shows which gateways' files are stale; a --dev daemon's
.gateway/master.secret is rewritten by the rotation).

--new-data-key also replaces the data key and re-encrypts every stored
secret under it, in one transaction; running gateways follow it.

Each secret comes from its file ("-" is standard input, for one of them) or,
when no file is given and standard input is a terminal, from a no-echo
prompt; the new one is asked twice. One trailing newline of a file is
dropped. Secrets never go on the command line.`,
		Example: `  # Prompt for both secrets
  gatewayctl master rotate

  # From files
  gatewayctl master rotate --current-secret-file old.txt --new-secret-file new.txt

  # And a new data key, every record re-encrypted
  gatewayctl master rotate --current-secret-file old.txt --new-secret-file new.txt --new-data-key`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	cmd.Flags().StringVar(&o.newFile, "new-secret-file", "", "file holding the new master secret (\"-\": stdin)")
	cmd.Flags().StringVar(&o.currentFile, "current-secret-file", "", "file holding the current master secret (\"-\": stdin)")
	cmd.Flags().BoolVar(&o.newDataKey, "new-data-key", false, "also replace the data key and re-encrypt every stored secret")
	return cmd
}

func (o *masterRotateOptions) Complete(*cobra.Command, []string) error { return nil }

func (o *masterRotateOptions) Validate() error {
	if o.newFile == "-" && o.currentFile == "-" {
		return errors.New("only one of --new-secret-file and --current-secret-file can be \"-\"")
	}
	if !o.f.stdinIsTerminal() {
		if o.currentFile == "" {
			return errors.New("--current-secret-file is required when standard input is not a terminal")
		}
		if o.newFile == "" {
			return errors.New("--new-secret-file is required when standard input is not a terminal")
		}
	}
	return nil
}

func (o *masterRotateOptions) Run(ctx context.Context) error {
	// Config errors first, before any prompt; the connection is lazy.
	conn, err := o.f.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	current, err := o.secret(o.currentFile, "current master secret", false)
	if err != nil {
		return err
	}
	defer clear(current)
	next, err := o.secret(o.newFile, "new master secret", true)
	if err != nil {
		return err
	}
	defer clear(next)
	if subtle.ConstantTimeCompare(current, next) == 1 {
		return errors.New("the new master secret equals the current one")
	}

	resp, err := gatewayv1.NewAliasServiceClient(conn).RotateMaster(ctx, &gatewayv1.RotateMasterRequest{CurrentSecret: current, NewSecret: next, NewDataKey: o.newDataKey})
	if err != nil {
		return err
	}
	return o.f.print(resp, func(w io.Writer) {
		if o.newDataKey {
			fmt.Fprintf(w, "master secret and data key rotated: %s re-encrypted\n", plural(int(resp.GetReencrypted()), "secret"))
			return
		}
		fmt.Fprintln(w, "master secret rotated (the data key is re-wrapped; gateways started from now on need the new secret)")
	})
}

func (o *masterRotateOptions) secret(file, what string, confirm bool) ([]byte, error) {
	if file != "" {
		b, err := o.f.readSecretFile(file)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		return b, nil
	}
	b, err := o.f.readSecret(what, confirm)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return b, nil
}
