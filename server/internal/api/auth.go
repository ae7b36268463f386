package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/securegw/gateway/internal/pki"
	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
	"github.com/securegw/gateway/server/internal/apierr"
	"github.com/securegw/gateway/store"
)

// Caller is who makes a management call, whatever the transport: the gRPC
// server makes one from the TLS peer (grpc.go); a REST endpoint or web
// console would make one from its own authentication and go through the
// same Authorize and Auditor.
type Caller struct {
	Principal string
	Roles     []string
	// Peer is the network address of the caller.
	Peer string
	// Via says how the principal was authenticated (AuthClientCert).
	Via string
}

// AuthClientCert: the principal is the common name of a client certificate
// verified against the admin CA.
const AuthClientCert = "client-certificate"

type callerKey struct{}

// auditNote lets a handler name the target of a call once it knows it (a
// deploy learns its topology's name only from the document).
type auditNote struct {
	target string
	// pending is the record the call will have when it succeeds, for a
	// service that writes it in the commit of its change (PendingAudit);
	// written and seq once it did.
	pending store.AuditRecord
	written bool
	seq     int64
}

type auditNoteKey struct{}

// noteTarget records what the current call is about, for its audit record.
func noteTarget(ctx context.Context, target string) {
	if n, ok := ctx.Value(auditNoteKey{}).(*auditNote); ok {
		n.target = target
	}
}

// NoteTarget records what the current call is about (a token's id, a
// key's kid), for its audit record, when the service learns it.
func NoteTarget(ctx context.Context, target string) { noteTarget(ctx, target) }

// PendingAudit returns the audit record the current management call will
// have when it succeeds, naming target, for a service that writes it in the
// same commit as the call's change (one fsync for both: token issuance).
// The service calls written with the record's sequence once that commit is
// durable; a call that then succeeds writes no second record (it is still
// logged). ok is false outside an audited call.
func PendingAudit(ctx context.Context, target string) (rec store.AuditRecord, written func(seq int64), ok bool) {
	n, ok := ctx.Value(auditNoteKey{}).(*auditNote)
	if !ok || n.pending.Method == "" {
		return store.AuditRecord{}, nil, false
	}
	rec = n.pending
	rec.Target = target
	return rec, func(seq int64) { n.target, n.written, n.seq = target, true, seq }, true
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
	gatewayv1.TokenService_VerifyToken_FullMethodName: {RoleTokenBroker, RoleOperator},

	gatewayv1.TokenService_SetTokenEnabled_FullMethodName: {RoleTokenBroker},
	gatewayv1.TokenService_ListSigningKeys_FullMethodName: {RoleOperator, RoleViewer, RoleTokenBroker},

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
	gatewayv1.TokenService_SetTokenEnabled_FullMethodName:         true,
	gatewayv1.TokenService_RotateSigningKey_FullMethodName:        true,
	gatewayv1.TokenPolicyService_PutTokenPolicy_FullMethodName:    true,
	gatewayv1.TokenPolicyService_DeleteTokenPolicy_FullMethodName: true,
}

// open lists methods any holder of a valid client certificate may call:
// health checks and reflection, so that grpcurl works.
func open(method string) bool {
	return strings.HasPrefix(method, "/grpc.health.v1.Health/") ||
		strings.HasPrefix(method, "/grpc.reflection.")
}

// Authorizer holds the principal → roles table and decides whether a
// caller may call a method.
type Authorizer struct {
	principals map[string][]string
	audit      *Auditor
}

// NewAuthorizer returns an authorizer over a principal → roles map.
func NewAuthorizer(principals map[string][]string, audit *Auditor) *Authorizer {
	return &Authorizer{principals: principals, audit: audit}
}

// Caller returns the caller for an authenticated principal, with its roles
// from the table (none for an unknown principal).
func (a *Authorizer) Caller(principal, peer, via string) Caller {
	return Caller{Principal: principal, Roles: a.principals[principal], Peer: peer, Via: via}
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

// Authorize decides whether c may call method, a full gRPC method name
// (another transport names the gRPC method its endpoint stands for). It
// returns nil or an apierr.PermissionDenied error that says why.
func (a *Authorizer) Authorize(_ context.Context, c Caller, method string) error {
	if open(method) {
		return nil
	}
	if len(c.Roles) == 0 {
		return apierr.Errorf(apierr.PermissionDenied, "principal %q has no role on this gateway", c.Principal)
	}
	if !Allowed(method, c.Roles) {
		return apierr.Errorf(apierr.PermissionDenied, "principal %q (roles %s) may not call %s", c.Principal, strings.Join(c.Roles, ","), shortMethod(method))
	}
	return nil
}

// Run is a management call as every transport makes it: it authorizes c's
// call of method, runs it with c in its context (CallerFrom), and audits it
// when it is refused or changes state (or reveals a secret; a dry run is
// not audited). It returns run's error as is, for the transport to map.
func (a *Authorizer) Run(ctx context.Context, c Caller, method string, req any, run func(context.Context) (any, error)) (any, error) {
	ctx = context.WithValue(ctx, callerKey{}, c)
	if err := a.Authorize(ctx, c, method); err != nil {
		a.audit.Record(ctx, c, method, req, "", err)
		return nil, err
	}
	note := &auditNote{}
	audited := mutating[method] && !isDryRun(req)
	if audited {
		note.pending = a.audit.record(c, method, req, "", nil)
	}
	resp, err := run(context.WithValue(ctx, auditNoteKey{}, note))
	switch {
	case audited && note.written:
		// The record went into the change's own commit: the change is
		// stored, whatever happened after it (waiting for it to be live).
		r := note.pending
		r.Target = note.target
		a.audit.logRecord(ctx, note.seq, r)
		if err != nil {
			a.audit.log.WarnContext(ctx, "a change stored with its audit record failed afterwards", "method", shortMethod(method), "seq", note.seq, "err", err)
		}
	case audited:
		a.audit.Record(ctx, c, method, req, note.target, err)
	}
	return resp, err
}

func shortMethod(m string) string {
	if i := strings.LastIndex(m, "."); i >= 0 {
		return m[i+1:]
	}
	return m
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

// Record writes one audit record for a call of method that ended with err
// (as the service returned it: the outcome and detail are what the caller
// is told). target names what the call was about; empty, it is read from
// req.
func (a *Auditor) Record(ctx context.Context, c Caller, method string, req any, target string, err error) {
	r := a.record(c, method, req, target, err)
	// The audit write must not be lost because the caller went away.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	seq, werr := a.store.AppendAudit(wctx, r)
	a.logRecord(ctx, seq, r)
	if werr != nil && !errors.Is(werr, store.ErrClosed) {
		a.log.ErrorContext(ctx, "writing audit record", "err", werr)
	}
}

// record is the audit record of a call of method that ended with err.
func (a *Auditor) record(c Caller, method string, req any, target string, err error) store.AuditRecord {
	if target == "" {
		target = targetOf(req)
	}
	outcome, detail := "ok", ""
	if err != nil {
		code, msg, _ := classify(err)
		outcome = code.String()
		if code == codes.PermissionDenied || code == codes.Unauthenticated {
			outcome = "denied"
		}
		detail = msg
	}
	return store.AuditRecord{
		Time:      a.now().UTC(),
		Principal: c.Principal,
		Method:    method,
		Target:    target,
		Outcome:   outcome,
		Detail:    truncate(detail, 512),
		Peer:      c.Peer,
	}
}

// logRecord logs an audit record written with sequence seq.
func (a *Auditor) logRecord(ctx context.Context, seq int64, r store.AuditRecord) {
	a.log.LogAttrs(ctx, slog.LevelInfo, "audit",
		slog.Int64("seq", seq), slog.String("principal", r.Principal), slog.String("method", r.Method),
		slog.String("target", r.Target), slog.String("outcome", r.Outcome), slog.String("peer", r.Peer))
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
	case *gatewayv1.SetTokenEnabledRequest:
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
