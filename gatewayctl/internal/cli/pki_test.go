package cli

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/securegw/gateway/internal/testpki"
)

// testPKI is the CA, server and client identities shared by the tests,
// plus a second CA that gatewayd does not use.
type testPKI struct {
	ca, otherCA    *testpki.CA
	server, client *testpki.Leaf
	otherClient    *testpki.Leaf // issued by otherCA
}

var (
	pkiOnce   sync.Once
	sharedPKI *testPKI
)

func getPKI(t testing.TB) *testPKI {
	pkiOnce.Do(func() {
		ca := testpki.NewCA(t, "test gateway CA")
		other := testpki.NewCA(t, "some other CA")
		sharedPKI = &testPKI{
			ca:          ca,
			otherCA:     other,
			server:      ca.Server(t, "127.0.0.1", "gatewayd.test"),
			client:      ca.Client(t, "admin"),
			otherClient: other.Client(t, "mallory"),
		}
	})
	return sharedPKI
}

// writeFile writes a test file under dir and returns its path.
func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
