package h1

import "io"

// Pipe copies src to write in large pooled buffers, two of them: one is
// filled from src (by a goroutine of its own) while the other is written,
// so that the reading and the writing of a large body overlap instead of
// taking turns. write gets each piece in order, with more true when the
// next piece is already read (a caller flushes only when it is false:
// bytes that are here go out together, none wait while src is silent).
//
// Pipe returns the bytes written and the first error: of src (not io.EOF)
// or of write. It returns only once its goroutine is done with src; after
// a write error it calls abort first (when not nil), which should make a
// blocked src.Read return (a read deadline in the past).
func Pipe(src io.Reader, write func(p []byte, more bool) error, abort func()) (int64, error) {
	type piece struct {
		b   *[LargeBufferSize]byte
		n   int
		err error
	}
	full := make(chan piece, 2)
	free := make(chan *[LargeBufferSize]byte, 2)
	stop := make(chan struct{})
	free <- GetLargeBuffer()
	free <- GetLargeBuffer()
	go func() {
		defer close(full)
		for {
			var b *[LargeBufferSize]byte
			select {
			case b = <-free:
			case <-stop:
				return
			}
			select {
			case <-stop: // both were ready: stop wins
				free <- b
				return
			default:
			}
			n, err := src.Read(b[:])
			if n == 0 && err == nil {
				free <- b
				continue
			}
			full <- piece{b, n, err} // never blocks: at most two buffers exist
			if err != nil {
				return
			}
		}
	}()
	var total int64
	var err error
	for p := range full {
		if p.n > 0 && err == nil {
			if werr := write(p.b[:p.n], len(full) > 0); werr != nil {
				err = werr
				close(stop)
				if abort != nil {
					abort()
				}
			} else {
				total += int64(p.n)
			}
		}
		if p.err != nil && p.err != io.EOF && err == nil {
			err = p.err
		}
		free <- p.b
	}
	// The reader is done (full is closed): both buffers are in free.
	PutLargeBuffer(<-free)
	PutLargeBuffer(<-free)
	return total, err
}
