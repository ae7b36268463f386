package cli

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/internal/topologypb"
	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

// fakeGateway is an in-memory fake of gatewayd's management API, just rich
// enough to exercise the CLI, served over real mTLS on 127.0.0.1:0. It
// records every request and can be told to fail or hang on a method.
type fakeGateway struct {
	addr      string
	serverPEM []byte

	mu         sync.Mutex
	requests   map[string][]proto.Message // by full method name
	failures   map[string]error
	hangs      map[string]bool
	revision   int64
	topologies map[string]*gatewayv1.TopologyInfo
	history    map[string][]*gatewayv1.HistoryEntry
	documents  map[string]map[int64]*gatewayv1.Topology // name → revision → topology
	aliases    map[string][]byte                        // scope "/" name → value
	policies   map[string]*gatewayv1.GetTokenPolicyResponse
	truststore map[string][]*gatewayv1.CertificateInfo
}

// fakeOptions choose what the fake serves.
type fakeOptions struct {
	// withoutAliases leaves AliasService unregistered, as an older server.
	withoutAliases bool
}

// baseTime is the fake's clock: revision r happened r minutes after it.
var baseTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func revisionTime(r int64) *timestamppb.Timestamp {
	return timestamppb.New(baseTime.Add(time.Duration(r) * time.Minute))
}

func startFake(t *testing.T, opts fakeOptions) *fakeGateway {
	t.Helper()
	pki := getPKI(t)
	g := &fakeGateway{
		serverPEM:  pki.server.CertPEM,
		requests:   map[string][]proto.Message{},
		failures:   map[string]error{},
		hangs:      map[string]bool{},
		topologies: map[string]*gatewayv1.TopologyInfo{},
		history:    map[string][]*gatewayv1.HistoryEntry{},
		documents:  map[string]map[int64]*gatewayv1.Topology{},
		aliases:    map[string][]byte{},
		policies:   map[string]*gatewayv1.GetTokenPolicyResponse{},
		truststore: map[string][]*gatewayv1.CertificateInfo{},
	}
	creds := credentials.NewTLS(&tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{pki.server.TLS},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pki.ca.Pool(),
	})
	srv := grpc.NewServer(grpc.Creds(creds), grpc.UnaryInterceptor(g.intercept))
	gatewayv1.RegisterTopologyServiceServer(srv, &fakeTopology{g: g})
	gatewayv1.RegisterStatusServiceServer(srv, &fakeStatus{g: g})
	gatewayv1.RegisterAuditServiceServer(srv, &fakeAudit{})
	if !opts.withoutAliases {
		gatewayv1.RegisterAliasServiceServer(srv, &fakeAlias{g: g})
	}
	gatewayv1.RegisterPKIServiceServer(srv, &fakePKI{g: g})
	gatewayv1.RegisterTokenServiceServer(srv, &fakeToken{})
	gatewayv1.RegisterTokenPolicyServiceServer(srv, &fakeTokenPolicy{g: g})
	gatewayv1.RegisterGroupServiceServer(srv, &fakeGroups{})

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g.addr = lis.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return g
}

// intercept records requests and applies injected failures and hangs.
func (g *fakeGateway) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	g.mu.Lock()
	g.requests[info.FullMethod] = append(g.requests[info.FullMethod], proto.Clone(req.(proto.Message)))
	err, hang := g.failures[info.FullMethod], g.hangs[info.FullMethod]
	g.mu.Unlock()
	if hang {
		<-ctx.Done()
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	if err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

// fail makes every call of method (e.g. "TopologyService/Get") fail with err.
func (g *fakeGateway) fail(method string, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.failures["/gateway.v1."+method] = err
}

// hang makes every call of method block until the client gives up.
func (g *fakeGateway) hang(method string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.hangs["/gateway.v1."+method] = true
}

// received returns the requests received for method, in order.
func (g *fakeGateway) received(method string) []proto.Message {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.requests["/gateway.v1."+method])
}

// callerName returns the common name of the client certificate.
func callerName(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return "?"
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.PeerCertificates) == 0 {
		return "?"
	}
	return ti.State.PeerCertificates[0].Subject.CommonName
}

// --- TopologyService ---

type fakeTopology struct {
	gatewayv1.UnimplementedTopologyServiceServer
	g *fakeGateway
}

// compile turns a document into the API topology with the compiler
// gatewayd uses.
func compile(doc []byte, format gatewayv1.Format, source, name string) (*gatewayv1.Topology, []string, error) {
	t, warnings, err := compileTopology(doc, format, source, name)
	if err != nil {
		return nil, nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return topologypb.ToProto(t), warnings, nil
}

func (s *fakeTopology) checkRevision(name string, expect *int64) error {
	if expect == nil {
		return nil
	}
	var current int64
	if info, ok := s.g.topologies[name]; ok {
		current = info.GetRevision()
	}
	if current != *expect {
		return status.Errorf(codes.FailedPrecondition, "topology %q is at revision %d, not %d", name, current, *expect)
	}
	return nil
}

// changes reports what goes from old (nil: none) to new.
func changes(old, new *gatewayv1.Topology) []*gatewayv1.ServiceChange {
	var o *topology.Topology
	if old != nil {
		var err error
		if o, err = topologypb.FromProto(old); err != nil {
			panic(err)
		}
	}
	n, err := topologypb.FromProto(new)
	if err != nil {
		panic(err)
	}
	return topologypb.ChangesToProto(topology.Diff(o, n))
}

// storeLocked stores t as a new revision.
func (s *fakeTopology) storeLocked(ctx context.Context, t *gatewayv1.Topology, action string) *gatewayv1.TopologyInfo {
	g := s.g
	g.revision++
	create := g.revision
	if old, ok := g.topologies[t.GetName()]; ok {
		create = old.GetCreateRevision()
	}
	info := &gatewayv1.TopologyInfo{
		Topology: t, Revision: g.revision, CreateRevision: create, UpdatedAt: revisionTime(g.revision),
		UpdatedBy: callerName(ctx), ServiceCount: int32(len(t.GetServices())),
	}
	g.topologies[t.GetName()] = info
	if g.documents[t.GetName()] == nil {
		g.documents[t.GetName()] = map[int64]*gatewayv1.Topology{}
	}
	g.documents[t.GetName()][g.revision] = t
	g.history[t.GetName()] = append([]*gatewayv1.HistoryEntry{{
		Revision: g.revision, UpdatedAt: info.UpdatedAt, UpdatedBy: info.UpdatedBy, Action: action, ServiceCount: info.ServiceCount,
	}}, g.history[t.GetName()]...)
	return info
}

func (s *fakeTopology) Deploy(ctx context.Context, req *gatewayv1.DeployRequest) (*gatewayv1.DeployResponse, error) {
	t, warnings, err := compile(req.GetDocument(), req.GetFormat(), req.GetSourceName(), req.GetName())
	if err != nil {
		return nil, err
	}
	s.g.mu.Lock()
	defer s.g.mu.Unlock()
	if err := s.checkRevision(t.GetName(), req.ExpectRevision); err != nil {
		return nil, err
	}
	current := s.g.topologies[t.GetName()]
	resp := &gatewayv1.DeployResponse{DryRun: req.GetDryRun(), Warnings: warnings, Changes: changes(current.GetTopology(), t)}
	resp.Changed = current == nil || !proto.Equal(current.GetTopology(), t)
	switch {
	case !resp.Changed:
		resp.Topology = current
	case req.GetDryRun():
		resp.Topology = &gatewayv1.TopologyInfo{Topology: t, Revision: current.GetRevision(), CreateRevision: current.GetCreateRevision(), ServiceCount: int32(len(t.GetServices()))}
	default:
		resp.Topology = s.storeLocked(ctx, t, "deploy")
	}
	return resp, nil
}

func (s *fakeTopology) Validate(_ context.Context, req *gatewayv1.ValidateRequest) (*gatewayv1.ValidateResponse, error) {
	t, warnings, err := compile(req.GetDocument(), req.GetFormat(), req.GetSourceName(), req.GetName())
	if err != nil {
		return nil, err
	}
	return &gatewayv1.ValidateResponse{Topology: t, Warnings: warnings}, nil
}

func (s *fakeTopology) Get(_ context.Context, req *gatewayv1.GetRequest) (*gatewayv1.GetResponse, error) {
	s.g.mu.Lock()
	defer s.g.mu.Unlock()
	info, ok := s.g.topologies[req.GetName()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "topology %q not found", req.GetName())
	}
	if r := req.GetRevision(); r != 0 && r != info.GetRevision() {
		t, ok := s.g.documents[req.GetName()][r]
		if !ok {
			return nil, status.Errorf(codes.NotFound, "topology %q has no revision %d", req.GetName(), r)
		}
		info = &gatewayv1.TopologyInfo{Topology: t, Revision: r, CreateRevision: info.GetCreateRevision(), UpdatedAt: revisionTime(r), UpdatedBy: "admin", ServiceCount: int32(len(t.GetServices()))}
	}
	return &gatewayv1.GetResponse{Topology: info}, nil
}

func (s *fakeTopology) List(context.Context, *gatewayv1.ListRequest) (*gatewayv1.ListResponse, error) {
	s.g.mu.Lock()
	defer s.g.mu.Unlock()
	resp := &gatewayv1.ListResponse{Revision: s.g.revision}
	// Map order on purpose: the CLI sorts.
	for _, info := range s.g.topologies {
		resp.Topologies = append(resp.Topologies, info)
	}
	return resp, nil
}

func (s *fakeTopology) Delete(ctx context.Context, req *gatewayv1.DeleteRequest) (*gatewayv1.DeleteResponse, error) {
	s.g.mu.Lock()
	defer s.g.mu.Unlock()
	info, ok := s.g.topologies[req.GetName()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "topology %q not found", req.GetName())
	}
	if err := s.checkRevision(req.GetName(), req.ExpectRevision); err != nil {
		return nil, err
	}
	s.g.revision++
	delete(s.g.topologies, req.GetName())
	s.g.history[req.GetName()] = append([]*gatewayv1.HistoryEntry{{
		Revision: s.g.revision, UpdatedAt: revisionTime(s.g.revision), UpdatedBy: callerName(ctx), Action: "delete", ServiceCount: info.GetServiceCount(),
	}}, s.g.history[req.GetName()]...)
	return &gatewayv1.DeleteResponse{Revision: s.g.revision}, nil
}

func (s *fakeTopology) History(_ context.Context, req *gatewayv1.HistoryRequest) (*gatewayv1.HistoryResponse, error) {
	s.g.mu.Lock()
	defer s.g.mu.Unlock()
	h, ok := s.g.history[req.GetName()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "topology %q not found", req.GetName())
	}
	return &gatewayv1.HistoryResponse{Entries: h}, nil
}

func (s *fakeTopology) Rollback(ctx context.Context, req *gatewayv1.RollbackRequest) (*gatewayv1.RollbackResponse, error) {
	s.g.mu.Lock()
	defer s.g.mu.Unlock()
	t, ok := s.g.documents[req.GetName()][req.GetRevision()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "topology %q has no revision %d", req.GetName(), req.GetRevision())
	}
	if err := s.checkRevision(req.GetName(), req.ExpectRevision); err != nil {
		return nil, err
	}
	current := s.g.topologies[req.GetName()]
	resp := &gatewayv1.RollbackResponse{DryRun: req.GetDryRun(), Changes: changes(current.GetTopology(), t), Topology: current,
		Changed: !proto.Equal(current.GetTopology(), t)}
	if !req.GetDryRun() && resp.Changed {
		resp.Topology = s.storeLocked(ctx, t, "rollback")
	}
	return resp, nil
}

// --- StatusService ---

type fakeStatus struct {
	gatewayv1.UnimplementedStatusServiceServer
	g *fakeGateway
}

func (s *fakeStatus) GetStatus(context.Context, *gatewayv1.GetStatusRequest) (*gatewayv1.GetStatusResponse, error) {
	s.g.mu.Lock()
	defer s.g.mu.Unlock()
	services := 0
	for _, t := range s.g.topologies {
		services += len(t.GetTopology().GetServices())
	}
	return &gatewayv1.GetStatusResponse{
		Version: "v0.1.0-test", StartedAt: timestamppb.New(baseTime), StoreRevision: s.g.revision, AppliedRevision: s.g.revision, TableGeneration: s.g.revision + 1,
		TopologyCount: int32(len(s.g.topologies)), ServiceCount: int32(services),
		ProxyAddress: "127.0.0.1:8443", ManagementAddress: "127.0.0.1:8444", DataDir: "/var/lib/gatewayd",
		OpenFiles: 1234, MaxOpenFiles: 20000, WebsocketConnections: 515,
		Backends: []*gatewayv1.BackendStatus{
			{Topology: "sandbox", Service: "webhdfs/v1", Url: "https://nn2.example:9871", Healthy: false, ConsecutiveFailures: 3, CooloffUntil: revisionTime(30)},
			{Topology: "sandbox", Service: "webhdfs/v1", Url: "https://nn1.example:9871", Healthy: true},
		},
	}, nil
}

func (s *fakeStatus) WhoAmI(ctx context.Context, _ *gatewayv1.WhoAmIRequest) (*gatewayv1.WhoAmIResponse, error) {
	return &gatewayv1.WhoAmIResponse{Principal: callerName(ctx), Roles: []string{"operator", "admin"}}, nil
}

// --- AuditService ---

type fakeAudit struct {
	gatewayv1.UnimplementedAuditServiceServer
}

func (fakeAudit) ListAudit(_ context.Context, req *gatewayv1.ListAuditRequest) (*gatewayv1.ListAuditResponse, error) {
	all := []*gatewayv1.AuditRecord{
		{Sequence: 1, Time: revisionTime(1), Principal: "admin", Method: "/gateway.v1.TopologyService/Deploy", Target: "topology/sandbox", Outcome: "ok", Peer: "127.0.0.1:50000"},
		{Sequence: 2, Time: revisionTime(2), Principal: "alice", Method: "/gateway.v1.AliasService/CreateAlias", Target: "alias/gateway/ldap", Outcome: "denied", Detail: "role admin required"},
		{Sequence: 3, Time: revisionTime(3), Principal: "admin", Method: "/gateway.v1.TopologyService/Delete", Target: "topology/old", Outcome: "NotFound"},
	}
	resp := &gatewayv1.ListAuditResponse{}
	for _, r := range all {
		if req.GetPrincipal() != "" && r.GetPrincipal() != req.GetPrincipal() {
			continue
		}
		if !strings.HasPrefix(r.GetTarget(), req.GetTargetPrefix()) {
			continue
		}
		resp.Records = append(resp.Records, r)
	}
	if n := int(req.GetLimit()); n > 0 && len(resp.Records) > n {
		resp.Records = resp.Records[len(resp.Records)-n:]
	}
	return resp, nil
}

// --- AliasService ---

type fakeAlias struct {
	gatewayv1.UnimplementedAliasServiceServer
	g *fakeGateway
}

func (s *fakeAlias) CreateAlias(_ context.Context, req *gatewayv1.CreateAliasRequest) (*gatewayv1.CreateAliasResponse, error) {
	if len(req.GetValue()) == 0 && req.GetGenerateLength() == 0 {
		return nil, status.Error(codes.InvalidArgument, "value: must not be empty")
	}
	s.g.mu.Lock()
	defer s.g.mu.Unlock()
	key := req.GetTopology() + "/" + req.GetName()
	if _, ok := s.g.aliases[key]; ok && !req.GetOverwrite() {
		return nil, status.Errorf(codes.AlreadyExists, "alias %q already exists", req.GetName())
	}
	s.g.aliases[key] = req.GetValue()
	return &gatewayv1.CreateAliasResponse{Alias: s.info(req.GetTopology(), req.GetName())}, nil
}

func (s *fakeAlias) info(topology, name string) *gatewayv1.AliasInfo {
	return &gatewayv1.AliasInfo{Name: name, Topology: topology, CreatedAt: revisionTime(0), UpdatedAt: revisionTime(0),
		Kdf: "argon2id(m=65536,t=3,p=2)", Cipher: "aes-256-gcm", KeyId: "k1"}
}

func (s *fakeAlias) ListAliases(_ context.Context, req *gatewayv1.ListAliasesRequest) (*gatewayv1.ListAliasesResponse, error) {
	s.g.mu.Lock()
	defer s.g.mu.Unlock()
	resp := &gatewayv1.ListAliasesResponse{}
	for key := range s.g.aliases {
		topology, name, _ := strings.Cut(key, "/")
		if req.GetTopology() == "*" || req.GetTopology() == topology {
			resp.Aliases = append(resp.Aliases, s.info(topology, name))
		}
	}
	return resp, nil
}

func (s *fakeAlias) RevealAlias(_ context.Context, req *gatewayv1.RevealAliasRequest) (*gatewayv1.RevealAliasResponse, error) {
	s.g.mu.Lock()
	defer s.g.mu.Unlock()
	v, ok := s.g.aliases[req.GetTopology()+"/"+req.GetName()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "alias %q not found", req.GetName())
	}
	return &gatewayv1.RevealAliasResponse{Value: v}, nil
}

func (s *fakeAlias) RotateMaster(context.Context, *gatewayv1.RotateMasterRequest) (*gatewayv1.RotateMasterResponse, error) {
	s.g.mu.Lock()
	defer s.g.mu.Unlock()
	return &gatewayv1.RotateMasterResponse{Reencrypted: int32(len(s.g.aliases))}, nil
}

// --- PKIService ---

type fakePKI struct {
	gatewayv1.UnimplementedPKIServiceServer
	g *fakeGateway
}

func (s *fakePKI) CreateCertificate(_ context.Context, req *gatewayv1.CreateCertificateRequest) (*gatewayv1.CreateCertificateResponse, error) {
	return &gatewayv1.CreateCertificateResponse{Certificate: &gatewayv1.CertificateInfo{
		Subject: "CN=" + req.GetHostnames()[0], DnsNames: req.GetHostnames(), NotBefore: timestamppb.New(baseTime),
		NotAfter: timestamppb.New(baseTime.Add(req.GetValidity().AsDuration())), KeyType: req.GetKey().GetType().String(),
		Sha256Fingerprint: "AA:BB", Serial: "1", Issuer: "CN=test gateway CA",
	}}, nil
}

func (s *fakePKI) ExportCertificate(context.Context, *gatewayv1.ExportCertificateRequest) (*gatewayv1.ExportCertificateResponse, error) {
	return &gatewayv1.ExportCertificateResponse{Pem: s.g.serverPEM, Certificate: &gatewayv1.CertificateInfo{Subject: "CN=gatewayd"}}, nil
}

func (s *fakePKI) AddTrustedCertificates(_ context.Context, req *gatewayv1.AddTrustedCertificatesRequest) (*gatewayv1.AddTrustedCertificatesResponse, error) {
	var added []*gatewayv1.CertificateInfo
	for rest := req.GetPem(); ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "pem: %v", err)
		}
		sum := sha256.Sum256([]byte(c.Subject.String())) // stable across runs, unlike c.Raw
		added = append(added, &gatewayv1.CertificateInfo{Subject: c.Subject.String(), NotAfter: timestamppb.New(baseTime.Add(24 * time.Hour)),
			Sha256Fingerprint: hex.EncodeToString(sum[:4])})
	}
	if len(added) == 0 {
		return nil, status.Error(codes.InvalidArgument, "pem: no certificate found")
	}
	s.g.mu.Lock()
	defer s.g.mu.Unlock()
	s.g.truststore[req.GetTruststore()] = append(s.g.truststore[req.GetTruststore()], added...)
	return &gatewayv1.AddTrustedCertificatesResponse{Added: added}, nil
}

func (s *fakePKI) ListTruststores(_ context.Context, req *gatewayv1.ListTruststoresRequest) (*gatewayv1.ListTruststoresResponse, error) {
	s.g.mu.Lock()
	defer s.g.mu.Unlock()
	resp := &gatewayv1.ListTruststoresResponse{}
	for name, certs := range s.g.truststore {
		if req.GetName() == "" || req.GetName() == name {
			resp.Truststores = append(resp.Truststores, &gatewayv1.Truststore{Name: name, Certificates: certs})
		}
	}
	return resp, nil
}

// --- TokenService, TokenPolicyService, GroupService ---

type fakeToken struct {
	gatewayv1.UnimplementedTokenServiceServer
}

func (fakeToken) IssueToken(ctx context.Context, req *gatewayv1.IssueTokenRequest) (*gatewayv1.IssueTokenResponse, error) {
	subject := req.GetOnBehalfOf()
	if subject == "" {
		subject = callerName(ctx)
	}
	return &gatewayv1.IssueTokenResponse{Token: "eyJhbGciOiJFUzI1NiJ9.e30.c2ln", Info: &gatewayv1.TokenInfo{
		Id: "tok-1", Subject: subject, Actor: callerName(ctx), Policy: req.GetPolicy(), IssuedAt: timestamppb.New(baseTime),
		ExpiresAt: timestamppb.New(baseTime.Add(req.GetTtl().AsDuration())), Audiences: req.GetAudiences(),
	}}, nil
}

type fakeTokenPolicy struct {
	gatewayv1.UnimplementedTokenPolicyServiceServer
	g *fakeGateway
}

func (s *fakeTokenPolicy) PutTokenPolicy(_ context.Context, req *gatewayv1.PutTokenPolicyRequest) (*gatewayv1.PutTokenPolicyResponse, error) {
	s.g.mu.Lock()
	defer s.g.mu.Unlock()
	s.g.revision++
	s.g.policies[req.GetPolicy().GetName()] = &gatewayv1.GetTokenPolicyResponse{Policy: req.GetPolicy(), Revision: s.g.revision}
	return &gatewayv1.PutTokenPolicyResponse{Policy: req.GetPolicy(), Revision: s.g.revision}, nil
}

func (s *fakeTokenPolicy) GetTokenPolicy(_ context.Context, req *gatewayv1.GetTokenPolicyRequest) (*gatewayv1.GetTokenPolicyResponse, error) {
	s.g.mu.Lock()
	defer s.g.mu.Unlock()
	p, ok := s.g.policies[req.GetName()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "token policy %q not found", req.GetName())
	}
	return p, nil
}

type fakeGroups struct {
	gatewayv1.UnimplementedGroupServiceServer
}

func (fakeGroups) Lookup(_ context.Context, req *gatewayv1.LookupRequest) (*gatewayv1.LookupResponse, error) {
	return &gatewayv1.LookupResponse{User: req.GetUser(), Groups: []string{"etl", "analysts"}, Source: "static"}, nil
}
