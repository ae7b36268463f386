package frontend

// LargeReaders reports how many connections hold a head buffer larger
// than the pooled one.
func LargeReaders() int { return int(largeReaders.Load()) }

// SetBodyTakenHook runs f in a request body's WriteTo once it took the
// whole body from the connection, before it returns; restore undoes it.
func SetBodyTakenHook(f func()) (restore func()) {
	testHookBodyTaken.Store(&f)
	return func() { testHookBodyTaken.Store(nil) }
}
