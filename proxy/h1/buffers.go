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

// LargeBufferSize is the size of the pooled buffers for large bodies.
const LargeBufferSize = 256 << 10

var largeBuffers = sync.Pool{New: func() any { return new([LargeBufferSize]byte) }}

// GetLargeBuffer returns a pooled large buffer; PutLargeBuffer gives it back.
func GetLargeBuffer() *[LargeBufferSize]byte { return largeBuffers.Get().(*[LargeBufferSize]byte) }

// PutLargeBuffer gives a buffer of GetLargeBuffer back.
func PutLargeBuffer(b *[LargeBufferSize]byte) { largeBuffers.Put(b) }
