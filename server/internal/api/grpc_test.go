package api

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/securegw/gateway/internal/testlog"
	"github.com/securegw/gateway/internal/testpki"
	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
	"github.com/securegw/gateway/server/internal/apierr"
	"github.com/securegw/gateway/store"
	"github.com/securegw/gateway/store/bolt"
)

func openStore(t *testing.T) store.Store {
	t.Helper()
	s, err := bolt.Open(filepath.Join(t.TempDir(), "gateway.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// panicky panics in Deploy and answers List.
type panicky struct {
	gatewayv1.UnimplementedTopologyServiceServer
}

func (panicky) Deploy(_ context.Context, req *gatewayv1.DeployRequest) (*gatewayv1.DeployResponse, error) {
	names := map[string][]string{}
	return nil, errors.New(names["deployed"][len(req.GetName())]) // index out of range: a runtime panic
}

func (panicky) List(context.Context, *gatewayv1.ListRequest) (*gatewayv1.ListResponse, error) {
	return &gatewayv1.ListResponse{}, nil
}

// panickyStream is a streaming service whose one method panics.
var panickyStream = grpc.ServiceDesc{
	ServiceName: "test.Panicky",
	HandlerType: (*any)(nil),
	Streams: []grpc.StreamDesc{{
		StreamName:    "Boom",
		ServerStreams: true,
		Handler:       func(any, grpc.ServerStream) error { panic("stream boom") },
	}},
}

// serveMTLS runs the management server over loopback with mutual TLS and
// returns a connection authenticated as principal.
func serveMTLS(t *testing.T, svc Services, st store.Store, log *slog.Logger, principal string, principals map[string][]string) *grpc.ClientConn {
	t.Helper()
	ca := testpki.NewCA(t, "test admin CA")
	serverCert := ca.Server(t, "127.0.0.1").TLS
	clientCert := ca.Client(t, principal).TLS
	gs, _ := NewServer(&tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{serverCert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.Pool(),
	}, NewAuthorizer(principals, NewAuditor(st, log)), svc, log)
	gs.RegisterService(&panickyStream, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gs.Serve(ln) }()
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
		MinVersion:   tls.VersionTLS12,
		RootCAs:      ca.Pool(),
		Certificates: []tls.Certificate{clientCert},
	})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// A panic in a management handler, unary or streaming, fails that call with a generic Internal
// error, is logged with its stack and audited; the management API and the
// data plane keep serving.
func TestHandlerPanicIsRecovered(t *testing.T) {
	logs := &testlog.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	st := openStore(t)
	conn := serveMTLS(t, Services{Topology: panicky{}}, st, log, "alice", map[string][]string{"alice": {RoleAdmin}})
	dataPlane := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	t.Cleanup(dataPlane.Close)
	client := gatewayv1.NewTopologyServiceClient(conn)
	ctx := t.Context()

	_, err := client.Deploy(ctx, &gatewayv1.DeployRequest{Name: "web"})
	got := status.Convert(err)
	if got.Code() != codes.Internal || got.Message() != internalMessage {
		t.Fatalf("panicking call: %v %q, want Internal %q", got.Code(), got.Message(), internalMessage)
	}
	stream, err := conn.NewStream(ctx, &panickyStream.Streams[0], "/test.Panicky/Boom")
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	err = stream.RecvMsg(&emptypb.Empty{})
	if got := status.Convert(err); got.Code() != codes.Internal || got.Message() != internalMessage {
		t.Fatalf("panicking stream: %v %q, want Internal %q", got.Code(), got.Message(), internalMessage)
	}
	for _, call := range []string{"first", "second"} {
		if _, err := client.List(ctx, &gatewayv1.ListRequest{}); err != nil {
			t.Fatalf("%s call after the panics: %v", call, err)
		}
	}
	resp, err := http.Get(dataPlane.URL)
	if err != nil {
		t.Fatalf("data plane after the panic: %v", err)
	}
	resp.Body.Close()

	out := logs.String()
	for _, want := range []string{`"msg":"management handler panicked"`, `"method":"/gateway.v1.TopologyService/Deploy"`, `"stack":"goroutine `, "index out of range",
		`"method":"/test.Panicky/Boom"`, `"panic":"stream boom"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	recs, err := st.ListAudit(ctx, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Outcome != "Internal" || recs[0].Principal != "alice" || recs[0].Target != "topology/web" {
		t.Errorf("audit records %+v, want one Internal deploy of topology/web by alice", recs)
	}
}

// A refused call is answered PermissionDenied, audited, and its handler
// never runs.
func TestDeniedOverMTLS(t *testing.T) {
	st := openStore(t)
	conn := serveMTLS(t, Services{Topology: panicky{}}, st, slog.New(slog.DiscardHandler), "victor", map[string][]string{"victor": {RoleViewer}})
	_, err := gatewayv1.NewTopologyServiceClient(conn).Deploy(t.Context(), &gatewayv1.DeployRequest{Name: "web"})
	got := status.Convert(err)
	if got.Code() != codes.PermissionDenied || !strings.Contains(got.Message(), `principal "victor" (roles viewer) may not call`) {
		t.Fatalf("%v %q", got.Code(), got.Message())
	}
	recs, err := st.ListAudit(t.Context(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Outcome != "denied" || recs[0].Principal != "victor" {
		t.Errorf("audit records %+v, want one denied call by victor", recs)
	}
}

// Authorize and Run are the transport-neutral core: a REST endpoint would
// call them with its own Caller.
func TestAuthorizeAndRun(t *testing.T) {
	st := openStore(t)
	a := NewAuthorizer(map[string][]string{"ada": {RoleAdmin}, "olga": {RoleOperator}, "vic": {RoleViewer}, "nobody": nil}, NewAuditor(st, slog.New(slog.DiscardHandler)))
	deploy := gatewayv1.TopologyService_Deploy_FullMethodName
	list := gatewayv1.TopologyService_List_FullMethodName
	cases := []struct {
		principal, method string
		want              string // "" allowed, else part of the refusal
	}{
		{"ada", deploy, ""},
		{"olga", deploy, ""},
		{"vic", list, ""},
		{"vic", deploy, `principal "vic" (roles viewer) may not call TopologyService/Deploy`},
		{"nobody", list, `principal "nobody" has no role on this gateway`},
		{"stranger", list, `principal "stranger" has no role on this gateway`},
		{"stranger", "/grpc.health.v1.Health/Check", ""},
	}
	for _, tc := range cases {
		t.Run(tc.principal+tc.method, func(t *testing.T) {
			c := a.Caller(tc.principal, "192.0.2.1:4444", "test")
			err := a.Authorize(t.Context(), c, tc.method)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (apierr.KindOf(err) != apierr.PermissionDenied || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want PermissionDenied saying %q", err, tc.want)
			}
		})
	}

	ran := 0
	run := func(ctx context.Context) (any, error) {
		ran++
		if c, ok := CallerFrom(ctx); !ok || c.Principal != "olga" {
			t.Errorf("handler sees caller %+v", c)
		}
		noteTarget(ctx, "topology/noted")
		return nil, errors.New("disk on fire")
	}
	olga := a.Caller("olga", "192.0.2.1:4444", "test")
	if _, err := a.Run(t.Context(), olga, list, nil, run); err == nil {
		t.Fatal("Run lost the handler's error")
	}
	if _, err := a.Run(t.Context(), olga, deploy, &gatewayv1.DeployRequest{Name: "web"}, run); err == nil {
		t.Fatal("Run lost the handler's error")
	}
	if _, err := a.Run(t.Context(), a.Caller("vic", "", "test"), deploy, &gatewayv1.DeployRequest{Name: "web"}, run); apierr.KindOf(err) != apierr.PermissionDenied {
		t.Fatalf("viewer deploy: %v", err)
	}
	if ran != 2 {
		t.Errorf("handler ran %d times, want 2 (never for a refused call)", ran)
	}
	recs, err := st.ListAudit(t.Context(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	// Newest first: the refusal, then the failed deploy; the list is not audited.
	if len(recs) != 2 || recs[0].Outcome != "denied" || recs[0].Principal != "vic" ||
		recs[1].Outcome != "Internal" || recs[1].Target != "topology/noted" || recs[1].Detail != internalMessage || recs[1].Peer != "192.0.2.1:4444" {
		t.Errorf("audit records %+v", recs)
	}
}
