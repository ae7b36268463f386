package secretsvc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/securegw/gateway/internal/secrets"
	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
	"github.com/securegw/gateway/store"
)

// testAliases are created by seedAliases: topology (or "") → name → value.
var testAliases = []struct{ topology, name, value string }{
	{"", "ldap-bind", "gw-ldap-VALUE-1"},
	{"", "hmac", "gw-hmac-VALUE-2"},
	{"sandbox", "ldap-bind", "sandbox-ldap-VALUE-3"},
	{"prod", "db", "prod-db-VALUE-4"},
}

func seedAliases(f *fixture) {
	for _, a := range testAliases {
		f.create(a.topology, a.name, a.value)
	}
}

// checkOpens opens every test alias and both sealed meta keys, as stored,
// with kr.
func checkOpens(t *testing.T, f *fixture, kr *secrets.Keyring) {
	t.Helper()
	ctx := context.Background()
	for _, a := range testAliases {
		r := aliasRef{a.topology, a.name}
		o, err := f.st.GetObject(ctx, store.KindAlias, r.key())
		if err != nil {
			t.Fatal(err)
		}
		v, err := kr.Open(r.aad(), o.Value)
		if err != nil || string(v) != a.value {
			t.Fatalf("%s does not open with the keyring (%v)", r, err)
		}
	}
	for _, k := range sealedMeta {
		sealed, err := f.st.GetMeta(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kr.Open(k, sealed); err != nil {
			t.Fatalf("%s does not open with the keyring: %v", k, err)
		}
	}
}

func TestReencryptAfterSettingsChange(t *testing.T) {
	xchacha := fastSettings()
	xchacha.Cipher = secrets.CipherXChaCha20Poly1305
	slowerKDF := fastSettings()
	slowerKDF.KDF.Time = 2
	tests := []struct {
		name       string
		settings   secrets.Settings
		wantStale  bool
		wantCount  int32
		wantCipher string
	}{
		// A new cipher applies to new writes; old records open and are stale
		// until re-encrypted (aliases and the sealed meta values: CA key,
		// TLS key, token signing keys).
		{"cipher change", xchacha, true, int32(len(testAliases) + len(sealedMeta)), secrets.CipherXChaCha20Poly1305},
		// KDF parameters protect only the data key: records are untouched.
		{"kdf change", slowerKDF, false, 0, secrets.CipherAES256GCM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			seedAliases(f)
			// Restart with the new settings.
			f.svc.Close()
			if err := f.st.Close(); err != nil {
				t.Fatal(err)
			}
			g := openFixture(t, f.path, masterSecret, tt.settings)
			ctx := context.Background()
			list := func() []*gatewayv1.AliasInfo {
				resp, err := g.svc.AliasServer().ListAliases(ctx, &gatewayv1.ListAliasesRequest{Topology: "*"})
				if err != nil {
					t.Fatal(err)
				}
				return resp.GetAliases()
			}
			for _, a := range list() {
				if a.GetStale() != tt.wantStale || a.GetCipher() != secrets.CipherAES256GCM || a.GetKdf() != tt.settings.KDF.String() {
					t.Fatalf("before re-encryption: %s/%s stale %v cipher %s kdf %s", a.GetTopology(), a.GetName(), a.GetStale(), a.GetCipher(), a.GetKdf())
				}
			}
			resp, err := g.svc.AliasServer().ReencryptAliases(ctx, &gatewayv1.ReencryptAliasesRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if resp.GetReencrypted() != tt.wantCount {
				t.Fatalf("re-encrypted %d, want %d", resp.GetReencrypted(), tt.wantCount)
			}
			for _, a := range list() {
				if a.GetStale() || a.GetCipher() != tt.wantCipher {
					t.Fatalf("after re-encryption: %s/%s stale %v cipher %s", a.GetTopology(), a.GetName(), a.GetStale(), a.GetCipher())
				}
			}
			for _, a := range testAliases {
				if got := g.reveal(a.topology, a.name); got != a.value {
					t.Fatalf("%s/%s changed value", a.topology, a.name)
				}
			}
			for _, k := range sealedMeta {
				sealed, err := g.st.GetMeta(ctx, k)
				if err != nil {
					t.Fatal(err)
				}
				if c, _ := recordHeader(sealed); c != tt.wantCipher {
					t.Errorf("%s sealed with %s", k, c)
				}
			}
			if _, err := g.svc.LoadIdentity(ctx); err != nil {
				t.Fatal(err)
			}
			again, err := g.svc.AliasServer().ReencryptAliases(ctx, &gatewayv1.ReencryptAliasesRequest{})
			if err != nil || again.GetReencrypted() != 0 {
				t.Fatalf("second re-encryption: %d (%v), want 0", again.GetReencrypted(), err)
			}
		})
	}
}

func TestRotateMasterWithNewDataKey(t *testing.T) {
	f := newFixture(t)
	seedAliases(f)
	ctx := context.Background()
	old := f.svc.Keyring()
	resp, err := f.svc.AliasServer().RotateMaster(ctx, &gatewayv1.RotateMasterRequest{CurrentSecret: bytes.Clone(masterSecret), NewSecret: bytes.Clone(newMaster), NewDataKey: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := int32(len(testAliases) + len(sealedMeta)); resp.GetReencrypted() != want {
		t.Fatalf("re-encrypted %d, want %d", resp.GetReencrypted(), want)
	}
	cur := f.svc.Keyring()
	if cur == old || cur.KeyID() == old.KeyID() {
		t.Fatal("the live keyring was not replaced")
	}
	if _, err := old.Seal("x", []byte("y")); !errors.Is(err, secrets.ErrClosed) {
		t.Fatalf("the old keyring is still open: %v", err)
	}
	verifier, err := f.st.GetMeta(ctx, MetaVerifier)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := secrets.Unlock(masterSecret, verifier, f.settings); !errors.Is(err, secrets.ErrWrongMasterSecret) {
		t.Fatalf("the old secret on the new verifier: %v", err)
	}
	fresh, _, err := secrets.Unlock(newMaster, verifier, f.settings)
	if err != nil {
		t.Fatalf("the new secret does not unlock: %v", err)
	}
	defer fresh.Close()
	if fresh.KeyID() != cur.KeyID() {
		t.Fatal("the stored verifier is not the live keyring's")
	}
	checkOpens(t, f, fresh)
	if _, err := f.svc.LoadIdentity(ctx); err != nil {
		t.Fatal(err)
	}
	for _, a := range testAliases {
		if v, err := f.svc.Resolve(ctx, a.topology, a.name); err != nil || string(v) != a.value {
			t.Fatalf("resolving %s/%s after rotation: %v", a.topology, a.name, err)
		}
	}
	// New writes use the new key, and the CA key still signs.
	f.create("", "after", "after-VALUE")
	if _, err := f.svc.PKIServer().CreateCertificate(ctx, &gatewayv1.CreateCertificateRequest{}); err != nil {
		t.Fatalf("cert create after rotation: %v", err)
	}
	// And rotating back works too.
	if _, err := f.svc.AliasServer().RotateMaster(ctx, &gatewayv1.RotateMasterRequest{CurrentSecret: bytes.Clone(newMaster), NewSecret: bytes.Clone(masterSecret)}); err != nil {
		t.Fatal(err)
	}
	if f.reveal("", "after") != "after-VALUE" {
		t.Fatal("alias written between rotations lost")
	}
}

// A rotation with a new data key computed from a verifier another gateway
// re-wrapped meanwhile (its own plain master rotation) is refused with
// Aborted and writes nothing: the other rotation stands, and the secret
// its operator was told of opens everything.
func TestRotateMasterNewDataKeyLosesToAConcurrentRotation(t *testing.T) {
	a := newFixture(t)
	seedAliases(a)
	ctx := context.Background()
	verifier, err := a.st.GetMeta(ctx, MetaVerifier)
	if err != nil {
		t.Fatal(err)
	}
	kr, _, err := secrets.Unlock(masterSecret, verifier, a.settings)
	if err != nil {
		t.Fatal(err)
	}
	b := New(a.st, kr, Options{Settings: a.settings, Log: slog.New(slog.NewTextHandler(a.logs, nil))})
	t.Cleanup(b.Close)
	third := []byte("a-third-master-secret-from-gateway-b")
	a.svc.metaRead = func() {
		a.svc.metaRead = nil
		if _, err := b.AliasServer().RotateMaster(ctx, &gatewayv1.RotateMasterRequest{CurrentSecret: bytes.Clone(masterSecret), NewSecret: bytes.Clone(third)}); err != nil {
			t.Errorf("the other gateway's rotation: %v", err)
		}
	}
	liveKey := a.svc.Keyring().KeyID()
	_, err = a.svc.AliasServer().RotateMaster(ctx, &gatewayv1.RotateMasterRequest{CurrentSecret: bytes.Clone(masterSecret), NewSecret: bytes.Clone(newMaster), NewDataKey: true})
	if codeOf(err) != codes.Aborted || !strings.Contains(err.Error(), "try again") {
		t.Fatalf("a rotation computed from a verifier changed meanwhile: %v, want Aborted", err)
	}
	if got := a.svc.Keyring().KeyID(); got != liveKey {
		t.Fatalf("the refused rotation replaced the live data key: %s, was %s", got, liveKey)
	}
	if _, _, err := secrets.Unlock(newMaster, mustMeta(t, a.st, MetaVerifier), a.settings); !errors.Is(err, secrets.ErrWrongMasterSecret) {
		t.Fatalf("the refused rotation's secret opens the store: %v", err)
	}
	fresh, _, err := secrets.Unlock(third, mustMeta(t, a.st, MetaVerifier), a.settings)
	if err != nil {
		t.Fatalf("the other gateway's rotation was undone: %v", err)
	}
	defer fresh.Close()
	checkOpens(t, a, fresh)
}

func TestRotateMasterRefused(t *testing.T) {
	strict := fastSettings()
	strict.AllowWeak = false
	tests := []struct {
		name            string
		strict          bool
		current, newOne []byte
		want            codes.Code
		wantMsg         string
	}{
		{"wrong current secret", false, []byte("not-the-master-secret"), newMaster, codes.PermissionDenied, "wrong current master secret"},
		{"empty current secret", false, nil, newMaster, codes.InvalidArgument, "current master secret is empty"},
		{"empty new secret", false, masterSecret, nil, codes.InvalidArgument, "new master secret is empty"},
		{"short new secret", true, masterSecret, []byte("short-1"), codes.InvalidArgument, "shorter than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			seedAliases(f)
			if tt.strict {
				f.svc.settings = strict.WithDefaults()
			}
			before := f.snapshot()
			kr := f.svc.Keyring()
			_, err := f.svc.AliasServer().RotateMaster(context.Background(), &gatewayv1.RotateMasterRequest{CurrentSecret: bytes.Clone(tt.current), NewSecret: bytes.Clone(tt.newOne)})
			if codeOf(err) != tt.want || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error %v, want %v %q", err, tt.want, tt.wantMsg)
			}
			assertNoLeak(t, "the error", err.Error(), tt.current, tt.newOne, masterSecret)
			sameSnapshot(t, before, f.snapshot())
			if f.svc.Keyring() != kr {
				t.Fatal("the keyring changed")
			}
			checkOpens(t, f, kr)
		})
	}
}

var errInjected = errors.New("injected failure")

func TestRotateMasterFailureKeepsOldState(t *testing.T) {
	n := len(testAliases)
	tests := []struct {
		name      string
		failAfter int  // fail in the rewrite after this many aliases resealed
		damage    bool // instead, damage one record
	}{
		{"first alias", 1, false},
		{"middle alias", n / 2, false},
		{"last alias, before commit", n, false},
		{"damaged record", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			seedAliases(f)
			ctx := context.Background()
			if tt.damage {
				key := aliasRef{"prod", "db"}.key()
				o, err := f.st.GetObject(ctx, store.KindAlias, key)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.st.PutObject(ctx, store.Object{Kind: store.KindAlias, Key: key, Value: flip(o.Value, len(o.Value)-2)}, store.NoRevisionCheck); err != nil {
					t.Fatal(err)
				}
			}
			calls := 0
			f.svc.resealed = func(done int) error {
				calls++
				if done == tt.failAfter {
					return errInjected
				}
				return nil
			}
			before := f.snapshot()
			kr := f.svc.Keyring()
			_, err := f.svc.AliasServer().RotateMaster(ctx, &gatewayv1.RotateMasterRequest{CurrentSecret: bytes.Clone(masterSecret), NewSecret: bytes.Clone(newMaster), NewDataKey: true})
			switch {
			case tt.damage && (codeOf(err) != codes.DataLoss || !strings.Contains(err.Error(), `"db"`)):
				t.Fatalf("rotation over a damaged record: %v, want DataLoss naming it", err)
			case !tt.damage && (!errors.Is(err, errInjected) || calls != tt.failAfter):
				t.Fatalf("rotation: %v after %d aliases, want the injected failure after %d", err, calls, tt.failAfter)
			}
			sameSnapshot(t, before, f.snapshot())
			if f.svc.Keyring() != kr || f.svc.next.Load() != nil {
				t.Fatal("the live keyring changed")
			}
			verifier, err := f.st.GetMeta(ctx, MetaVerifier)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := secrets.Unlock(newMaster, verifier, f.settings); !errors.Is(err, secrets.ErrWrongMasterSecret) {
				t.Fatalf("the new secret opens the verifier after a failed rotation: %v", err)
			}
			if v, err := f.svc.Resolve(ctx, "", "ldap-bind"); err != nil || string(v) != "gw-ldap-VALUE-1" {
				t.Fatalf("resolving after a failed rotation: %v", err)
			}
			if tt.damage {
				return
			}
			checkOpens(t, f, kr)
			f.svc.resealed = nil
			if _, err := f.svc.AliasServer().RotateMaster(ctx, &gatewayv1.RotateMasterRequest{CurrentSecret: bytes.Clone(masterSecret), NewSecret: bytes.Clone(newMaster), NewDataKey: true}); err != nil {
				t.Fatalf("rotation after a failed one: %v", err)
			}
			checkOpens(t, f, f.svc.Keyring())
		})
	}
}

// TestRotateMaster without a new data key changes the verifier only: the
// new secret unlocks it, the old one does not, no record changes, the live
// keyring stays, and writes after it open with the new secret.
func TestRotateMaster(t *testing.T) {
	f := newFixture(t)
	seedAliases(f)
	ctx := context.Background()
	before := f.snapshot()
	kr := f.svc.Keyring()
	resp, err := f.svc.AliasServer().RotateMaster(ctx, &gatewayv1.RotateMasterRequest{CurrentSecret: bytes.Clone(masterSecret), NewSecret: bytes.Clone(newMaster)})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetReencrypted() != 0 {
		t.Fatalf("re-encrypted %d records, want none", resp.GetReencrypted())
	}
	after := f.snapshot()
	delete(before, "meta:"+MetaVerifier)
	if after["meta:"+MetaVerifier] == "" {
		t.Fatal("no verifier after the rotation")
	}
	delete(after, "meta:"+MetaVerifier)
	sameSnapshot(t, before, after)
	if f.svc.Keyring() != kr {
		t.Fatal("the live keyring was replaced")
	}
	verifier, err := f.st.GetMeta(ctx, MetaVerifier)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := secrets.Unlock(masterSecret, verifier, f.settings); !errors.Is(err, secrets.ErrWrongMasterSecret) {
		t.Fatalf("the old secret on the new verifier: %v", err)
	}
	f.create("", "after", "after-VALUE")
	fresh, _, err := secrets.Unlock(newMaster, verifier, f.settings)
	if err != nil {
		t.Fatalf("the new secret does not unlock: %v", err)
	}
	defer fresh.Close()
	checkOpens(t, f, fresh)
	if _, err := f.svc.AliasServer().RotateMaster(ctx, &gatewayv1.RotateMasterRequest{CurrentSecret: bytes.Clone(masterSecret), NewSecret: bytes.Clone(newMaster)}); codeOf(err) != codes.PermissionDenied {
		t.Fatalf("a second rotation from the old secret: %v, want PermissionDenied", err)
	}
}

// Two gateways on one store (two services over one store): a rotation
// through one, of the master secret alone or with a new data key, leaves
// the other opening every alias, and aliases created through either open
// on both.
func TestRotateMasterSeenByAnotherGateway(t *testing.T) {
	for _, newDataKey := range []bool{false, true} {
		t.Run(fmt.Sprintf("new data key %v", newDataKey), func(t *testing.T) {
			a := newFixture(t)
			seedAliases(a)
			ctx := context.Background()
			verifier, err := a.st.GetMeta(ctx, MetaVerifier)
			if err != nil {
				t.Fatal(err)
			}
			kr, _, err := secrets.Unlock(masterSecret, verifier, a.settings)
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var followed []string // the data keys b was told of
			b := New(a.st, kr, Options{Settings: a.settings, Log: slog.New(slog.NewTextHandler(a.logs, nil)),
				OnDataKey: func(kr *secrets.Keyring) {
					mu.Lock()
					defer mu.Unlock()
					followed = append(followed, kr.KeyID())
				}})
			t.Cleanup(b.Close)
			a.create("", "before", "before-VALUE")

			if _, err := a.svc.AliasServer().RotateMaster(ctx, &gatewayv1.RotateMasterRequest{CurrentSecret: bytes.Clone(masterSecret), NewSecret: bytes.Clone(newMaster), NewDataKey: newDataKey}); err != nil {
				t.Fatal(err)
			}
			for _, al := range testAliases {
				if v, err := b.Resolve(ctx, al.topology, al.name); err != nil || string(v) != al.value {
					t.Fatalf("the other gateway resolving %s/%s after the rotation: %v", al.topology, al.name, err)
				}
			}
			if _, err := b.LoadIdentity(ctx); err != nil {
				t.Fatalf("the other gateway's TLS identity after the rotation: %v", err)
			}
			if got, want := b.Keyring().KeyID(), a.svc.Keyring().KeyID(); got != want {
				t.Fatalf("the other gateway runs with key %s, the store has %s", got, want)
			}
			// Keys derived from the data key (datanode sealing) follow it
			// on the other gateway too.
			mu.Lock()
			told := slices.Clone(followed)
			mu.Unlock()
			if want := []string{a.svc.Keyring().KeyID()}; newDataKey && !slices.Equal(told, want) || !newDataKey && len(told) != 0 {
				t.Fatalf("the other gateway was told of data keys %q (new data key %v, the store has %s)", told, newDataKey, want[0])
			}
			a.remember([]byte("from-b-VALUE"))
			if _, err := b.AliasServer().CreateAlias(ctx, &gatewayv1.CreateAliasRequest{Name: "from-b", Value: []byte("from-b-VALUE")}); err != nil {
				t.Fatal(err)
			}
			if got := a.reveal("", "from-b"); got != "from-b-VALUE" {
				t.Fatalf("an alias created through the other gateway: %q", got)
			}
			// What a restart does: only the new secret opens everything.
			fresh, _, err := secrets.Unlock(newMaster, mustMeta(t, a.st, MetaVerifier), a.settings)
			if err != nil {
				t.Fatalf("the new secret after the rotation: %v", err)
			}
			defer fresh.Close()
			checkOpens(t, a, fresh)
		})
	}
}

// A gateway that wrote under the old data key just after another one
// rotated it (the write raced the switch) seals again under the new key.
func TestWriteRacingADataKeyRotationIsResealed(t *testing.T) {
	a := newFixture(t)
	ctx := context.Background()
	verifier := mustMeta(t, a.st, MetaVerifier)
	kr, _, err := secrets.Unlock(masterSecret, verifier, a.settings)
	if err != nil {
		t.Fatal(err)
	}
	b := New(a.st, kr, Options{Settings: a.settings})
	t.Cleanup(b.Close)
	// b seals under the old key; the rotation through a commits between
	// b's seal and its write (the store's write hook of this test runs it).
	rotated := false
	racing := &hookStore{Store: a.st, beforePut: func() {
		if rotated {
			return
		}
		rotated = true
		if _, err := a.svc.AliasServer().RotateMaster(ctx, &gatewayv1.RotateMasterRequest{CurrentSecret: bytes.Clone(masterSecret), NewSecret: bytes.Clone(newMaster), NewDataKey: true}); err != nil {
			t.Error(err)
		}
	}}
	b.st = racing
	a.remember([]byte("raced-VALUE"))
	if _, err := b.AliasServer().CreateAlias(ctx, &gatewayv1.CreateAliasRequest{Name: "raced", Value: []byte("raced-VALUE")}); err != nil {
		t.Fatal(err)
	}
	if !rotated {
		t.Fatal("the rotation did not run between the seal and the write")
	}
	if got := a.reveal("", "raced"); got != "raced-VALUE" {
		t.Fatalf("the raced alias through the rotating gateway: %q", got)
	}
}

// hookStore runs beforePut before each PutObject.
type hookStore struct {
	store.Store
	beforePut func()
}

func (h *hookStore) PutObject(ctx context.Context, o store.Object, expect int64) (store.Object, error) {
	h.beforePut()
	return h.Store.PutObject(ctx, o, expect)
}

func mustMeta(t *testing.T, st store.Store, key string) []byte {
	t.Helper()
	v, err := st.GetMeta(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestRotateUnderLoad rotates while readers resolve aliases and load the
// TLS identity and writers create aliases: no read fails, no write is lost.
func TestRotateUnderLoad(t *testing.T) {
	f := newFixture(t)
	seedAliases(f)
	ctx := context.Background()
	done := make(chan struct{})
	errs := make(chan error, 100)
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				a := testAliases[(i+w)%len(testAliases)]
				v, err := f.svc.Resolve(ctx, a.topology, a.name)
				if err == nil && string(v) != a.value {
					err = fmt.Errorf("%s/%s resolved to another value", a.topology, a.name)
				}
				if err == nil && w == 0 {
					_, err = f.svc.LoadIdentity(ctx)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	const writes = 20
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range writes {
			req := &gatewayv1.CreateAliasRequest{Topology: "writers", Name: fmt.Sprintf("w-%d", i), Value: fmt.Appendf(nil, "written-VALUE-%d", i)}
			if _, err := f.svc.AliasServer().CreateAlias(ctx, req); err != nil {
				errs <- err
				return
			}
		}
	}()
	secretsList := [][]byte{masterSecret, newMaster}
	for i := range 4 { // a new data key every other time
		_, err := f.svc.AliasServer().RotateMaster(ctx, &gatewayv1.RotateMasterRequest{CurrentSecret: bytes.Clone(secretsList[i%2]), NewSecret: bytes.Clone(secretsList[(i+1)%2]), NewDataKey: i%2 == 0})
		if err != nil {
			t.Fatalf("rotation %d: %v", i, err)
		}
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := range writes {
		if got := f.reveal("writers", fmt.Sprintf("w-%d", i)); got != fmt.Sprintf("written-VALUE-%d", i) {
			t.Fatalf("alias w-%d written during rotations does not open", i)
		}
	}
}
