package cli

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"os"
)

// maxSecretSize bounds a secret read from stdin or a file.
const maxSecretSize = 64 << 10

var (
	errNotTerminal = errors.New("not a terminal")
	errEmptySecret = errors.New("refusing an empty value")
)

// stdinIsTerminal reports whether stdin is an interactive terminal.
func (f *factory) stdinIsTerminal() bool { return f.term.IsTerminal(f.streams.In) }

// readSecret reads a secret for what (e.g. `alias "ldap"`): all of stdin
// when it is piped, else a no-echo prompt on the terminal, asked twice when
// confirm is set. One trailing newline is dropped; an empty value is refused.
// The caller should clear the returned slice when done.
func (f *factory) readSecret(what string, confirm bool) ([]byte, error) {
	if !f.stdinIsTerminal() {
		b, err := readLimited(f.streams.In, "stdin")
		if err != nil {
			return nil, err
		}
		return nonEmpty(trimNewline(b))
	}
	fmt.Fprintf(f.errOut(), "Enter %s: ", what)
	first, err := f.term.ReadPassword(f.streams.In)
	fmt.Fprintln(f.errOut())
	if err != nil {
		return nil, fmt.Errorf("reading %s from the terminal: %w", what, err)
	}
	if len(first) == 0 {
		return nil, errEmptySecret
	}
	if !confirm {
		return first, nil
	}
	fmt.Fprintf(f.errOut(), "Confirm %s: ", what)
	second, err := f.term.ReadPassword(f.streams.In)
	fmt.Fprintln(f.errOut())
	defer clear(second)
	if err != nil {
		clear(first)
		return nil, fmt.Errorf("reading %s from the terminal: %w", what, err)
	}
	if subtle.ConstantTimeCompare(first, second) != 1 {
		clear(first)
		return nil, errors.New("the two entries differ")
	}
	return first, nil
}

// readSecretFile reads a secret from a file, or stdin for "-", dropping one
// trailing newline.
func (f *factory) readSecretFile(path string) ([]byte, error) {
	if path == "-" {
		b, err := readLimited(f.streams.In, "stdin")
		if err != nil {
			return nil, err
		}
		return nonEmpty(trimNewline(b))
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading secret: %w", err)
	}
	defer fh.Close()
	b, err := readLimited(fh, path)
	if err != nil {
		return nil, err
	}
	b, err = nonEmpty(trimNewline(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// readFileExact reads a file's bytes as they are, for binary secrets
// (keytabs): nothing is trimmed; an empty file is refused.
func readFileExact(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading secret: %w", err)
	}
	defer fh.Close()
	b, err := readLimited(fh, path)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("%s: %w", path, errEmptySecret)
	}
	return b, nil
}

func readLimited(r io.Reader, name string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxSecretSize+1))
	if err != nil {
		clear(b)
		return nil, fmt.Errorf("reading secret from %s: %w", name, err)
	}
	if len(b) > maxSecretSize {
		clear(b)
		return nil, fmt.Errorf("secret from %s is larger than %d bytes", name, maxSecretSize)
	}
	return b, nil
}

// trimNewline drops one trailing "\n" or "\r\n", as left by echo or an editor.
func trimNewline(b []byte) []byte {
	if bytes.HasSuffix(b, []byte("\r\n")) {
		return b[:len(b)-2]
	}
	return bytes.TrimSuffix(b, []byte("\n"))
}

func nonEmpty(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, errEmptySecret
	}
	return b, nil
}
