package frontend

// LargeReaders reports how many connections hold a head buffer larger
// than the pooled one.
func LargeReaders() int { return int(largeReaders.Load()) }
