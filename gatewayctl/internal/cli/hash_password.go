package cli

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/argon2"
)

// Argon2id parameters of hash-password: OWASP's minimum for argon2id
// (19 MiB, 2 passes, 1 lane), which the basic provider checks in about
// 20 ms per uncached login.
const (
	hashMemoryKiB = 19 * 1024
	hashTime      = 2
	hashThreads   = 1
	hashSaltLen   = 16
	hashKeyLen    = 32
)

type hashPasswordOptions struct {
	f         *factory
	memoryKiB uint32
	time      uint32
	threads   uint8
}

func newHashPasswordCommand(f *factory) *cobra.Command {
	o := &hashPasswordOptions{f: f}
	cmd := &cobra.Command{
		Use:   "hash-password",
		Short: "Hash a password with argon2id for the basic authentication provider",
		Long: `hash-password reads a password from stdin (when piped) or from a no-echo
prompt asked twice, never from the command line, and prints its argon2id hash
as a PHC string, the form the basic provider's user.NAME params take. Nothing
is sent to gatewayd.`,
		Example: `  gatewayctl hash-password                      # prompts twice
  printf %s "$PASSWORD" | gatewayctl hash-password
  # then in a topology:  params: {user.alice: '$argon2id$v=19$m=19456,t=2,p=1$…'}`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	fs := cmd.Flags()
	fs.Uint32Var(&o.memoryKiB, "memory", hashMemoryKiB, "argon2id memory in KiB (the basic provider accepts up to 1048576)")
	fs.Uint32Var(&o.time, "time", hashTime, "argon2id passes (1 to 64)")
	fs.Uint8Var(&o.threads, "threads", hashThreads, "argon2id lanes (1 to 255)")
	return cmd
}

func (o *hashPasswordOptions) Complete(*cobra.Command, []string) error { return nil }

// Validate keeps the parameters within what the basic provider accepts.
func (o *hashPasswordOptions) Validate() error {
	switch {
	case o.threads < 1:
		return fmt.Errorf("--threads must be from 1 to 255")
	case o.time < 1 || o.time > 64:
		return fmt.Errorf("--time must be from 1 to 64")
	case o.memoryKiB < 8*uint32(o.threads) || o.memoryKiB > 1<<20:
		return fmt.Errorf("--memory must be from 8×threads to 1048576 KiB")
	}
	return nil
}

func (o *hashPasswordOptions) Run(context.Context) error {
	pw, err := o.f.readSecret("password", true)
	if err != nil {
		return fmt.Errorf("password: %w", err)
	}
	defer clear(pw)
	salt := make([]byte, hashSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return fmt.Errorf("generating a salt: %w", err)
	}
	key := argon2.IDKey(pw, salt, o.time, o.memoryKiB, o.threads, hashKeyLen)
	_, err = fmt.Fprintf(o.f.out(), "$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s\n", argon2.Version, o.memoryKiB, o.time, o.threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
	return err
}
