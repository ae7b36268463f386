package secretsvc

import (
	"context"
	"fmt"
	"github.com/securegw/gateway/internal/secrets"
	"testing"
	"time"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

// BenchmarkResolve measures an alias read: one bbolt read transaction and
// one AEAD open.
func BenchmarkResolve(b *testing.B) {
	f := newFixture(b)
	for i := range 100 {
		f.create("", fmt.Sprintf("alias-%d", i), fmt.Sprintf("gateway-value-%d", i))
		f.create("t1", fmt.Sprintf("own-%d", i), fmt.Sprintf("topology-value-%d", i))
	}
	ctx := context.Background()
	for _, bc := range []struct{ name, alias string }{
		{"topology scope", "own-42"},
		{"gateway scope fallback", "alias-42"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				v, err := f.svc.Resolve(ctx, "t1", bc.alias)
				if err != nil {
					b.Fatal(err)
				}
				clear(v)
			}
		})
	}
}

// BenchmarkCreateAlias measures an alias write: seal, one bbolt update
// transaction, fsync.
func BenchmarkCreateAlias(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	value := []byte("a-credential-of-moderate-length-0123456789")
	i := 0
	for b.Loop() {
		req := &gatewayv1.CreateAliasRequest{Name: fmt.Sprintf("alias-%d", i), Value: value}
		if _, err := f.svc.AliasServer().CreateAlias(ctx, req); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkRotate10k measures a master-secret rotation over 10,000
// aliases: two KDF runs (checking the current secret, wrapping the new
// data key) and one transaction resealing every record.
func BenchmarkRotate10k(b *testing.B) {
	b.Run("test-kdf", func(b *testing.B) { benchmarkRotate(b, fastSettings()) })
	// The default KDF (argon2id, 64 MiB, t=3): what an operator waits for.
	b.Run("default-kdf", func(b *testing.B) { benchmarkRotate(b, secrets.DefaultSettings()) })
}

func benchmarkRotate(b *testing.B, s secrets.Settings) {
	const n = 10_000
	f := newFixtureWith(b, s)
	ctx := context.Background()
	start := time.Now()
	for i := range n {
		f.create("", fmt.Sprintf("alias-%05d", i), fmt.Sprintf("value-%05d", i))
	}
	b.Logf("created %d aliases in %v", n, time.Since(start))
	secretsList := [][]byte{masterSecret, newMaster}
	i := 0
	for b.Loop() {
		cur, next := secretsList[i%2], secretsList[(i+1)%2]
		resp, err := f.svc.AliasServer().RotateMaster(ctx, &gatewayv1.RotateMasterRequest{CurrentSecret: append([]byte(nil), cur...), NewSecret: append([]byte(nil), next...), NewDataKey: true})
		if err != nil {
			b.Fatal(err)
		}
		if resp.GetReencrypted() != n+2 {
			b.Fatalf("re-encrypted %d records, want %d", resp.GetReencrypted(), n+2)
		}
		i++
	}
}
