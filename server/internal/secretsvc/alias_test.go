package secretsvc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/securegw/gateway/internal/secrets"
	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
	"github.com/securegw/gateway/store"
)

func TestCreateAlias(t *testing.T) {
	f := newFixture(t)
	value := []byte("ldap-bind-p4ssw0rd-VALUE")
	big := bytes.Repeat([]byte("v"), MaxValueLen)
	tests := []struct {
		name     string
		alias    string
		topology string
		value    []byte
		generate int32
		want     codes.Code
	}{
		{"gateway scope", "ldap-bind-password", "", value, 0, codes.OK},
		{"topology scope", "ldap-bind-password", "sandbox", value, 0, codes.OK},
		{"name of 128 characters", strings.Repeat("a", 128), "", value, 0, codes.OK},
		{"name with dot underscore dash", "A0._-z", "", value, 0, codes.OK},
		{"one-byte value", "one-byte", "", []byte("x"), 0, codes.OK},
		{"64 KiB value", "big", "", big, 0, codes.OK},
		{"generate 1", "gen-1", "", nil, 1, codes.OK},
		{"generate 1024", "gen-1024", "sandbox", nil, MaxGenerateLen, codes.OK},

		{"empty name", "", "", value, 0, codes.InvalidArgument},
		{"name of 129 characters", strings.Repeat("a", 129), "", value, 0, codes.InvalidArgument},
		{"name starting with a dash", "-x", "", value, 0, codes.InvalidArgument},
		{"name starting with a dot", ".x", "", value, 0, codes.InvalidArgument},
		{"name with a slash", "a/b", "", value, 0, codes.InvalidArgument},
		{"name with a space", "a b", "", value, 0, codes.InvalidArgument},
		{"name with a colon", "a:b", "", value, 0, codes.InvalidArgument},
		{"non-ASCII name", "café", "", value, 0, codes.InvalidArgument},
		{"reference syntax as name", "${alias:x}", "", value, 0, codes.InvalidArgument},
		{"topology with a slash", "x", "a/b", value, 0, codes.InvalidArgument},
		{"topology traversal", "x", "..", value, 0, codes.InvalidArgument},
		{"topology star", "x", "*", value, 0, codes.InvalidArgument},
		{"topology of 65 characters", "x", strings.Repeat("t", 65), value, 0, codes.InvalidArgument},
		{"topology named gateway", "x", "gateway", value, 0, codes.InvalidArgument},
		{"empty value", "x", "", nil, 0, codes.InvalidArgument},
		{"value over 64 KiB", "x", "", append(bytes.Clone(big), 'v'), 0, codes.InvalidArgument},
		{"value and generate", "x", "", value, 8, codes.InvalidArgument},
		{"generate negative", "x", "", nil, -1, codes.InvalidArgument},
		{"generate over 1024", "x", "", nil, MaxGenerateLen + 1, codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &gatewayv1.CreateAliasRequest{Name: tt.alias, Topology: tt.topology, Value: bytes.Clone(tt.value), GenerateLength: tt.generate}
			resp, err := f.svc.AliasServer().CreateAlias(context.Background(), req)
			if got := codeOf(err); got != tt.want {
				t.Fatalf("code %v (%v), want %v", got, err, tt.want)
			}
			if err != nil {
				assertNoLeak(t, "the error", err.Error(), value)
				if _, err := f.st.GetObject(context.Background(), store.KindAlias, aliasRef{tt.topology, tt.alias}.key()); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("a refused alias was stored: %v", err)
				}
				return
			}
			info := resp.GetAlias()
			if info.GetName() != tt.alias || info.GetTopology() != tt.topology {
				t.Errorf("info names %q/%q", info.GetTopology(), info.GetName())
			}
			got := f.reveal(tt.topology, tt.alias)
			assertNoLeak(t, "the response", protoText(resp), []byte(got))
			switch {
			case tt.generate > 0 && len(got) != int(tt.generate):
				t.Errorf("generated %d bytes, want %d", len(got), tt.generate)
			case tt.generate == 0 && got != string(tt.value):
				t.Errorf("revealed value differs from the stored one")
			}
		})
	}
}

func TestCreateAliasExisting(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.create("", "db", "first-VALUE-1")
	f.create("sandbox", "db", "topology-VALUE-2") // same name, other scope: independent

	_, err := f.svc.AliasServer().CreateAlias(ctx, &gatewayv1.CreateAliasRequest{Name: "db", Value: []byte("second-VALUE-3")})
	if codeOf(err) != codes.AlreadyExists || !strings.Contains(err.Error(), `"db"`) {
		t.Fatalf("create over an existing alias: %v, want AlreadyExists naming it", err)
	}
	// gatewayctl passes the message on as it is: it names the flag that
	// replaces the alias, not only the API's field.
	if !strings.Contains(err.Error(), "gatewayctl alias create --overwrite") {
		t.Errorf("create over an existing alias: %v, want the way to replace it (gatewayctl alias create --overwrite)", err)
	}
	assertNoLeak(t, "the error", err.Error(), []byte("first-VALUE-1"), []byte("second-VALUE-3"))
	if got := f.reveal("", "db"); got != "first-VALUE-1" {
		t.Fatal("a refused create changed the value")
	}

	if _, err := f.svc.AliasServer().CreateAlias(ctx, &gatewayv1.CreateAliasRequest{Name: "db", Value: []byte("second-VALUE-3"), Overwrite: true}); err != nil {
		t.Fatalf("overwrite: %v", err)
	}
	if got := f.reveal("", "db"); got != "second-VALUE-3" {
		t.Fatal("overwrite did not replace the value")
	}
	if got := f.reveal("sandbox", "db"); got != "topology-VALUE-2" {
		t.Fatal("overwriting the gateway alias changed the topology's")
	}
}

func TestGeneratedValues(t *testing.T) {
	f := newFixture(t)
	seen := map[string]bool{}
	for i := range 20 {
		name := fmt.Sprintf("gen-%d", i)
		resp, err := f.svc.AliasServer().CreateAlias(context.Background(), &gatewayv1.CreateAliasRequest{Name: name, GenerateLength: 32})
		if err != nil {
			t.Fatal(err)
		}
		v := f.reveal("", name)
		f.remember([]byte(v))
		assertNoLeak(t, "the create response", protoText(resp), []byte(v))
		if len(v) != 32 || strings.Trim(v, alnum) != "" {
			t.Fatalf("generated value of %d bytes is not 32 letters and digits", len(v))
		}
		if seen[v] {
			t.Fatal("the same value was generated twice")
		}
		seen[v] = true
	}
}

func TestListAliases(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.create("", "b", "gw-b-VALUE")
	f.create("", "a", "gw-a-VALUE")
	f.create("t1", "a", "t1-a-VALUE")
	f.create("0t", "c", "0t-c-VALUE") // sorts before "@gateway" in the store
	start := time.Now()

	// The store layout is documented: SCOPE/NAME, "@gateway" for the gateway.
	objs, err := f.st.ListObjects(ctx, store.KindAlias, "")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	if want := []string{"0t/c", "@gateway/a", "@gateway/b", "t1/a"}; !slices.Equal(keys, want) {
		t.Fatalf("store keys %q, want %q", keys, want)
	}

	tests := []struct {
		topology string
		want     []string // topology/name
		code     codes.Code
	}{
		{"", []string{"/a", "/b"}, codes.OK},
		{"t1", []string{"t1/a"}, codes.OK},
		{"*", []string{"/a", "/b", "0t/c", "t1/a"}, codes.OK},
		{"t2", nil, codes.OK},
		{"gateway", nil, codes.InvalidArgument},
		{"a/b", nil, codes.InvalidArgument},
	}
	kr := f.svc.Keyring()
	for _, tt := range tests {
		t.Run("scope "+tt.topology, func(t *testing.T) {
			resp, err := f.svc.AliasServer().ListAliases(ctx, &gatewayv1.ListAliasesRequest{Topology: tt.topology})
			if codeOf(err) != tt.code {
				t.Fatalf("code %v (%v), want %v", codeOf(err), err, tt.code)
			}
			var got []string
			for _, a := range resp.GetAliases() {
				got = append(got, a.GetTopology()+"/"+a.GetName())
				assertNoLeak(t, "AliasInfo", protoText(a), []byte("gw-b-VALUE"), []byte("gw-a-VALUE"), []byte("t1-a-VALUE"), []byte("0t-c-VALUE"))
				switch {
				case a.GetKdf() != f.settings.KDF.String():
					t.Errorf("kdf %q, want %q", a.GetKdf(), f.settings.KDF.String())
				case a.GetCipher() != secrets.CipherAES256GCM:
					t.Errorf("cipher %q", a.GetCipher())
				case a.GetKeyId() != kr.KeyID():
					t.Errorf("key id %q, want %q", a.GetKeyId(), kr.KeyID())
				case a.GetStale():
					t.Error("a fresh record is stale")
				case a.GetUpdatedAt().AsTime().Before(start.Add(-time.Minute)):
					t.Errorf("updated at %v", a.GetUpdatedAt().AsTime())
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("listed %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDeleteAlias(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.create("", "a", "gw-a-VALUE")
	f.create("t1", "a", "t1-a-VALUE")
	tests := []struct {
		name, topology, alias string
		want                  codes.Code
	}{
		{"gateway alias", "", "a", codes.OK},
		{"already deleted", "", "a", codes.NotFound},
		{"never existed", "t1", "nope", codes.NotFound},
		{"invalid name", "", "a/b", codes.InvalidArgument},
		{"invalid scope", "../t1", "a", codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.AliasServer().DeleteAlias(ctx, &gatewayv1.DeleteAliasRequest{Name: tt.alias, Topology: tt.topology})
			if codeOf(err) != tt.want {
				t.Fatalf("code %v (%v), want %v", codeOf(err), err, tt.want)
			}
		})
	}
	if _, err := f.svc.Resolve(ctx, "", "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted alias resolves: %v", err)
	}
	if got := f.reveal("t1", "a"); got != "t1-a-VALUE" {
		t.Fatal("deleting the gateway alias touched the topology's")
	}
}

func TestRevealAliasIsExact(t *testing.T) {
	f := newFixture(t)
	f.create("", "only-gateway", "gw-VALUE")
	// Reveal names one record: no fallback to the gateway scope.
	_, err := f.svc.AliasServer().RevealAlias(context.Background(), &gatewayv1.RevealAliasRequest{Name: "only-gateway", Topology: "t1"})
	if codeOf(err) != codes.NotFound || !strings.Contains(err.Error(), "only-gateway") {
		t.Fatalf("reveal in the wrong scope: %v", err)
	}
	_, err = f.svc.AliasServer().RevealAlias(context.Background(), &gatewayv1.RevealAliasRequest{Name: "bad name"})
	if codeOf(err) != codes.InvalidArgument {
		t.Fatalf("reveal with a bad name: %v", err)
	}
}

func TestResolveScopes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.create("", "shared", "G-shared")
	f.create("", "only-gw", "G-only")
	f.create("t1", "shared", "T1-shared")
	f.create("t2", "only-t2", "T2-only")

	tests := []struct {
		topology, alias string
		want            string
		wantErr         error
	}{
		{"t1", "shared", "T1-shared", nil},       // topology scope first
		{"t2", "shared", "G-shared", nil},        // then the gateway's
		{"t1", "only-gw", "G-only", nil},         // gateway alias seen by every topology
		{"t1", "only-t2", "", store.ErrNotFound}, // another topology's alias is not
		{"", "shared", "G-shared", nil},
		{"gateway", "shared", "G-shared", nil}, // topology "gateway" has no scope of its own
		{"t1", "nope", "", store.ErrNotFound},
		{"t1", "bad/name", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.topology+"/"+tt.alias, func(t *testing.T) {
			got, err := f.svc.Resolve(ctx, tt.topology, tt.alias)
			switch {
			case tt.want != "":
				if err != nil || string(got) != tt.want {
					t.Fatalf("resolved (%v), want the %s value", err, tt.want)
				}
			case err == nil:
				t.Fatal("resolved an alias that should not resolve")
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			case !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.alias)):
				t.Fatalf("error %q does not name the alias", err)
			}
		})
	}

	missing := []struct {
		topology string
		names    []string
		want     []string
	}{
		{"t1", []string{"shared", "only-gw", "only-t2", "nope", "nope"}, []string{"only-t2", "nope"}},
		{"t2", []string{"only-t2", "shared"}, nil},
		{"", []string{"shared", "only-t2"}, []string{"only-t2"}},
		{"gateway", []string{"only-gw", "only-t2"}, []string{"only-t2"}},
		{"t3", nil, nil},
	}
	for _, tt := range missing {
		t.Run("missing in "+tt.topology, func(t *testing.T) {
			got, err := f.svc.MissingAliases(ctx, f.st, tt.topology, tt.names)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("missing %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDamagedRecords(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.create("", "victim", "victim-VALUE-123")
	f.create("", "bystander", "bystander-VALUE-456")
	f.create("t1", "victim", "t1-victim-VALUE-789")
	get := func(key string) store.Object {
		o, err := f.st.GetObject(ctx, store.KindAlias, key)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	put := func(key string, v []byte) {
		if _, err := f.st.PutObject(ctx, store.Object{Kind: store.KindAlias, Key: key, Value: v}, store.NoRevisionCheck); err != nil {
			t.Fatal(err)
		}
	}
	orig := get("@gateway/victim").Value
	other := get("@gateway/bystander").Value
	inTopology := get("t1/victim").Value

	tests := []struct {
		name     string
		key      string // the record replaced
		value    []byte
		topology string // the scope resolved and revealed
		alias    string
	}{
		{"version byte flipped", "@gateway/victim", flip(orig, 0), "", "victim"},
		{"cipher byte flipped", "@gateway/victim", flip(orig, 1), "", "victim"},
		{"key id flipped", "@gateway/victim", flip(orig, 5), "", "victim"},
		{"nonce flipped", "@gateway/victim", flip(orig, 12), "", "victim"},
		{"ciphertext flipped", "@gateway/victim", flip(orig, len(orig)-20), "", "victim"},
		{"tag flipped", "@gateway/victim", flip(orig, len(orig)-1), "", "victim"},
		{"truncated", "@gateway/victim", orig[:len(orig)-1], "", "victim"},
		{"another alias' record", "@gateway/victim", other, "", "victim"},
		{"gateway record in a topology", "t1/victim", orig, "t1", "victim"},
		// A damaged topology record fails; it does not fall back to the gateway's.
		{"topology record flipped", "t1/victim", flip(inTopology, len(inTopology)-3), "t1", "victim"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			saved := get(tt.key).Value
			put(tt.key, tt.value)
			defer put(tt.key, saved)

			_, err := f.svc.Resolve(ctx, tt.topology, tt.alias)
			if !errors.Is(err, secrets.ErrIntegrity) || !strings.Contains(err.Error(), `"victim"`) {
				t.Fatalf("Resolve: %v, want an integrity error naming the alias", err)
			}
			_, err = f.svc.AliasServer().RevealAlias(ctx, &gatewayv1.RevealAliasRequest{Name: tt.alias, Topology: tt.topology})
			if codeOf(err) != codes.DataLoss || !strings.Contains(err.Error(), `"victim"`) {
				t.Fatalf("RevealAlias: %v, want DataLoss naming the alias", err)
			}
			assertNoLeak(t, "the error", err.Error(), []byte("victim-VALUE-123"), []byte("bystander-VALUE-456"), []byte("t1-victim-VALUE-789"))
			if v, err := f.svc.Resolve(ctx, "", "bystander"); err != nil || string(v) != "bystander-VALUE-456" {
				t.Fatalf("another alias is affected: %v", err)
			}
			if _, err := f.svc.AliasServer().ListAliases(ctx, &gatewayv1.ListAliasesRequest{Topology: "*"}); err != nil {
				t.Fatalf("listing with a damaged record: %v", err)
			}
		})
	}
	if f.reveal("", "victim") != "victim-VALUE-123" || f.reveal("t1", "victim") != "t1-victim-VALUE-789" {
		t.Fatal("restored records do not open")
	}
}

func flip(b []byte, i int) []byte {
	out := bytes.Clone(b)
	out[i] ^= 0x01
	return out
}
