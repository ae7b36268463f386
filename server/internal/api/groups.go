package api

import (
	"context"
	"errors"
	"fmt"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
	"github.com/securegw/gateway/proxy"
	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/server/internal/apierr"
)

// GroupSource is what the group service asks: the live data plane
// (*proxy.Proxy), which asks the group sources of the topology's chain.
type GroupSource interface {
	LookupGroups(ctx context.Context, topology, user string) (groups []string, source string, err error)
}

// GroupService implements gatewayv1.GroupServiceServer.
type GroupService struct {
	gatewayv1.UnimplementedGroupServiceServer
	live GroupSource
}

// NewGroupService returns the group lookup service.
func NewGroupService(live GroupSource) *GroupService { return &GroupService{live: live} }

// Lookup returns a user's groups as a live topology's group sources see them.
func (s *GroupService) Lookup(ctx context.Context, req *gatewayv1.LookupRequest) (*gatewayv1.LookupResponse, error) {
	user, topo := req.GetUser(), req.GetTopology()
	switch {
	case user == "":
		return nil, invalid(errors.New("user: required"))
	case topo == "":
		return nil, invalid(errors.New("topology: required"))
	}
	noteTarget(ctx, "topology/"+topo)
	groups, source, err := s.live.LookupGroups(ctx, topo, user)
	switch {
	case errors.Is(err, proxy.ErrNoTopology):
		return nil, apierr.Errorf(apierr.NotFound, "topology %q is not deployed", topo)
	case errors.Is(err, proxy.ErrNoGroupSource):
		// Not FailedPrecondition: gatewayctl reads that code as a revision mismatch.
		return nil, invalid(err)
	case errors.Is(err, chain.ErrSourceUnavailable):
		return nil, apierr.Errorf(apierr.Unavailable, "the group source of topology %q cannot answer now; try again", topo)
	case err != nil:
		return nil, fmt.Errorf("looking up groups: %w", err)
	}
	if groups == nil {
		groups = []string{}
	}
	return &gatewayv1.LookupResponse{User: user, Groups: groups, Source: source}, nil
}
