package secretsvc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/securegw/gateway/internal/secrets"
	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
	"github.com/securegw/gateway/store"
	"github.com/securegw/gateway/store/bolt"
)

// helperEnv tells the test binary, re-executed by TestRotateCrash, to run
// TestHelperRotate: "STORE-PATH;POINT", POINT being "resealed:N" (kill after
// N aliases are resealed, inside the write transaction) or "committed"
// (kill after the commit, before the keyring swap).
const helperEnv = "SECRETSVC_ROTATE_CRASH_HELPER"

const crashAliases = 25

func crashValue(i int) string { return fmt.Sprintf("crash-VALUE-%03d", i) }

// TestHelperRotate is not a test: it is the process TestRotateCrash kills.
func TestHelperRotate(t *testing.T) {
	spec := os.Getenv(helperEnv)
	if spec == "" {
		t.Skip("helper process of TestRotateCrash")
	}
	path, point, _ := strings.Cut(spec, ";")
	f := openFixture(t, path, masterSecret, fastSettings())
	kill := func() { _ = syscall.Kill(os.Getpid(), syscall.SIGKILL) }
	if n, ok := strings.CutPrefix(point, "resealed:"); ok {
		at, err := strconv.Atoi(n)
		if err != nil {
			t.Fatal(err)
		}
		f.svc.resealed = func(done int) error {
			if done == at {
				kill()
			}
			return nil
		}
	} else {
		f.svc.committed = kill
	}
	_, err := f.svc.AliasServer().RotateMaster(context.Background(), &gatewayv1.RotateMasterRequest{CurrentSecret: bytes.Clone(masterSecret), NewSecret: bytes.Clone(newMaster), NewDataKey: true})
	t.Fatalf("RotateMaster returned (%v): the process should have been killed", err)
}

// TestRotateCrash kills a process rotating the master secret at points of
// the rewrite; the store then holds the old state or the new one, whole.
func TestRotateCrash(t *testing.T) {
	if os.Getenv(helperEnv) != "" {
		t.Skip("in the helper process")
	}
	tests := []struct {
		point   string
		wantNew bool
	}{
		{"resealed:1", false},
		{"resealed:12", false},
		{fmt.Sprintf("resealed:%d", crashAliases), false}, // every alias resealed, not committed
		{"committed", true},
	}
	for _, tt := range tests {
		t.Run(tt.point, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "gateway.db")
			seedStore(t, path, masterSecret, fastSettings())
			f := openFixture(t, path, masterSecret, fastSettings())
			for i := range crashAliases {
				topology := ""
				if i%3 == 0 {
					topology = "sandbox"
				}
				f.create(topology, fmt.Sprintf("a-%03d", i), crashValue(i))
			}
			f.svc.Close()
			if err := f.st.Close(); err != nil {
				t.Fatal(err)
			}

			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperRotate$", "-test.count=1")
			cmd.Env = append(os.Environ(), helperEnv+"="+path+";"+tt.point)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("helper: %v\n%s", err, out)
			}
			if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("helper was not killed by SIGKILL: %v\n%s", err, out)
			}
			assertNoLeak(t, "the helper's output", string(out), masterSecret, newMaster, []byte(crashValue(1)))

			st, err := bolt.Open(path, bolt.Options{})
			if err != nil {
				t.Fatalf("reopening the store: %v", err)
			}
			defer st.Close()
			ctx := context.Background()
			verifier, err := st.GetMeta(ctx, MetaVerifier)
			if err != nil {
				t.Fatal(err)
			}
			want, other := masterSecret, newMaster
			if tt.wantNew {
				want, other = newMaster, masterSecret
			}
			if _, _, err := secrets.Unlock(other, verifier, fastSettings()); !errors.Is(err, secrets.ErrWrongMasterSecret) {
				t.Fatalf("the other secret on the stored verifier: %v", err)
			}
			kr, _, err := secrets.Unlock(want, verifier, fastSettings())
			if err != nil {
				t.Fatalf("the expected secret does not unlock: %v", err)
			}
			defer kr.Close()
			objs, err := st.ListObjects(ctx, store.KindAlias, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(objs) != crashAliases {
				t.Fatalf("%d aliases after the crash, want %d", len(objs), crashAliases)
			}
			for _, o := range objs {
				r, err := parseAliasKey(o.Key)
				if err != nil {
					t.Fatal(err)
				}
				i, _ := strconv.Atoi(strings.TrimPrefix(r.name, "a-"))
				if v, err := kr.Open(r.aad(), o.Value); err != nil || string(v) != crashValue(i) {
					t.Fatalf("%s does not open with the keyring of the stored verifier: %v", r, err)
				}
			}
			for _, k := range sealedMeta {
				sealed, err := st.GetMeta(ctx, k)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := kr.Open(k, sealed); err != nil {
					t.Fatalf("%s does not open: %v", k, err)
				}
			}
		})
	}
}
