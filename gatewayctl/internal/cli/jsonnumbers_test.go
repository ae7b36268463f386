package cli

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

// -o json prints 64-bit integers as numbers (protojson quotes them) and
// leaves every string a string, even one made of digits.
func TestProtoJSONNumbers(t *testing.T) {
	m := &gatewayv1.GetStatusResponse{
		Version:         "42",
		StartedAt:       timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
		StoreRevision:   9007199254740993, // beyond float64's exact integers: printed exactly
		TableGeneration: -1,
		TopologyCount:   2,
		DataDir:         "/var/<lib>&gateway",
		Backends: []*gatewayv1.BackendStatus{
			{Topology: "7", Url: "http://b:1", ConsecutiveFailures: 3},
			{Topology: "t", Healthy: true},
		},
	}
	got, err := protoJSON(m)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"version":"42","started_at":"2026-01-02T03:04:05Z","store_revision":9007199254740993,"table_generation":-1,` +
		`"topology_count":2,"data_dir":"/var/<lib>&gateway","backends":[{"topology":"7","url":"http://b:1","consecutive_failures":3},` +
		`{"topology":"t","healthy":true}]}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// A missing document is named for what it is.
func TestReadDocumentNamesWhatItReads(t *testing.T) {
	e := &testEnv{dir: t.TempDir(), home: t.TempDir()}
	for args, want := range map[string]string{
		"token-policy put /nonexistent/etl.yaml": "error: reading token policy: open /nonexistent/etl.yaml: no such file or directory\n",
		"topology deploy /nonexistent/t.yaml":    "error: reading topology: open /nonexistent/t.yaml: no such file or directory\n",
		"topology validate /nonexistent/t.yaml":  "error: reading topology: open /nonexistent/t.yaml: no such file or directory\n",
	} {
		r := e.runWith(t, runOpts{noConf: true}, strings.Fields(args)...)
		if r.code != 1 || r.stderr != want {
			t.Errorf("%s: exit %d, stderr %q, want %q", args, r.code, r.stderr, want)
		}
	}
}
