package api

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/securegw/gateway/internal/fdlimit"
	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
	"github.com/securegw/gateway/proxy"
	"github.com/securegw/gateway/store"
)

// Live is what the status service reads of the data plane.
type Live interface {
	Generation() int64
	Topologies() int
	BackendStatus() []proxy.BackendStatus
	UpgradedConnections() int
	MaxOpenFiles() int
}

// StatusInfo is the static part of the status: what was started where.
type StatusInfo struct {
	Version           string
	StartedAt         time.Time
	ProxyAddress      string
	ManagementAddress string
	DataDir           string
	StoreBackend      string
	// Gateways, when set, lists the gateways sharing the store (etcd).
	Gateways func(ctx context.Context) ([]*gatewayv1.GatewayMember, error)
}

// Applied reports the store revision whose changes are live.
type Applied interface {
	AppliedRevision() int64
}

// StatusService implements gatewayv1.StatusServiceServer.
type StatusService struct {
	gatewayv1.UnimplementedStatusServiceServer
	store   store.Store
	live    Live
	applied Applied
	info    StatusInfo
}

// NewStatusService returns the status service.
func NewStatusService(s store.Store, live Live, applied Applied, info StatusInfo) *StatusService {
	return &StatusService{store: s, live: live, applied: applied, info: info}
}

// GetStatus reports versions, revisions, counts and backend health.
func (s *StatusService) GetStatus(ctx context.Context, _ *gatewayv1.GetStatusRequest) (*gatewayv1.GetStatusResponse, error) {
	recs, rev, err := s.store.ListTopologies(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading status: %w", err)
	}
	resp := &gatewayv1.GetStatusResponse{
		Version:           s.info.Version,
		StartedAt:         timestamppb.New(s.info.StartedAt),
		StoreRevision:     rev,
		AppliedRevision:   s.applied.AppliedRevision(),
		TableGeneration:   s.live.Generation(),
		TopologyCount:     int32(len(recs)),
		ProxyAddress:      s.info.ProxyAddress,
		ManagementAddress: s.info.ManagementAddress,
		DataDir:           s.info.DataDir,
		StoreBackend:      s.info.StoreBackend,

		OpenFiles:            int64(fdlimit.Open()),
		MaxOpenFiles:         int64(s.live.MaxOpenFiles()),
		WebsocketConnections: int64(s.live.UpgradedConnections()),
	}
	if s.info.Gateways != nil {
		if resp.Gateways, err = s.info.Gateways(ctx); err != nil {
			return nil, fmt.Errorf("listing the gateways sharing the store: %w", err)
		}
	}
	for _, b := range s.live.BackendStatus() {
		bs := &gatewayv1.BackendStatus{
			Topology:            b.Topology,
			Service:             b.Service,
			Url:                 b.URL,
			Healthy:             b.Healthy,
			ConsecutiveFailures: b.ConsecutiveFailures,
		}
		if !b.CooloffUntil.IsZero() {
			bs.CooloffUntil = timestamppb.New(b.CooloffUntil)
		}
		resp.Backends = append(resp.Backends, bs)
	}
	services := map[[2]string]bool{}
	for _, b := range resp.Backends {
		services[[2]string{b.Topology, b.Service}] = true
	}
	resp.ServiceCount = int32(len(services))
	return resp, nil
}

// WhoAmI returns the caller as the server sees it.
func (s *StatusService) WhoAmI(ctx context.Context, _ *gatewayv1.WhoAmIRequest) (*gatewayv1.WhoAmIResponse, error) {
	c, _ := CallerFrom(ctx)
	return &gatewayv1.WhoAmIResponse{Principal: c.Principal, Roles: c.Roles}, nil
}

// AuditService implements gatewayv1.AuditServiceServer.
type AuditService struct {
	gatewayv1.UnimplementedAuditServiceServer
	store store.Store
}

// NewAuditService returns the audit listing service.
func NewAuditService(s store.Store) *AuditService { return &AuditService{store: s} }

// ListAudit lists audit records, newest first.
func (s *AuditService) ListAudit(ctx context.Context, req *gatewayv1.ListAuditRequest) (*gatewayv1.ListAuditResponse, error) {
	limit := int(req.GetLimit())
	if limit < 0 || limit > 1000 {
		return nil, invalid(fmt.Errorf("limit %d is outside 0..1000", limit))
	}
	recs, err := s.store.ListAudit(ctx, store.AuditFilter{
		Limit:        limit,
		Before:       req.GetBefore(),
		Principal:    req.GetPrincipal(),
		TargetPrefix: req.GetTargetPrefix(),
	})
	if err != nil {
		return nil, fmt.Errorf("listing audit records: %w", err)
	}
	resp := &gatewayv1.ListAuditResponse{}
	for _, r := range recs {
		resp.Records = append(resp.Records, &gatewayv1.AuditRecord{
			Sequence:  r.Sequence,
			Time:      timestamppb.New(r.Time),
			Principal: r.Principal,
			Method:    r.Method,
			Target:    r.Target,
			Outcome:   r.Outcome,
			Detail:    r.Detail,
			Peer:      r.Peer,
		})
	}
	return resp, nil
}
