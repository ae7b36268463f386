package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
	"github.com/securegw/gateway/server/internal/apierr"
	"github.com/securegw/gateway/store"
)

func TestToStatusMapsErrorsInOnePlace(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	cases := []struct {
		err  error
		code codes.Code
		msg  string
	}{
		{fmt.Errorf("reading topology %q: %w", "x", store.ErrNotFound), codes.NotFound, `reading topology "x": not found`},
		{fmt.Errorf("cas: %w", store.ErrRevisionMismatch), codes.FailedPrecondition, "cas"},
		{fmt.Errorf("x: %w", store.ErrAlreadyExists), codes.AlreadyExists, "x"},
		{fmt.Errorf("open: %w", store.ErrLocked), codes.Unavailable, "locked"},
		{fmt.Errorf("closing: %w", store.ErrClosed), codes.Unavailable, "closed"},
		{invalid(errors.New("services[0].urls[0]: no host")), codes.InvalidArgument, "services[0].urls[0]"},
		{context.DeadlineExceeded, codes.DeadlineExceeded, ""},
		{context.Canceled, codes.Canceled, ""},
		{status.Error(codes.PermissionDenied, "kept"), codes.PermissionDenied, "kept"},
		{apierr.Errorf(apierr.FailedPrecondition, "in use by %v", []string{"web"}), codes.FailedPrecondition, "in use by [web]"},
		{fmt.Errorf("deleting: %w", apierr.Errorf(apierr.NotFound, "no alias %q", "a")), codes.NotFound, `deleting: no alias "a"`},
		{apierr.Errorf(apierr.Unavailable, "try again"), codes.Unavailable, "try again"},
		{apierr.Errorf(apierr.PermissionDenied, "no"), codes.PermissionDenied, "no"},
		{apierr.Errorf(apierr.Unauthenticated, "who"), codes.Unauthenticated, "who"},
		{apierr.Errorf(apierr.Aborted, "restart"), codes.Aborted, "restart"},
		{apierr.Errorf(apierr.DataLoss, "tampered"), codes.DataLoss, "tampered"},
		{apierr.Errorf(apierr.Incomplete, "stored, but: reload failed"), codes.Internal, "stored, but: reload failed"},
		// Internal errors never reach the caller with their detail.
		{errors.New("disk full at /secret/path"), codes.Internal, "internal error"},
	}
	for _, tc := range cases {
		t.Run(tc.err.Error(), func(t *testing.T) {
			if c := Code(tc.err); c != tc.code {
				t.Errorf("Code = %v, want %v", c, tc.code)
			}
			got := status.Convert(toStatus(context.Background(), log, "/m", tc.err))
			if got.Code() != tc.code || !strings.Contains(got.Message(), tc.msg) {
				t.Fatalf("got %v %q, want %v containing %q", got.Code(), got.Message(), tc.code, tc.msg)
			}
			if tc.code == codes.Internal && strings.Contains(got.Message(), "/secret/path") {
				t.Fatal("internal detail leaked to the caller")
			}
		})
	}
	if toStatus(context.Background(), log, "/m", nil) != nil {
		t.Fatal("nil error mapped to a status")
	}
}

// allMethods lists every RPC of the API from the generated descriptors.
func allMethods() []string {
	var out []string
	for _, sd := range []grpc.ServiceDesc{
		gatewayv1.TopologyService_ServiceDesc, gatewayv1.StatusService_ServiceDesc, gatewayv1.AuditService_ServiceDesc,
		gatewayv1.AliasService_ServiceDesc, gatewayv1.PKIService_ServiceDesc, gatewayv1.TokenService_ServiceDesc,
		gatewayv1.TokenPolicyService_ServiceDesc, gatewayv1.GroupService_ServiceDesc,
	} {
		for _, m := range sd.Methods {
			out = append(out, "/"+sd.ServiceName+"/"+m.MethodName)
		}
	}
	return out
}

func TestPermissions(t *testing.T) {
	methods := allMethods()
	if len(methods) < 30 {
		t.Fatalf("only %d methods found", len(methods))
	}
	for _, m := range methods {
		if !Allowed(m, []string{RoleAdmin}) {
			t.Errorf("admin may not call %s", m)
		}
		if Allowed(m, nil) || Allowed(m, []string{"root"}) {
			t.Errorf("%s allowed without a known role", m)
		}
		if mutating[m] && Allowed(m, []string{RoleViewer}) {
			t.Errorf("viewer may call mutating %s", m)
		}
	}
	// Secrets are admin-only: no other role may create, reveal or rotate them.
	for _, m := range []string{
		gatewayv1.AliasService_CreateAlias_FullMethodName, gatewayv1.AliasService_RevealAlias_FullMethodName,
		gatewayv1.AliasService_RotateMaster_FullMethodName, gatewayv1.PKIService_CreateCertificate_FullMethodName,
	} {
		for _, r := range []string{RoleOperator, RoleViewer, RoleTokenBroker} {
			if Allowed(m, []string{r}) {
				t.Errorf("%s may call %s", r, m)
			}
		}
	}
	if !Allowed(gatewayv1.TopologyService_Deploy_FullMethodName, []string{RoleOperator}) ||
		!Allowed(gatewayv1.TokenService_IssueToken_FullMethodName, []string{RoleTokenBroker}) ||
		Allowed(gatewayv1.TopologyService_Deploy_FullMethodName, []string{RoleTokenBroker}) {
		t.Error("role table does not match the README")
	}
	// Every method named like a change is audited.
	for _, m := range methods {
		name := m[strings.LastIndex(m, "/")+1:]
		for _, verb := range []string{"Create", "Delete", "Put", "Issue", "Revoke", "Renew", "Rotate", "Reencrypt", "Add", "Remove", "Deploy", "Rollback", "Reveal"} {
			if strings.HasPrefix(name, verb) && !mutating[m] {
				t.Errorf("%s changes state but is not audited (add it to mutating)", m)
			}
		}
	}
	// Every mutating method is a real method.
	known := map[string]bool{}
	for _, m := range methods {
		known[m] = true
	}
	for m := range mutating {
		if !known[m] {
			t.Errorf("mutating lists unknown method %s", m)
		}
	}
	for m := range permissions {
		if !known[m] {
			t.Errorf("permissions lists unknown method %s", m)
		}
	}
}

func TestAuditTargetNeverHoldsValues(t *testing.T) {
	cases := []struct {
		req  any
		want string
	}{
		{&gatewayv1.DeleteRequest{Name: "sandbox"}, "topology/sandbox"},
		{&gatewayv1.CreateAliasRequest{Name: "pw", Value: []byte("hunter2")}, "alias/gateway/pw"},
		{&gatewayv1.CreateAliasRequest{Name: "pw", Topology: "t", Value: []byte("hunter2")}, "alias/t/pw"},
		{&gatewayv1.RotateMasterRequest{CurrentSecret: []byte("old-secret"), NewSecret: []byte("new-secret")}, ""},
		{&gatewayv1.RevokeTokenRequest{Id: "tok-1"}, "token/tok-1"},
		{&gatewayv1.AddTrustedCertificatesRequest{Truststore: "backends"}, "truststore/backends"},
	}
	for _, tc := range cases {
		got := targetOf(tc.req)
		if got != tc.want {
			t.Errorf("targetOf(%T) = %q, want %q", tc.req, got, tc.want)
		}
		for _, secret := range []string{"hunter2", "old-secret", "new-secret"} {
			if strings.Contains(got, secret) {
				t.Errorf("target %q holds a value", got)
			}
		}
	}
}
