package daemon

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/securegw/gateway/internal/pki"
	"github.com/securegw/gateway/internal/secrets"
)

// SecretSource says where the master secret comes from, first match wins:
// a file, the GATEWAY_MASTER_SECRET environment variable, a no-echo prompt
// on the terminal.
type SecretSource struct {
	File   string
	Env    string // the variable's value, read by the caller
	Prompt bool   // stdin is a terminal
	In     *os.File
	Out    io.Writer
}

const maxSecret = 4096

// EnvMasterSecret is the environment variable holding the master secret.
const EnvMasterSecret = "GATEWAY_MASTER_SECRET"

var errNoSecret = errors.New("no master secret: give --master-secret-file, set " + EnvMasterSecret + ", or run on a terminal to be prompted")

func (s SecretSource) read(confirm bool) ([]byte, error) {
	switch {
	case s.File != "":
		f, err := os.Open(s.File)
		if err != nil {
			return nil, fmt.Errorf("reading master secret file: %w", err)
		}
		defer f.Close()
		b, err := secrets.ReadSecret(f, maxSecret)
		if err != nil {
			return nil, fmt.Errorf("master secret file %s: %w", s.File, err)
		}
		return b, nil
	case s.Env != "":
		if len(s.Env) > maxSecret {
			return nil, fmt.Errorf("%s is longer than %d bytes", EnvMasterSecret, maxSecret)
		}
		return []byte(s.Env), nil
	case s.Prompt && s.In != nil:
		fmt.Fprint(s.Out, "Master secret: ")
		b, err := term.ReadPassword(int(s.In.Fd()))
		fmt.Fprintln(s.Out)
		if err != nil {
			return nil, fmt.Errorf("reading master secret: %w", err)
		}
		if len(b) == 0 {
			return nil, errors.New("the master secret may not be empty")
		}
		if confirm {
			fmt.Fprint(s.Out, "Again: ")
			again, err := term.ReadPassword(int(s.In.Fd()))
			fmt.Fprintln(s.Out)
			if err != nil {
				return nil, fmt.Errorf("reading master secret: %w", err)
			}
			if string(again) != string(b) {
				return nil, errors.New("the two master secrets differ")
			}
		}
		return b, nil
	}
	return nil, errNoSecret
}

// generateSecretFile writes a new random master secret to path (which must
// not exist), 0600, and returns it.
func generateSecretFile(path string) ([]byte, error) {
	if _, err := os.Stat(path); err == nil {
		return nil, fmt.Errorf("%s exists; refusing to overwrite a master secret", path)
	}
	// 256 bits of randomness in printable form, so the file is text.
	b := []byte(rand.Text() + rand.Text())
	if err := pki.WriteFileAtomic(path, append(b, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("writing master secret file: %w", err)
	}
	return b, nil
}
