package frontend

import (
	"bufio"
	"io"
	"sync"
	"testing"
	"time"
)

// LargeReaders reports how many connections hold a head buffer larger
// than the pooled one.
func LargeReaders() int { return int(largeReaders.Load()) }

// HeldBuffers reports how many pooled readers and writers connections
// hold.
func HeldBuffers() int { return int(heldBuffers.Load()) }

// SetIdleRelease sets how long a connection waits for a request holding
// its buffers; restore undoes it.
func SetIdleRelease(d time.Duration) (restore func()) {
	old := idleRelease.Swap(int64(d))
	return func() { idleRelease.Store(old) }
}

// SetMaxLinger sets the longest lingering close; restore undoes it.
func SetMaxLinger(d time.Duration) (restore func()) {
	old := maxLinger.Swap(int64(d))
	return func() { maxLinger.Store(old) }
}

// SetBodyTakenHook runs f in a request body's WriteTo once it took the
// whole body from the connection, before it returns; restore undoes it.
func SetBodyTakenHook(f func()) (restore func()) {
	testHookBodyTaken.Store(&f)
	return func() { testHookBodyTaken.Store(nil) }
}

// BodyHeld reports whether a reader holds a lean front's request body (in
// a Read or WriteTo of it).
func BodyHeld(body io.Reader) bool {
	b := body.(*reqBody)
	if b.mu.TryLock() {
		b.mu.Unlock()
		return false
	}
	return true
}

// BodyConnReader returns the reader of the connection a lean front's
// request body is read from.
func BodyConnReader(body io.Reader) any { return body.(*reqBody).res.c.br }

// TrackPooledReaders records every reader a connection returns to the pool
// from now until the test ends; pooled reports whether br was one.
func TrackPooledReaders(t testing.TB) (pooled func(br any) bool) {
	var mu sync.Mutex
	seen := map[*bufio.Reader]bool{}
	f := func(br *bufio.Reader) {
		mu.Lock()
		seen[br] = true
		mu.Unlock()
	}
	if !testHookReaderPut.CompareAndSwap(nil, &f) {
		t.Fatal("TrackPooledReaders: the pool's readers are tracked already")
	}
	t.Cleanup(func() { testHookReaderPut.Store(nil) })
	return func(br any) bool {
		r, _ := br.(*bufio.Reader)
		mu.Lock()
		defer mu.Unlock()
		return seen[r]
	}
}

// DeferredWait bounds the wait a deferred answer is sent from.
const DeferredWait = deferredWait

// AnswersAtOnce is how many answers go out at once after a deferred wait
// ran to its deadline.
const AnswersAtOnce = answersAtOnce

// SetDeferredWait sets the wait a deferred answer is sent from (0: its
// deadline passes before it begins); restore undoes it.
func SetDeferredWait(d time.Duration) (restore func()) {
	old := sendWait.Swap(int64(d))
	return func() { sendWait.Store(old) }
}
