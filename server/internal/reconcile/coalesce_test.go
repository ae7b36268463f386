package reconcile_test

import (
	"testing"

	"github.com/securegw/gateway/store/bolt"
)

// Within one coalesced swap the last change of a topology wins: put then
// delete leaves it unserved, delete then put serves it.
func TestCoalescedChangesKeepTheLastWord(t *testing.T) {
	e := newEnv(t, bolt.Options{})
	e.put("back")
	e.start()
	e.src.hold(4)
	e.put("gone") // put, then deleted in the same swap
	e.del("gone")
	e.del("back") // deleted, then put back in the same swap
	e.put("back")
	gen := e.px.Generation()
	e.caughtUp()
	if got := e.px.Generation(); got > gen+1 {
		t.Fatalf("4 queued batches took %d swaps", got-gen)
	}
	if code, _ := e.get("gone"); code != 404 {
		t.Fatalf("put then deleted: status %d", code)
	}
	if code, _ := e.get("back"); code != 200 {
		t.Fatalf("deleted then put back: status %d", code)
	}
}
