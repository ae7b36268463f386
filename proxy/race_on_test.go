//go:build race

package proxy_test

// raceEnabled: the race detector is on; sync.Pool then drops what is put
// in it at random, and allocation figures mean nothing (make test runs
// the memory budget tests once more without it).
const raceEnabled = true
