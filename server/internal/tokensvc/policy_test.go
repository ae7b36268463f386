package tokensvc

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
	"github.com/securegw/gateway/server/internal/apierr"
	"github.com/securegw/gateway/store"
	"github.com/securegw/gateway/store/bolt"
)

// A policy stored by a version without group_source, naming subjects by
// group, is refused when put again, but the stored one keeps issuing what
// needs no group lookup (named subjects); what needs one fails closed per
// request, and nothing is issued for it.
func TestPolicyStoredWithoutGroupSource(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := New(st, plainSealer{st}, Options{Issuer: "x"})
	ctx := context.Background()
	_, _ = s.activeKey(ctx, "ES256") // creates the key; live once applied
	if err := s.Apply(ctx, []store.Change{{Kind: store.KindMeta, Key: "tokens/signing-keys"}}); err != nil {
		t.Fatal(err)
	}
	pb := &gatewayv1.TokenPolicy{Name: "old", AllowedCertificateSubjects: []string{"broker"},
		AllowedSubjects: []string{"carol"}, AllowedSubjectGroups: []string{"etl-users"}}
	if _, err := s.PutPolicy(ctx, pb, store.NoRevisionCheck); err == nil || !strings.Contains(err.Error(), "needs group_source") {
		t.Fatalf("putting a group policy without group_source: %v", err)
	}
	b, err := protojson.Marshal(pb)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutObject(ctx, store.Object{Kind: store.KindTokenPolicy, Key: "old", Value: b}, store.NoRevisionCheck); err != nil {
		t.Fatal(err)
	}
	broker := Caller{Name: "broker", Management: true}
	if _, err := s.Issue(ctx, broker, Request{Policy: "old", OnBehalfOf: "carol"}); err != nil {
		t.Fatalf("a named subject under the stored policy: %v", err)
	}
	_, err = s.Issue(ctx, broker, Request{Policy: "old", OnBehalfOf: "alice"})
	if apierr.KindOf(err) != apierr.FailedPrecondition || !strings.Contains(err.Error(), "names no group_source") {
		t.Fatalf("a subject only a group lookup could allow: %v, want FailedPrecondition", err)
	}
	states, err := st.ListObjects(ctx, store.KindToken, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != 1 {
		t.Fatalf("%d token states stored, want carol's only", len(states))
	}
}
