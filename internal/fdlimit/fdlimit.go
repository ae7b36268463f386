// Package fdlimit reads and raises the process's descriptor ceiling
// (RLIMIT_NOFILE) and counts its open descriptors.
package fdlimit

import (
	"fmt"
	"os"
	"syscall"
)

// Raise lifts the soft descriptor limit to the hard one and returns the
// resulting soft limit.
func Raise() (int, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, fmt.Errorf("reading the descriptor limit: %w", err)
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			return Ceiling(), fmt.Errorf("raising the descriptor limit to %d: %w", l.Max, err)
		}
	}
	return Ceiling(), nil
}

// Ceiling is the soft descriptor limit; 0 when unknown.
func Ceiling() int {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil || l.Cur > 1<<30 {
		return 0
	}
	return int(l.Cur)
}

// Open counts the process's open descriptors (-1 when it cannot).
func Open() int {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return -1
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return -1
	}
	return len(names) - 1 // the directory's own descriptor
}
