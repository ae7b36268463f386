package fieldline

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

// A field line comes out whole whether it fits the buffer's room, fills
// it exactly, passes it by a byte, or is larger than the whole buffer.
func TestWrite(t *testing.T) {
	const size = 64
	line := len("A: 12\r\n")
	big := strings.Repeat("v", 3*size)
	for _, tc := range []struct {
		name, pre, k, v string
	}{
		{"fits", "", "A", "1"},
		{"fills the room exactly", strings.Repeat("p", size-line), "A", "12"},
		{"one byte past the room", strings.Repeat("p", size-line+1), "A", "12"},
		{"larger than the buffer", "", "Big", big},
		{"larger than the room left", strings.Repeat("p", size/2), "Big", big},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			w := bufio.NewWriterSize(&out, size)
			w.WriteString(tc.pre)
			Write(w, tc.k, tc.v)
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if got, want := out.String(), tc.pre+tc.k+": "+tc.v+"\r\n"; got != want {
				t.Fatalf("wrote %.60q, want %.60q", got, want)
			}
		})
	}
}
