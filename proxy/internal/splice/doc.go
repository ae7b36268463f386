// Package splice moves bytes between two TCP connections by splice(2)
// (Linux): from the source socket into a pooled pipe of 1 MiB and from
// the pipe into the destination socket, the bytes never in user space.
//
// Unlike net.TCPConn.ReadFrom (internal/poll.Splice), the system calls are
// raw (syscall.RawSyscall6 on non-blocking descriptors: they never wait),
// so that a goroutine moving a large body keeps its P instead of entering
// and leaving a system call the scheduler's monitor may take the P from;
// waiting for readiness is the netpoller's (syscall.RawConn's Read and
// Write callbacks, which keep the connections' deadlines and closing).
// Copy also reports which side failed. CopySides bounds the stalls of
// either side (Side.Idle: the deadline moves before each wait, so that a
// side that makes no progress for Idle fails while a slow one does not; a
// destination whose peer acknowledged bytes meanwhile, per TCP_INFO, is
// slow, not stalled). Elsewhere than on Linux it copies through a pooled
// buffer.
package splice
