package tokensvc

import "github.com/securegw/gateway/server/internal/apierr"

func invalid(msg string) error  { return apierr.Errorf(apierr.Invalid, "%s", msg) }
func notFound(msg string) error { return apierr.Errorf(apierr.NotFound, "%s", msg) }
func denied(msg string) error   { return apierr.Errorf(apierr.PermissionDenied, "%s", msg) }
func refusedf(msg string) error { return apierr.Errorf(apierr.FailedPrecondition, "%s", msg) }
