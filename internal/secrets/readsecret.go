package secrets

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ReadSecret reads a secret of at most max bytes from r until EOF, without
// one trailing newline ("\n" or "\r\n"). An empty or longer secret is an
// error; the error never includes what was read.
func ReadSecret(r io.Reader, max int) ([]byte, error) {
	if max <= 0 {
		return nil, fmt.Errorf("reading secret: maximum length %d must be positive", max)
	}
	// Room for max bytes, "\r\n", and one byte more to detect oversize.
	buf := make([]byte, max+3)
	n, err := io.ReadFull(r, buf)
	switch {
	case err == nil:
		clear(buf)
		return nil, fmt.Errorf("secret is longer than %d bytes", max)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
	default:
		clear(buf)
		return nil, fmt.Errorf("reading secret: %w", err)
	}
	s := buf[:n]
	if bytes.HasSuffix(s, []byte("\n")) {
		s = bytes.TrimSuffix(s[:len(s)-1], []byte("\r"))
	}
	if len(s) == 0 {
		return nil, errors.New("secret is empty")
	}
	if len(s) > max {
		clear(buf)
		return nil, fmt.Errorf("secret is longer than %d bytes", max)
	}
	return s[:len(s):len(s)], nil
}
