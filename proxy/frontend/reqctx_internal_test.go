package frontend

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
)

// Once a request context's Err said it ended, it never says nil again:
// not while a first Done, racing the handler's end, makes the cancel
// context (which is published canceled, or canceled by the reader that
// finds it live), nor after. Cause agrees, and Done is closed.
func TestRequestContextErrStaysSet(t *testing.T) {
	// A first Done after the end: its cancel context comes canceled.
	c0 := &leanConn{}
	c0.cr.c = c0
	late := &reqCtx{c: c0}
	late.end()
	select {
	case <-late.Done():
	default:
		t.Fatal("a first Done after the end is not closed")
	}
	// The window itself: a first Done published its cancel context, not
	// yet canceled, after the handler's end had set the flag.
	c := &leanConn{}
	c.cr.c = c
	rc := &reqCtx{c: c}
	rc.end()
	if err := rc.Err(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Err after end: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rc.inner.Store(&cancelState{ctx, cancel})
	if err := rc.Err(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Err with a live cancel context after end: %v", err)
	}
	if err := context.Cause(rc); !errors.Is(err, context.Canceled) {
		t.Fatalf("Cause with a live cancel context after end: %v", err)
	}
	// The race, many times.
	for range 1000 {
		c := &leanConn{}
		c.cr.c = c
		rc := &reqCtx{c: c}
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Add(3)
		go func() { defer wg.Done(); <-start; rc.end() }()
		go func() { defer wg.Done(); <-start; runtime.Gosched(); rc.Done() }()
		go func() {
			defer wg.Done()
			<-start
			ended := false
			for range 50 {
				switch err := rc.Err(); {
				case err != nil:
					ended = true
				case ended:
					t.Error("Err said nil after it said the context ended")
					return
				}
				runtime.Gosched()
			}
		}()
		close(start)
		wg.Wait()
		// Done first: Err would cancel a live one it found.
		select {
		case <-rc.Done():
		default:
			t.Fatal("Done is not closed after end")
		}
		if err := rc.Err(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Err after end: %v", err)
		}
		if err := context.Cause(rc); !errors.Is(err, context.Canceled) {
			t.Fatalf("Cause after end: %v", err)
		}
	}
}
