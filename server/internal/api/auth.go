package api

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/securegw/gateway/internal/pki"
	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
	"github.com/securegw/gateway/store"
)

// Caller is the authenticated principal of a management call.
type Caller struct {
	Principal string
	Roles     []string
	Peer      string
}

type callerKey struct{}

// auditNote lets a handler name the target of a call once it knows it (a
// deploy learns its topology's name only from the document).
type auditNote struct{ target string }

type auditNoteKey struct{}

// noteTarget records what the current call is about, for its audit record.
func noteTarget(ctx context.Context, target string) {
	if n, ok := ctx.Value(auditNoteKey{}).(*auditNote); ok {
		n.target = target
	}
}

// CallerFrom returns the caller that the authorization interceptor put in ctx.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// Role names.
const (
	RoleAdmin       = "admin"
	RoleOperator    = "operator"
	RoleTokenBroker = "token-broker"
	RoleViewer      = "viewer"
)

// permissions lists, per full method name, the roles allowed besides admin,
// which may call everything. A method missing here is admin-only.
var permissions = map[string][]string{
	gatewayv1.TopologyService_Deploy_FullMethodName:   {RoleOperator},
	gatewayv1.TopologyService_Delete_FullMethodName:   {RoleOperator},
	gatewayv1.TopologyService_Rollback_FullMethodName: {RoleOperator},
	gatewayv1.TopologyService_Validate_FullMethodName: {RoleOperator, RoleViewer},
	gatewayv1.TopologyService_Get_FullMethodName:      {RoleOperator, RoleViewer},
	gatewayv1.TopologyService_List_FullMethodName:     {RoleOperator, RoleViewer},
	gatewayv1.TopologyService_History_FullMethodName:  {RoleOperator, RoleViewer},

	gatewayv1.StatusService_GetStatus_FullMethodName: {RoleOperator, RoleViewer, RoleTokenBroker},
	gatewayv1.StatusService_WhoAmI_FullMethodName:    {RoleOperator, RoleViewer, RoleTokenBroker},
	gatewayv1.AuditService_ListAudit_FullMethodName:  {RoleOperator},
	gatewayv1.GroupService_Lookup_FullMethodName:     {RoleOperator},

	gatewayv1.AliasService_ListAliases_FullMethodName: {RoleOperator},

	gatewayv1.PKIService_ExportCertificate_FullMethodName: {RoleOperator, RoleViewer},
	gatewayv1.PKIService_ListTruststores_FullMethodName:   {RoleOperator, RoleViewer},

	gatewayv1.TokenService_IssueToken_FullMethodName:  {RoleTokenBroker},
	gatewayv1.TokenService_RenewToken_FullMethodName:  {RoleTokenBroker},
	gatewayv1.TokenService_RevokeToken_FullMethodName: {RoleTokenBroker},
	gatewayv1.TokenService_ListTokens_FullMethodName:  {RoleTokenBroker, RoleOperator},

	gatewayv1.TokenPolicyService_GetTokenPolicy_FullMethodName:    {RoleOperator, RoleViewer, RoleTokenBroker},
	gatewayv1.TokenPolicyService_ListTokenPolicies_FullMethodName: {RoleOperator, RoleViewer, RoleTokenBroker},
}

// mutating lists the methods that change state (or reveal a secret): each
// call is audited whatever its outcome.
var mutating = map[string]bool{
	gatewayv1.TopologyService_Deploy_FullMethodName:               true,
	gatewayv1.TopologyService_Delete_FullMethodName:               true,
	gatewayv1.TopologyService_Rollback_FullMethodName:             true,
	gatewayv1.AliasService_CreateAlias_FullMethodName:             true,
	gatewayv1.AliasService_DeleteAlias_FullMethodName:             true,
	gatewayv1.AliasService_RevealAlias_FullMethodName:             true,
	gatewayv1.AliasService_ReencryptAliases_FullMethodName:        true,
	gatewayv1.AliasService_RotateMaster_FullMethodName:            true,
	gatewayv1.PKIService_CreateCertificate_FullMethodName:         true,
	gatewayv1.PKIService_IssueClientCertificate_FullMethodName:    true,
	gatewayv1.PKIService_AddTrustedCertificates_FullMethodName:    true,
	gatewayv1.PKIService_RemoveTrustedCertificate_FullMethodName:  true,
	gatewayv1.TokenService_IssueToken_FullMethodName:              true,
	gatewayv1.TokenService_RenewToken_FullMethodName:              true,
	gatewayv1.TokenService_RevokeToken_FullMethodName:             true,
	gatewayv1.TokenPolicyService_PutTokenPolicy_FullMethodName:    true,
	gatewayv1.TokenPolicyService_DeleteTokenPolicy_FullMethodName: true,
}

// open lists methods any holder of a valid client certificate may call:
// health checks and reflection, so that grpcurl works.
func open(method string) bool {
	return strings.HasPrefix(method, "/grpc.health.v1.Health/") ||
		strings.HasPrefix(method, "/grpc.reflection.")
}

// Authorizer maps verified client certificates to principals and roles and
// decides whether a call is allowed.
type Authorizer struct {
	principals map[string][]string
	audit      *Auditor
}

// NewAuthorizer returns an authorizer over a principal → roles map.
func NewAuthorizer(principals map[string][]string, audit *Auditor) *Authorizer {
	return &Authorizer{principals: principals, audit: audit}
}

// Allowed reports whether roles may call method.
func Allowed(method string, roles []string) bool {
	if slices.Contains(roles, RoleAdmin) {
		return true
	}
	for _, r := range permissions[method] {
		if slices.Contains(roles, r) {
			return true
		}
	}
	return false
}

// authenticate finds the caller of ctx from its verified client certificate.
func (a *Authorizer) authenticate(ctx context.Context) (Caller, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return Caller{}, status.Error(codes.Unauthenticated, "no peer information")
	}
	c := Caller{Peer: p.Addr.String()}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.VerifiedChains) == 0 || len(ti.State.VerifiedChains[0]) == 0 {
		return c, status.Error(codes.Unauthenticated, "a client certificate signed by the gateway's admin CA is required")
	}
	leaf := ti.State.VerifiedChains[0][0]
	c.Principal = principalOf(leaf)
	c.Roles = a.principals[c.Principal]
	return c, nil
}

func principalOf(cert *x509.Certificate) string { return cert.Subject.CommonName }

func (a *Authorizer) authorize(ctx context.Context, method string) (context.Context, Caller, error) {
	c, err := a.authenticate(ctx)
	if err != nil {
		return ctx, c, err
	}
	ctx = context.WithValue(ctx, callerKey{}, c)
	if open(method) {
		return ctx, c, nil
	}
	if len(c.Roles) == 0 {
		return ctx, c, status.Errorf(codes.PermissionDenied, "principal %q has no role on this gateway", c.Principal)
	}
	if !Allowed(method, c.Roles) {
		return ctx, c, status.Errorf(codes.PermissionDenied, "principal %q (roles %s) may not call %s", c.Principal, strings.Join(c.Roles, ","), shortMethod(method))
	}
	return ctx, c, nil
}

func shortMethod(m string) string {
	if i := strings.LastIndex(m, "."); i >= 0 {
		return m[i+1:]
	}
	return m
}

// UnaryInterceptor authorizes, runs and audits unary calls. Errors returned
// by handlers are mapped to gRPC codes here.
func (a *Authorizer) UnaryInterceptor(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, caller, err := a.authorize(ctx, info.FullMethod)
		if err != nil {
			a.audit.Record(ctx, caller, info.FullMethod, req, err)
			return nil, err
		}
		note := &auditNote{}
		resp, err := handler(context.WithValue(ctx, auditNoteKey{}, note), req)
		err = toStatus(ctx, log, info.FullMethod, err)
		if mutating[info.FullMethod] && !isDryRun(req) {
			a.audit.record(ctx, caller, info.FullMethod, req, note.target, err)
		}
		return resp, err
	}
}

// StreamInterceptor authorizes streaming calls (health watch, reflection).
func (a *Authorizer) StreamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, caller, err := a.authorize(ss.Context(), info.FullMethod)
		if err != nil {
			a.audit.Record(ctx, caller, info.FullMethod, nil, err)
			return err
		}
		return handler(srv, ss)
	}
}

func isDryRun(req any) bool {
	d, ok := req.(interface{ GetDryRun() bool })
	return ok && d.GetDryRun()
}

// Auditor writes audit records to the store and to the log.
type Auditor struct {
	store store.Store
	log   *slog.Logger
	now   func() time.Time
}

// NewAuditor returns an auditor writing to s and log.
func NewAuditor(s store.Store, log *slog.Logger) *Auditor {
	return &Auditor{store: s, log: log, now: time.Now}
}

// Record writes one audit record for a call that ended with err.
func (a *Auditor) Record(ctx context.Context, c Caller, method string, req any, err error) {
	a.record(ctx, c, method, req, "", err)
}

func (a *Auditor) record(ctx context.Context, c Caller, method string, req any, target string, err error) {
	if target == "" {
		target = targetOf(req)
	}
	outcome, detail := "ok", ""
	if err != nil {
		st, _ := status.FromError(err)
		outcome = st.Code().String()
		if st.Code() == codes.PermissionDenied || st.Code() == codes.Unauthenticated {
			outcome = "denied"
		}
		detail = st.Message()
	}
	r := store.AuditRecord{
		Time:      a.now().UTC(),
		Principal: c.Principal,
		Method:    method,
		Target:    target,
		Outcome:   outcome,
		Detail:    truncate(detail, 512),
		Peer:      c.Peer,
	}
	// The audit write must not be lost because the caller went away.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	seq, werr := a.store.AppendAudit(wctx, r)
	a.log.LogAttrs(ctx, slog.LevelInfo, "audit",
		slog.Int64("seq", seq), slog.String("principal", r.Principal), slog.String("method", r.Method),
		slog.String("target", r.Target), slog.String("outcome", r.Outcome), slog.String("peer", r.Peer))
	if werr != nil && !errors.Is(werr, store.ErrClosed) {
		a.log.ErrorContext(ctx, "writing audit record", "err", werr)
	}
}

// targetOf names what a request is about, from fields every request
// message of the API spells the same way. It never reads values.
func targetOf(req any) string {
	if req == nil {
		return ""
	}
	topo := ""
	if t, ok := req.(interface{ GetTopology() string }); ok {
		topo = t.GetTopology()
	}
	name := ""
	if n, ok := req.(interface{ GetName() string }); ok {
		name = n.GetName()
	}
	switch r := req.(type) {
	case *gatewayv1.DeployRequest:
		if name == "" {
			name = r.GetSourceName()
		}
		return "topology/" + name
	case *gatewayv1.DeleteRequest, *gatewayv1.RollbackRequest:
		return "topology/" + name
	case *gatewayv1.CreateAliasRequest, *gatewayv1.DeleteAliasRequest, *gatewayv1.RevealAliasRequest:
		return fmt.Sprintf("alias/%s/%s", scopeName(topo), name)
	case *gatewayv1.IssueTokenRequest:
		return "token/" + r.GetOnBehalfOf()
	case *gatewayv1.RenewTokenRequest:
		return "token/" + r.GetId()
	case *gatewayv1.RevokeTokenRequest:
		return "token/" + r.GetId()
	case *gatewayv1.PutTokenPolicyRequest:
		return "token-policy/" + r.GetPolicy().GetName()
	case *gatewayv1.DeleteTokenPolicyRequest:
		return "token-policy/" + name
	case *gatewayv1.IssueClientCertificateRequest:
		if csr, err := pki.ParseCSR(r.GetCsrPem()); err == nil {
			return "client-certificate/" + csr.Subject.CommonName
		}
		return "client-certificate/"
	case *gatewayv1.AddTrustedCertificatesRequest:
		return "truststore/" + r.GetTruststore()
	case *gatewayv1.RemoveTrustedCertificateRequest:
		return "truststore/" + r.GetTruststore()
	}
	if name != "" {
		return name
	}
	return ""
}

func scopeName(topology string) string {
	if topology == "" {
		return "gateway"
	}
	return topology
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
