// Package procio reads the kernel's count of read(2) and write(2) calls
// (/proc/.../io), for tests that hold a code path to the system calls it
// costs.
package procio

import (
	"os"
	"strconv"
	"strings"
)

// Files of the counts: the whole process's, and the calling thread's
// (lock the goroutine to its thread to count its calls alone).
const (
	Process = "/proc/self/io"
	Thread  = "/proc/thread-self/io"
)

// Counts returns the read(2) and write(2) calls counted in file (Process
// or Thread) so far; reading it costs calls of its own on the calling
// thread.
func Counts(file string) (reads, writes int, err error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		n, _ := strconv.Atoi(v)
		switch k {
		case "syscr":
			reads = n
		case "syscw":
			writes = n
		}
	}
	return reads, writes, nil
}
