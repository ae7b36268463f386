package frontend

import "time"

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

// SetBodyTakenHook runs f in a request body's WriteTo once it took the
// whole body from the connection, before it returns; restore undoes it.
func SetBodyTakenHook(f func()) (restore func()) {
	testHookBodyTaken.Store(&f)
	return func() { testHookBodyTaken.Store(nil) }
}
