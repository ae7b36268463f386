package frontend

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

// writeField writes one field line, its value trimmed and CR and LF in
// it made spaces (as net/http's server does), whether the line fits the
// buffer's room, fills it exactly, or is larger than the whole buffer.
func TestWriteField(t *testing.T) {
	const size = 64
	big := strings.Repeat("v", 3*size)
	for _, tc := range []struct {
		name, pre, k, v, want string
	}{
		{"small", "", "A", "1", "A: 1\r\n"},
		{"trimmed", "", "A", " \t1 2\t ", "A: 1 2\r\n"},
		{"CR and LF", "", "Set-Cookie", "a=1\r\nX-Injected: 1", "Set-Cookie: a=1  X-Injected: 1\r\n"},
		{"larger than the buffer", "", "Big", big, "Big: " + big + "\r\n"},
		{"fills the room exactly", strings.Repeat("p", size-len("A: 12\r\n")), "A", "12", "A: 12\r\n"},
		{"one byte past the room", strings.Repeat("p", size-len("A: 12\r\n")+1), "A", "12", "A: 12\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			bw := bufio.NewWriterSize(&out, size)
			bw.WriteString(tc.pre)
			writeField(bw, tc.k, tc.v)
			if err := bw.Flush(); err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimPrefix(out.String(), tc.pre); got != tc.want {
				t.Fatalf("wrote %q, want %q", got, tc.want)
			}
		})
	}
}
