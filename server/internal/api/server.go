package api

import (
	"crypto/tls"
	"log/slog"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

// Services are the implementations registered on the management server.
// A nil service is left Unimplemented.
type Services struct {
	Topology    gatewayv1.TopologyServiceServer
	Status      gatewayv1.StatusServiceServer
	Audit       gatewayv1.AuditServiceServer
	Alias       gatewayv1.AliasServiceServer
	PKI         gatewayv1.PKIServiceServer
	Token       gatewayv1.TokenServiceServer
	TokenPolicy gatewayv1.TokenPolicyServiceServer
	Group       gatewayv1.GroupServiceServer
}

// NewServer returns the management gRPC server: TLS with client
// certificates required (tlsConf must say so), every call authorized by
// authz, health and reflection on. A handler that panics fails its call
// with an internal error (logged with its stack); the gateway keeps serving.
func NewServer(tlsConf *tls.Config, authz *Authorizer, svc Services, log *slog.Logger) (*grpc.Server, *health.Server) {
	s := grpc.NewServer(
		grpc.Creds(credentials.NewTLS(tlsConf)),
		grpc.ChainUnaryInterceptor(authz.UnaryInterceptor(log), recoverUnary(log)),
		grpc.ChainStreamInterceptor(authz.StreamInterceptor(log), recoverStream(log)),
		grpc.MaxRecvMsgSize(8<<20),
	)
	if svc.Topology == nil {
		svc.Topology = gatewayv1.UnimplementedTopologyServiceServer{}
	}
	if svc.Status == nil {
		svc.Status = gatewayv1.UnimplementedStatusServiceServer{}
	}
	if svc.Audit == nil {
		svc.Audit = gatewayv1.UnimplementedAuditServiceServer{}
	}
	if svc.Alias == nil {
		svc.Alias = gatewayv1.UnimplementedAliasServiceServer{}
	}
	if svc.PKI == nil {
		svc.PKI = gatewayv1.UnimplementedPKIServiceServer{}
	}
	if svc.Token == nil {
		svc.Token = gatewayv1.UnimplementedTokenServiceServer{}
	}
	if svc.TokenPolicy == nil {
		svc.TokenPolicy = gatewayv1.UnimplementedTokenPolicyServiceServer{}
	}
	if svc.Group == nil {
		svc.Group = gatewayv1.UnimplementedGroupServiceServer{}
	}
	gatewayv1.RegisterTopologyServiceServer(s, svc.Topology)
	gatewayv1.RegisterStatusServiceServer(s, svc.Status)
	gatewayv1.RegisterAuditServiceServer(s, svc.Audit)
	gatewayv1.RegisterAliasServiceServer(s, svc.Alias)
	gatewayv1.RegisterPKIServiceServer(s, svc.PKI)
	gatewayv1.RegisterTokenServiceServer(s, svc.Token)
	gatewayv1.RegisterTokenPolicyServiceServer(s, svc.TokenPolicy)
	gatewayv1.RegisterGroupServiceServer(s, svc.Group)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(s, hs)
	reflection.Register(s)
	return s, hs
}
