package apierr

import (
	"errors"
	"fmt"
)

// Kind is the class of a management error.
type Kind int

// Kinds of errors. The zero Kind means "no kind": an internal error.
const (
	// Invalid: the request is wrong; the message says how to fix it.
	Invalid Kind = iota + 1
	// NotFound: what the request names does not exist.
	NotFound
	// FailedPrecondition: the current state refuses the request (in use,
	// another revision than expected).
	FailedPrecondition
	// Aborted: the request conflicts with a change made elsewhere; retry
	// after what the message says.
	Aborted
	// Unavailable: the gateway cannot do it now; try again.
	Unavailable
	// PermissionDenied: the caller may not do this.
	PermissionDenied
	// Unauthenticated: the caller did not prove who it is.
	Unauthenticated
	// DataLoss: a stored record does not authenticate.
	DataLoss
	// Incomplete: the change is stored, but a step after it failed; the
	// message, written for the caller, says what.
	Incomplete
)

var names = map[Kind]string{
	Invalid:            "invalid",
	NotFound:           "not found",
	FailedPrecondition: "failed precondition",
	Aborted:            "aborted",
	Unavailable:        "unavailable",
	PermissionDenied:   "permission denied",
	Unauthenticated:    "unauthenticated",
	DataLoss:           "data loss",
	Incomplete:         "incomplete",
}

func (k Kind) String() string {
	if n, ok := names[k]; ok {
		return n
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is an error of a Kind. Its message is shown to the caller.
type Error struct {
	Kind Kind
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// New gives err a kind; a nil err stays nil.
func New(kind Kind, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: kind, Err: err}
}

// Errorf formats an error of a kind, like fmt.Errorf (%w wraps).
func Errorf(kind Kind, format string, args ...any) error {
	return &Error{Kind: kind, Err: fmt.Errorf(format, args...)}
}

// KindOf returns the kind of the outermost Error in err's chain, or 0.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}
