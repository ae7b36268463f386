package secrets

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadSecret(t *testing.T) {
	tests := []struct {
		name    string
		in      io.Reader
		max     int
		want    string
		wantErr string
	}{
		{"plain", strings.NewReader("hunter2-but-longer"), 64, "hunter2-but-longer", ""},
		{"trailing newline", strings.NewReader("s3cret\n"), 64, "s3cret", ""},
		{"trailing CRLF", strings.NewReader("s3cret\r\n"), 64, "s3cret", ""},
		{"only one newline trimmed", strings.NewReader("s3cret\n\n"), 64, "s3cret\n", ""},
		{"inner newline kept", strings.NewReader("a\nb\n"), 64, "a\nb", ""},
		{"spaces kept", strings.NewReader(" s3cret \n"), 64, " s3cret ", ""},
		{"exactly max", strings.NewReader("12345678"), 8, "12345678", ""},
		{"exactly max and CRLF", strings.NewReader("12345678\r\n"), 8, "12345678", ""},
		{"one byte reads", iotest.OneByteReader(strings.NewReader("s3cret\n")), 64, "s3cret", ""},
		{"max plus one", strings.NewReader("123456789"), 8, "", "longer than 8 bytes"},
		{"max plus one and newline", strings.NewReader("123456789\n"), 8, "", "longer than 8 bytes"},
		{"far too long", strings.NewReader(strings.Repeat("x", 10000)), 8, "", "longer than 8 bytes"},
		{"empty", strings.NewReader(""), 64, "", "empty"},
		{"only newline", strings.NewReader("\n"), 64, "", "empty"},
		{"only CRLF", strings.NewReader("\r\n"), 64, "", "empty"},
		{"reader error", iotest.ErrReader(errors.New("device gone")), 64, "", "device gone"},
		{"zero max", strings.NewReader("x"), 0, "", "must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadSecret(tt.in, tt.max)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ReadSecret error = %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "123456789") || strings.Contains(err.Error(), "xxxx") {
					t.Fatalf("error %q contains the input", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadSecret: %v", err)
			}
			if string(got) != tt.want {
				t.Fatalf("ReadSecret = %q, want %q", got, tt.want)
			}
			if cap(got) != len(got) {
				t.Fatal("returned slice has spare capacity")
			}
		})
	}
}
