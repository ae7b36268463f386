package proxy

import "net/http"

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

// SetDrainMax sets how much of a redirected HTTP/2 request's body is
// drained; restore undoes it.
func SetDrainMax(n int64) (restore func()) {
	old := drainMax.Swap(n)
	return func() { drainMax.Store(old) }
}
