package api

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/securegw/gateway/store"
)

// codedError carries the gRPC code chosen where the error was made, for
// errors whose kind the store's sentinels do not tell (bad input, refusals).
type codedError struct {
	code codes.Code
	err  error
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }

// invalid marks err as the caller's bad input.
func invalid(err error) error { return &codedError{codes.InvalidArgument, err} }

// toStatus maps an error to a gRPC status: the one place where this happens.
// Internal errors are logged with their detail and returned without it, so
// that nothing private reaches the caller.
func toStatus(ctx context.Context, log *slog.Logger, method string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	var ce *codedError
	switch {
	case errors.As(err, &ce):
		return status.Error(ce.code, err.Error())
	case errors.Is(err, store.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, store.ErrRevisionMismatch):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, store.ErrAlreadyExists):
		return status.Error(codes.AlreadyExists, err.Error())
	case errors.Is(err, store.ErrLocked), errors.Is(err, store.ErrClosed):
		return status.Error(codes.Unavailable, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	log.ErrorContext(ctx, "management call failed", "method", method, "err", err)
	return status.Error(codes.Internal, "internal error; see the gateway log")
}
