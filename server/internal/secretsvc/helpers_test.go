package secretsvc

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/securegw/gateway/internal/pki"
	"github.com/securegw/gateway/internal/secrets"
	"github.com/securegw/gateway/internal/testlog"
	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
	"github.com/securegw/gateway/server/internal/api"
	"github.com/securegw/gateway/store"
	"github.com/securegw/gateway/store/bolt"
)

// Distinctive secrets, so that a leak into an error, a log line or a
// response is easy to detect.
var (
	masterSecret = []byte("master-secret-0ld-XYZZY-42")
	newMaster    = []byte("master-secret-n3w-PLUGH-43")
)

// fastSettings: argon2id with 8 MiB, one pass, one thread (explicitly weak).
func fastSettings() secrets.Settings {
	return secrets.Settings{
		KDF:       secrets.KDFParams{Algorithm: secrets.KDFArgon2id, MemoryKiB: 8 << 10, Time: 1, Threads: 1},
		AllowWeak: true,
	}
}

// fixture is a service over a real bolt store in a temporary directory,
// initialized like gatewayd init does: verifier, CA, TLS identity.
type fixture struct {
	t        testing.TB
	path     string
	st       *bolt.Store
	svc      *Service
	settings secrets.Settings
	logs     *testlog.Buffer
	// identityChanges counts OnIdentityChange calls.
	identityChanges atomic.Int32
	// values are the alias values created through the fixture, checked
	// against leaks when the test ends.
	mu     sync.Mutex
	values [][]byte
}

func newFixture(t testing.TB) *fixture { return newFixtureWith(t, fastSettings()) }

func newFixtureWith(t testing.TB, s secrets.Settings) *fixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gateway.db")
	seedStore(t, path, masterSecret, s)
	f := openFixture(t, path, masterSecret, s)
	return f
}

// seedStore writes the verifier, an admin CA and a TLS identity for
// localhost and 127.0.0.1, like gatewayd init.
func seedStore(t testing.TB, path string, secret []byte, s secrets.Settings) {
	t.Helper()
	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	kr, verifier, err := secrets.Unlock(secret, nil, s)
	if err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	defer kr.Close()
	ca, err := pki.NewCA("test admin CA", pki.DefaultKeySpec(), 10*365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.IssueServer([]string{"localhost", "127.0.0.1"}, pki.DefaultKeySpec(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := ca.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	sealedCA, err := kr.Seal(MetaCAKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	sealedTLS, err := kr.Seal(MetaTLSKey, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	// The token service's signing keys are sealed the same way (their
	// content is the token service's business; a rotation reseals them).
	sealedTokenKeys, err := kr.Seal(MetaTokenKeys, []byte(`{"keys":[],"active":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.RewriteObjects(context.Background(), nil, keepValue, map[string][]byte{
		MetaVerifier:  verifier,
		MetaCACert:    ca.CertPEM(),
		MetaCAKey:     sealedCA,
		MetaTLSCert:   certPEM,
		MetaTLSKey:    sealedTLS,
		MetaTokenKeys: sealedTokenKeys,
	}); err != nil {
		t.Fatal(err)
	}
}

// openFixture opens the store at path and unlocks it like gatewayd serve.
func openFixture(t testing.TB, path string, secret []byte, s secrets.Settings) *fixture {
	t.Helper()
	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	verifier, verifierRev, err := st.GetMetaRevision(ctx, MetaVerifier)
	if err != nil {
		t.Fatal(err)
	}
	kr, newVerifier, err := secrets.Unlock(secret, verifier, s)
	if err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	if newVerifier != nil {
		if _, err := st.PutMeta(ctx, MetaVerifier, newVerifier, verifierRev); err != nil {
			t.Fatal(err)
		}
	}
	f := &fixture{t: t, path: path, st: st, settings: s, logs: &testlog.Buffer{}}
	f.svc = New(st, kr, Options{
		Settings:         s,
		Log:              slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnIdentityChange: func() { f.identityChanges.Add(1) },
	})
	t.Cleanup(f.svc.Close)
	t.Cleanup(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		assertNoLeak(t, "the service's log", f.logs.String(), append(f.values, masterSecret, newMaster)...)
	})
	return f
}

// remember registers a value to look for in the logs when the test ends.
func (f *fixture) remember(v []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.values = append(f.values, bytes.Clone(v))
}

// create stores an alias or fails the test.
func (f *fixture) create(topology, name, value string) {
	f.t.Helper()
	f.remember([]byte(value))
	_, err := f.svc.AliasServer().CreateAlias(context.Background(), &gatewayv1.CreateAliasRequest{Name: name, Topology: topology, Value: []byte(value)})
	if err != nil {
		f.t.Fatalf("CreateAlias %s/%s: %v", topology, name, err)
	}
}

// reveal returns an alias' value or fails the test.
func (f *fixture) reveal(topology, name string) string {
	f.t.Helper()
	resp, err := f.svc.AliasServer().RevealAlias(context.Background(), &gatewayv1.RevealAliasRequest{Name: name, Topology: topology})
	if err != nil {
		f.t.Fatalf("RevealAlias %s/%s: %v", topology, name, err)
	}
	return string(resp.GetValue())
}

// snapshot returns every alias object and meta value, to compare a store
// before and after a refused or failed change.
func (f *fixture) snapshot() map[string]string {
	f.t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	objs, err := f.st.ListObjects(ctx, store.KindAlias, "")
	if err != nil {
		f.t.Fatal(err)
	}
	for _, o := range objs {
		out["alias:"+o.Key] = string(o.Value)
	}
	for _, k := range []string{MetaVerifier, MetaCACert, MetaCAKey, MetaTLSCert, MetaTLSKey, MetaTokenKeys} {
		v, err := f.st.GetMeta(ctx, k)
		if err != nil {
			f.t.Fatal(err)
		}
		out["meta:"+k] = string(v)
	}
	return out
}

func sameSnapshot(t *testing.T, before, after map[string]string) {
	t.Helper()
	if len(before) != len(after) {
		t.Fatalf("store has %d records, had %d", len(after), len(before))
	}
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s changed", k)
		}
	}
}

// codeOf is the gRPC code the management server answers for a handler's
// error.
func codeOf(err error) codes.Code { return api.Code(err) }

// assertNoLeak fails if text holds any of the values, raw, hex or base64.
func assertNoLeak(t testing.TB, what, text string, values ...[]byte) {
	t.Helper()
	for _, v := range values {
		if len(v) < 4 {
			continue // too short to tell
		}
		for _, form := range []string{string(v), hex.EncodeToString(v), base64.StdEncoding.EncodeToString(v), base64.RawURLEncoding.EncodeToString(v)} {
			if strings.Contains(text, form) {
				t.Fatalf("%s contains a secret value", what)
			}
		}
	}
}

// protoText renders a message for assertNoLeak (bytes fields in base64).
func protoText(m proto.Message) string { return protojson.Format(m) }
