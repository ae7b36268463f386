package proxy

import (
	"testing"
	"unsafe"
)

// The exchange, allocated once per request, fits malloc's 640-byte size
// class: a field more (or flags scattered among wider fields, each padded
// to 8 bytes) moves every request to the 704-byte class.
func TestExchangeSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(exchange{}); n > 640 {
		t.Errorf("exchange is %d bytes, over the 640-byte size class", n)
	}
}
