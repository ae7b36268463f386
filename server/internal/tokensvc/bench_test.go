package tokensvc

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/securegw/gateway/store"
	"github.com/securegw/gateway/store/bolt"
)

// plainSealer stores the key file unsealed: the benchmark measures issuance.
type plainSealer struct{ st store.Store }

func (p plainSealer) LoadSealedMeta(ctx context.Context, key string) ([]byte, int64, error) {
	return p.st.GetMetaRevision(ctx, key)
}
func (p plainSealer) StoreSealedMeta(ctx context.Context, key string, plain []byte, expect int64) (int64, error) {
	return p.st.PutMeta(ctx, key, plain, expect)
}

// BenchmarkIssue issues ES256 tokens from 32 goroutines into a real bbolt
// store (state persisted, fsyncs shared by the group commit), without gRPC.
func BenchmarkIssue(b *testing.B) {
	st, err := bolt.Open(filepath.Join(b.TempDir(), "db"), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	s := New(st, plainSealer{st}, Options{Issuer: "x"})
	ctx := context.Background()
	_, _ = s.activeKey(ctx, "ES256")
	_ = s.Apply(ctx, []store.Change{{Kind: store.KindMeta, Key: "tokens/signing-keys"}})
	if _, err := s.Issue(ctx, Caller{Name: "admin"}, Request{}); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Issue(ctx, Caller{Name: "admin"}, Request{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
