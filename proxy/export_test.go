package proxy

import (
	"net/http"
	"time"
)

// The events of a request body's writer and of the release of its
// connection that SetTestHook reports.
const (
	EventBodyWritten  = eventBodyWritten  // the writer wrote the whole body, not marked yet
	EventBodySent     = eventBodySent     // ... and marked it
	EventAwaitWriter  = eventAwaitWriter  // the answer's end waits for such a writer
	EventReleasedLate = eventReleasedLate // a connection left to its writer was released
)

// SetTestHook runs f on those events, given the backend request; restore
// undoes it.
func SetTestHook(f func(event string, req *http.Request)) (restore func()) {
	testHook.Store(&f)
	return func() { testHook.Store(nil) }
}

// SetWriterReturn replaces the bound of the wait for a request body's
// writer that has not reported (250 ms) until restore.
func SetWriterReturn(d time.Duration) (restore func()) {
	old := writerReturn.Swap(int64(d))
	return func() { writerReturn.Store(old) }
}

// SetDrainBounds replaces the total bounds of a redirected request's drain
// (1 GiB, 5 minutes) until restore.
func SetDrainBounds(bytes int64, d time.Duration) (restore func()) {
	drainBounds.Store(&drainBound{bytes, d})
	return func() { drainBounds.Store(nil) }
}

// MaxInformational is maxInformational, for the 1xx flood test.
const MaxInformational = maxInformational
