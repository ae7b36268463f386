package h1

import "sync"

// BufferSize is the size of the pooled copy buffers.
const BufferSize = 32 << 10

var buffers = sync.Pool{New: func() any { return new([BufferSize]byte) }}

func getBuffer() *[BufferSize]byte { return buffers.Get().(*[BufferSize]byte) }

func putBuffer(b *[BufferSize]byte) { buffers.Put(b) }

// GetBuffer returns a pooled copy buffer; PutBuffer gives it back.
func GetBuffer() *[BufferSize]byte { return getBuffer() }

// PutBuffer gives a buffer of GetBuffer back.
func PutBuffer(b *[BufferSize]byte) { putBuffer(b) }
