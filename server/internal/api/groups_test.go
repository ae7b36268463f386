package api

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/securegw/gateway/internal/topology"
	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
	"github.com/securegw/gateway/proxy"
)

// groupClient serves svc over loopback gRPC, errors mapped by toStatus as
// the management server maps them, and returns a client.
func groupClient(t *testing.T, svc gatewayv1.GroupServiceServer) gatewayv1.GroupServiceClient {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	srv := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		resp, err := h(ctx, req)
		return resp, toStatus(ctx, log, info.FullMethod, err)
	}))
	gatewayv1.RegisterGroupServiceServer(srv, svc)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return gatewayv1.NewGroupServiceClient(conn)
}

func TestGroupLookup(t *testing.T) {
	px, err := proxy.New(proxy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	for _, tp := range []*topology.Topology{
		{Name: "sandbox", Providers: []topology.Provider{{Role: "authentication", Name: "anonymous"},
			{Role: "identity-assertion", Name: "default", Params: map[string]string{"group.principal.mapping": "alice=etl,analysts"}}}},
		{Name: "plain", Providers: []topology.Provider{{Role: "authentication", Name: "anonymous"}}},
	} {
		tp.Services = []topology.Service{{Path: "echo", URLs: []string{"http://127.0.0.1:1"}}}
		c, err := px.Compile(context.Background(), tp)
		if err != nil {
			t.Fatal(err)
		}
		px.Apply(c)
	}
	client := groupClient(t, NewGroupService(px))
	tests := []struct {
		user, topology string
		code           codes.Code
		msg            string
		groups         []string
		source         string
	}{
		{"alice", "sandbox", codes.OK, "", []string{"analysts", "etl"}, "default"},
		{"bob", "sandbox", codes.OK, "", []string{}, "default"},
		{"alice", "nope", codes.NotFound, `topology "nope" is not deployed`, nil, ""},
		{"alice", "plain", codes.InvalidArgument, `no group source in topology "plain": add an ldap provider`, nil, ""},
		{"", "sandbox", codes.InvalidArgument, "user: required", nil, ""},
		{"alice", "", codes.InvalidArgument, "topology: required", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.user+"@"+tc.topology, func(t *testing.T) {
			resp, err := client.Lookup(context.Background(), &gatewayv1.LookupRequest{User: tc.user, Topology: tc.topology})
			st := status.Convert(err)
			if st.Code() != tc.code || !strings.Contains(st.Message(), tc.msg) {
				t.Fatalf("%v %q, want %v %q", st.Code(), st.Message(), tc.code, tc.msg)
			}
			if tc.code != codes.OK {
				return
			}
			if resp.GetUser() != tc.user || !slices.Equal(resp.GetGroups(), tc.groups) || resp.GetSource() != tc.source {
				t.Fatalf("response %v", resp)
			}
		})
	}
}

// A failing group source is an internal error whose detail stays in the log.
func TestGroupLookupSourceFails(t *testing.T) {
	client := groupClient(t, NewGroupService(failingSource{}))
	_, err := client.Lookup(context.Background(), &gatewayv1.LookupRequest{User: "alice", Topology: "t"})
	if st := status.Convert(err); st.Code() != codes.Internal || strings.Contains(st.Message(), "ldap.internal") {
		t.Fatalf("%v %q", st.Code(), st.Message())
	}
}

type failingSource struct{}

func (failingSource) LookupGroups(context.Context, string, string) ([]string, string, error) {
	return nil, "", errors.New("dial tcp ldap.internal:636: connection refused")
}
