package api

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/securegw/gateway/server/internal/apierr"
	"github.com/securegw/gateway/store"
)

// invalid marks err as the caller's bad input.
func invalid(err error) error { return apierr.New(apierr.Invalid, err) }

// codes of the kinds of apierr.
var kindCodes = map[apierr.Kind]codes.Code{
	apierr.Invalid:            codes.InvalidArgument,
	apierr.NotFound:           codes.NotFound,
	apierr.FailedPrecondition: codes.FailedPrecondition,
	apierr.Aborted:            codes.Aborted,
	apierr.Unavailable:        codes.Unavailable,
	apierr.PermissionDenied:   codes.PermissionDenied,
	apierr.Unauthenticated:    codes.Unauthenticated,
	apierr.DataLoss:           codes.DataLoss,
	apierr.Incomplete:         codes.Internal,
}

// internalMessage is all a caller learns of an internal error.
const internalMessage = "internal error; see the gateway log"

// unavailableMessage is what a caller learns when the shared store (etcd)
// does not answer.
const unavailableMessage = "the configuration store (etcd) is unavailable (no quorum, or etcd unreachable): " +
	"this gateway keeps serving its last routing table but refuses changes until the store is back; retry later"

// classify returns the gRPC code of err and the message the caller may
// see. internal reports an unexpected error, whose detail stays in the log.
func classify(err error) (code codes.Code, msg string, internal bool) {
	if st, ok := status.FromError(err); ok {
		return st.Code(), st.Message(), false // made by gRPC itself
	}
	if c, ok := kindCodes[apierr.KindOf(err)]; ok {
		return c, err.Error(), false
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return codes.NotFound, err.Error(), false
	case errors.Is(err, store.ErrRevisionMismatch):
		return codes.FailedPrecondition, err.Error(), false
	case errors.Is(err, store.ErrAlreadyExists):
		return codes.AlreadyExists, err.Error(), false
	case errors.Is(err, store.ErrUnavailable):
		// The detail (etcd endpoints, the client's error) stays in the log.
		return codes.Unavailable, unavailableMessage, true
	case errors.Is(err, store.ErrLocked), errors.Is(err, store.ErrClosed):
		return codes.Unavailable, err.Error(), false
	case errors.Is(err, context.Canceled):
		return codes.Canceled, err.Error(), false
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded, err.Error(), false
	}
	return codes.Internal, internalMessage, true
}

// toStatus maps an error to a gRPC status: the one place where this happens.
// Internal errors are logged with their detail and returned without it, so
// that nothing private reaches the caller.
func toStatus(ctx context.Context, log *slog.Logger, method string, err error) error {
	if err == nil {
		return nil
	}
	code, msg, internal := classify(err)
	if internal {
		log.ErrorContext(ctx, "management call failed", "method", method, "err", err)
	}
	return status.Error(code, msg)
}

// Code returns the gRPC code the management server answers for err (OK for
// nil), for tests of the services that run without a server.
func Code(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	code, _, _ := classify(err)
	return code
}
