package cli

import (
	"io"
	"os"
	"time"

	"golang.org/x/term"
)

// factory holds what all commands share: the IO streams, the global flags
// and access to the terminal and to gatewayd.
type factory struct {
	streams IOStreams
	getenv  func(string) string

	// Global flags.
	configPath string
	server     string
	output     string
	timeout    time.Duration

	// term is the terminal used for secret prompts; tests replace it.
	term terminal
}

func newFactory(streams IOStreams, getenv func(string) string) *factory {
	if getenv == nil {
		getenv = os.Getenv
	}
	return &factory{streams: streams, getenv: getenv, term: osTerminal{}}
}

// terminal abstracts the few terminal operations gatewayctl needs.
type terminal interface {
	// IsTerminal reports whether the stream is an interactive terminal.
	IsTerminal(stream any) bool
	// ReadPassword reads a line from the terminal stream without echo.
	ReadPassword(stream any) ([]byte, error)
}

type osTerminal struct{}

type fder interface{ Fd() uintptr }

func (osTerminal) IsTerminal(stream any) bool {
	f, ok := stream.(fder)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (osTerminal) ReadPassword(stream any) ([]byte, error) {
	f, ok := stream.(fder)
	if !ok {
		return nil, errNotTerminal
	}
	return term.ReadPassword(int(f.Fd()))
}

// out and errOut are shorthands for the streams.
func (f *factory) out() io.Writer    { return f.streams.Out }
func (f *factory) errOut() io.Writer { return f.streams.ErrOut }
