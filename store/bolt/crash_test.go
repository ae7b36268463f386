package bolt

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/securegw/gateway/store"
)

// crashHelperEnv names the data file the helper process writes to; the
// helper does nothing when it is unset.
const crashHelperEnv = "GATEWAY_STORE_CRASH_HELPER_PATH"

// crashHistoryLimit keeps every version, so that every acknowledged
// revision can be read back.
const crashHistoryLimit = 1 << 20

// TestHelperProcess is the child of TestCrashConsistency, not a test of
// its own: it writes until it is killed, printing each acknowledged write.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(crashHelperEnv)
	if path == "" {
		t.Skip("helper process of TestCrashConsistency")
	}
	os.Exit(crashWriter(path))
}

// crashWriter runs writers on the store at path and prints one line per
// acknowledged write:
//
//	put <revision> <name> <spec>
//	del <revision> <name>
//
// It returns only on error (or after far more writes than the parent waits
// for).
func crashWriter(path string) int {
	s, err := Open(path, Options{HistoryLimit: crashHistoryLimit})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var (
		mu sync.Mutex // one line per write(2)
		wg sync.WaitGroup
	)
	ack := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(os.Stdout, format, args...)
	}
	pad := strings.Repeat("x", 1500) // specs span page boundaries
	failed := make(chan error, 3)
	for w := range 3 {
		wg.Go(func() {
			ctx := context.Background()
			for i := range 1_000_000 {
				name := fmt.Sprintf("w%d-%d", w, i%5)
				if i%11 == 10 {
					rev, err := s.DeleteTopology(ctx, name, "crash", store.NoRevisionCheck)
					if errors.Is(err, store.ErrNotFound) {
						continue
					}
					if err != nil {
						failed <- err
						return
					}
					ack("del %d %s\n", rev, name)
					continue
				}
				spec := fmt.Sprintf("{\"w\":%d,\"i\":%d,\"pad\":%q}", w, i, pad)
				tp, err := s.PutTopology(ctx, store.Topology{Name: name, Spec: []byte(spec)}, store.NoRevisionCheck)
				if err != nil {
					failed <- err
					return
				}
				ack("put %d %s %s\n", tp.Revision, name, strconv.Quote(spec))
			}
		})
	}
	wg.Wait()
	close(failed)
	if err := <-failed; err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// crashAck is one acknowledged write.
type crashAck struct {
	name   string
	action string
	spec   string
}

func parseAck(line string) (int64, crashAck, error) {
	f := strings.SplitN(line, " ", 4)
	if len(f) < 3 {
		return 0, crashAck{}, fmt.Errorf("bad ack line %q", line)
	}
	rev, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, crashAck{}, fmt.Errorf("bad ack line %q: %w", line, err)
	}
	switch {
	case f[0] == "put" && len(f) == 4:
		spec, err := strconv.Unquote(f[3])
		if err != nil {
			return 0, crashAck{}, fmt.Errorf("bad ack line %q: %w", line, err)
		}
		return rev, crashAck{name: f[2], action: "deploy", spec: spec}, nil
	case f[0] == "del" && len(f) == 3:
		return rev, crashAck{name: f[2], action: "delete"}, nil
	}
	return 0, crashAck{}, fmt.Errorf("bad ack line %q", line)
}

// TestCrashConsistency kills a writing process with SIGKILL, several times
// over the same file, and checks after each kill that the file opens, is
// consistent, and holds every acknowledged write.
func TestCrashConsistency(t *testing.T) {
	const (
		rounds  = 3
		minAcks = 200
	)
	path := filepath.Join(t.TempDir(), "gateway.db")
	acks := map[int64]crashAck{}
	for round := range rounds {
		t.Run(fmt.Sprintf("kill %d", round+1), func(t *testing.T) {
			got := runAndKill(t, path, minAcks)
			for rev, a := range got {
				if prev, dup := acks[rev]; dup {
					t.Fatalf("revision %d acknowledged twice: %+v and %+v", rev, prev, a)
				}
				acks[rev] = a
			}
			verifyAcks(t, path, acks)
		})
	}
}

// runAndKill starts the helper on path, SIGKILLs it once it has
// acknowledged at least minAcks writes, and returns every acknowledgement
// it printed before dying.
func runAndKill(t *testing.T, path string, minAcks int) map[int64]crashAck {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashHelperEnv+"="+path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acks := map[int64]crashAck{}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	killed := false
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "put ") && !strings.HasPrefix(line, "del ") {
			continue // test framework output
		}
		rev, a, err := parseAck(line)
		if err != nil {
			_ = cmd.Process.Kill()
			t.Fatal(err)
		}
		acks[rev] = a
		if len(acks) >= minAcks && !killed {
			// SIGKILL: no deferred code, no Close, no flush in the child.
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
			// Keep reading: lines already in the pipe were acknowledged too.
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("helper did not finish in time (%d acks): %v", len(acks), ctx.Err())
	}
	if !killed {
		t.Fatalf("helper exited after %d acks, before being killed: %v\n%s", len(acks), err, stderr.String())
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		t.Fatalf("helper: %v", err)
	}
	if ws, ok := exitErr.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("helper ended with %v, want SIGKILL\n%s", err, stderr.String())
	}
	return acks
}

// verifyAcks opens the store at path and checks it against acks.
func verifyAcks(t *testing.T, path string, acks map[int64]crashAck) {
	t.Helper()
	s, err := Open(path, Options{HistoryLimit: crashHistoryLimit, LockTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("opening after the kill: %v", err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}()
	if err := s.check(); err != nil {
		t.Fatalf("consistency check after the kill: %v", err)
	}
	ctx := t.Context()
	rev := must(s.Revision(ctx))(t)
	var maxAck int64
	latest := map[string]int64{} // newest acknowledged revision per name
	missing := 0
	for r, a := range acks {
		maxAck = max(maxAck, r)
		latest[a.name] = max(latest[a.name], r)
		got, err := s.GetTopologyRevision(ctx, a.name, r)
		if err != nil {
			missing++
			if missing <= 5 {
				t.Errorf("acknowledged %s of %s at %d: %v", a.action, a.name, r, err)
			}
			continue
		}
		if got.Action != a.action || string(got.Spec) != a.spec {
			t.Errorf("revision %d of %s holds %s %.40q, acknowledged %s %.40q", r, a.name, got.Action, got.Spec, a.action, a.spec)
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged writes lost", missing, len(acks))
	}
	if rev < maxAck {
		t.Errorf("store revision %d below the last acknowledged %d", rev, maxAck)
	}
	// The current version of each name is the newest acknowledged one or
	// a later write that committed without its ack being printed.
	list, _, err := s.ListTopologies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	current := map[string]int64{}
	for _, tp := range list {
		current[tp.Name] = tp.Revision
	}
	for name, r := range latest {
		hist := must(s.TopologyHistory(ctx, name))(t)
		if hist[0].Revision < r {
			t.Errorf("newest history entry of %s at %d, below acknowledged %d", name, hist[0].Revision, r)
		}
		if cur, ok := current[name]; ok != (hist[0].Action != "delete") || (ok && cur != hist[0].Revision) {
			t.Errorf("%s: current revision %d (present %v) disagrees with history head %d %s",
				name, cur, ok, hist[0].Revision, hist[0].Action)
		}
	}
	// The store takes writes again.
	next := must(s.PutTopology(ctx, topo("after-crash", "x"), store.NoRevisionCheck))(t)
	if next.Revision != rev+1 {
		t.Errorf("first write after the kill at %d, want %d", next.Revision, rev+1)
	}
}
