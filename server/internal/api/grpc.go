package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	"github.com/securegw/gateway/server/internal/apierr"
)

// The gRPC side of authorization: it only finds the Caller of a call from
// its TLS peer; Authorizer.Run does the rest, as for any transport.

// callerOf finds the caller of a gRPC call from its verified client
// certificate.
func (a *Authorizer) callerOf(ctx context.Context) (Caller, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return Caller{}, apierr.Errorf(apierr.Unauthenticated, "no peer information")
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.VerifiedChains) == 0 || len(ti.State.VerifiedChains[0]) == 0 {
		return Caller{Peer: p.Addr.String()},
			apierr.Errorf(apierr.Unauthenticated, "a client certificate signed by the gateway's admin CA is required")
	}
	leaf := ti.State.VerifiedChains[0][0]
	return a.Caller(leaf.Subject.CommonName, p.Addr.String(), AuthClientCert), nil
}

// UnaryInterceptor authorizes, runs and audits unary calls, and maps their
// errors to gRPC statuses.
func (a *Authorizer) UnaryInterceptor(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		c, err := a.callerOf(ctx)
		if err != nil {
			a.audit.Record(ctx, c, info.FullMethod, req, "", err)
			return nil, toStatus(ctx, log, info.FullMethod, err)
		}
		resp, err := a.Run(ctx, c, info.FullMethod, req, func(ctx context.Context) (any, error) {
			return handler(ctx, req)
		})
		return resp, toStatus(ctx, log, info.FullMethod, err)
	}
}

// StreamInterceptor authorizes streaming calls (health watch, reflection).
func (a *Authorizer) StreamInterceptor(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx := ss.Context()
		c, err := a.callerOf(ctx)
		if err == nil {
			err = a.Authorize(ctx, c, info.FullMethod)
		}
		if err != nil {
			a.audit.Record(ctx, c, info.FullMethod, nil, "", err)
			return toStatus(ctx, log, info.FullMethod, err)
		}
		return toStatus(ctx, log, info.FullMethod, handler(srv, ss))
	}
}

// errPanic is what a caller learns of a handler that panicked: an internal
// error, with nothing of the panic.
var errPanic = errors.New("management handler panicked")

// recovered turns a panic of the current goroutine into errPanic, logged
// with its value and stack, so that one bad handler fails one call and the
// gateway keeps serving.
func recovered(ctx context.Context, log *slog.Logger, method string, err *error) {
	if p := recover(); p != nil {
		log.ErrorContext(ctx, "management handler panicked", "method", method,
			"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		*err = errPanic
	}
}

// recoverUnary and recoverStream run innermost, around the handler: a
// panic becomes an internal error that the authorization interceptor
// audits and maps like any other.
func recoverUnary(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer recovered(ctx, log, info.FullMethod, &err)
		return handler(ctx, req)
	}
}

func recoverStream(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		defer recovered(ss.Context(), log, info.FullMethod, &err)
		return handler(srv, ss)
	}
}
