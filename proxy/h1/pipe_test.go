package h1

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"testing/iotest"
)

// Pipe delivers every byte in order, whatever the sizes the source reads.
func TestPipeCopiesInOrder(t *testing.T) {
	data := make([]byte, 3*LargeBufferSize+12345)
	for i := range data {
		data[i] = byte(rand.IntN(256))
	}
	for _, tc := range []struct {
		name string
		src  io.Reader
		want []byte
	}{
		{"whole reads", bytes.NewReader(data), data},
		{"one byte at a time", iotest.OneByteReader(bytes.NewReader(data[:1000])), data[:1000]},
		{"halves", iotest.HalfReader(bytes.NewReader(data)), data},
		{"data with EOF", iotest.DataErrReader(bytes.NewReader(data)), data},
		{"empty", bytes.NewReader(nil), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got bytes.Buffer
			n, err := Pipe(tc.src, func(p []byte, more bool) error {
				got.Write(p)
				return nil
			}, nil)
			want := tc.want
			if err != nil || n != int64(len(want)) || !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("n %d, err %v, equal %v", n, err, bytes.Equal(got.Bytes(), want))
			}
		})
	}
}

// A piece written while the source has nothing more comes with more
// false, so that the caller flushes it instead of holding it back.
func TestPipeMoreIsFalseWhenTheSourceWaits(t *testing.T) {
	pr, pw := io.Pipe()
	type call struct {
		p    string
		more bool
	}
	calls := make(chan call)
	done := make(chan error, 1)
	go func() {
		_, err := Pipe(pr, func(p []byte, more bool) error {
			calls <- call{string(p), more}
			return nil
		}, nil)
		done <- err
	}()
	for _, s := range []string{"data: a\n\n", "data: b\n\n"} {
		if _, err := pw.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
		if c := <-calls; c.p != s || c.more {
			t.Fatalf("got %q more=%v, want %q more=false (the source is silent now)", c.p, c.more, s)
		}
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

type countingReader struct {
	r      io.Reader
	inRead atomic.Int32
	reads  atomic.Int32
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.inRead.Add(1)
	defer c.inRead.Add(-1)
	c.reads.Add(1)
	return c.r.Read(p)
}

// A write error stops the copy: abort runs (to unblock the source), Pipe
// returns the write's error, and only once nothing reads the source.
func TestPipeWriteErrorAborts(t *testing.T) {
	pr, pw := io.Pipe()
	src := &countingReader{r: pr}
	go func() {
		for {
			if _, err := pw.Write(make([]byte, 1000)); err != nil {
				return
			}
		}
	}()
	errClient := errors.New("client went away")
	aborted := false
	n, err := Pipe(src, func(p []byte, more bool) error { return errClient }, func() {
		aborted = true
		pr.CloseWithError(errors.New("deadline")) // as a read deadline in the past would
	})
	if !errors.Is(err, errClient) || n != 0 || !aborted {
		t.Fatalf("n %d, err %v, aborted %v", n, err, aborted)
	}
	if src.inRead.Load() != 0 {
		t.Fatal("Pipe returned while its source was being read")
	}
	reads := src.reads.Load()
	if reads > 3 {
		t.Fatalf("%d reads after the first write failed", reads-1)
	}
}

// An error of the source, other than EOF, is returned after the bytes
// read before it were written.
func TestPipeSourceError(t *testing.T) {
	errBackend := errors.New("backend reset")
	src := io.MultiReader(bytes.NewReader([]byte("partial")), iotest.ErrReader(errBackend))
	var got bytes.Buffer
	n, err := Pipe(src, func(p []byte, more bool) error { got.Write(p); return nil }, nil)
	if !errors.Is(err, errBackend) || n != 7 || got.String() != "partial" {
		t.Fatalf("n %d, err %v, got %q", n, err, got.String())
	}
}
