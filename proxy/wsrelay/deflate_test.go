package wsrelay

import (
	"bytes"
	"compress/flate"
	"strings"
	"testing"
)

func TestAcceptDeflate(t *testing.T) {
	const both = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
	for _, tc := range []struct {
		offers []string
		want   string
	}{
		{nil, ""},
		{[]string{"x-webkit-deflate-frame"}, ""},
		{[]string{"permessage-deflate"}, both},
		{[]string{"permessage-deflate; client_max_window_bits"}, both},                                 // Chromium
		{[]string{"permessage-deflate; server_no_context_takeover; client_no_context_takeover"}, both}, // gorilla
		{[]string{"permessage-deflate; server_max_window_bits=15"}, both + "; server_max_window_bits=15"},
		{[]string{"permessage-deflate; server_max_window_bits=10"}, ""}, // the backend's frames pass as made: its window
		{[]string{"permessage-deflate; server_max_window_bits=10, permessage-deflate"}, both},
		{[]string{`permessage-deflate; client_max_window_bits="12"`}, both},
		{[]string{"permessage-deflate; server_max_window_bits=16"}, ""},                      // out of range
		{[]string{"permessage-deflate; server_max_window_bits"}, ""},                         // needs a value
		{[]string{"permessage-deflate; client_max_window_bits=7"}, ""},                       // out of range
		{[]string{"permessage-deflate; server_no_context_takeover=1"}, ""},                   // takes no value
		{[]string{"permessage-deflate; mystery"}, ""},                                        // unknown
		{[]string{"permessage-deflate; client_max_window_bits; client_max_window_bits"}, ""}, // repeated
		// The first acceptable offer of several wins.
		{[]string{"permessage-deflate; mystery, permessage-deflate; server_max_window_bits=15"}, both + "; server_max_window_bits=15"},
		{[]string{"foo", "permessage-deflate"}, both},
	} {
		got, ok := AcceptDeflate(tc.offers)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("AcceptDeflate(%q) = %q, %v; want %q", tc.offers, got, ok, tc.want)
		}
	}
}

func TestCheckDeflateAnswer(t *testing.T) {
	for _, tc := range []struct {
		answer  []string
		deflate bool
		err     string
	}{
		{nil, false, ""},
		{[]string{"permessage-deflate; server_no_context_takeover"}, true, ""},
		{[]string{"permessage-deflate; server_no_context_takeover; client_no_context_takeover"}, true, ""},
		{[]string{"permessage-deflate; server_no_context_takeover; server_max_window_bits=12"}, true, ""},
		{[]string{"permessage-deflate"}, false, "keeps its context"},
		{[]string{"permessage-deflate; server_no_context_takeover; client_max_window_bits=10"}, false, `parameter "client_max_window_bits"`},
		{[]string{"permessage-deflate; server_no_context_takeover; server_max_window_bits=20"}, false, `parameter "server_max_window_bits"`},
		{[]string{"x-other"}, false, "not offered"},
		{[]string{"permessage-deflate; server_no_context_takeover, x-other"}, false, "2 extensions"},
	} {
		got, err := CheckDeflateAnswer(tc.answer)
		if got != tc.deflate || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("CheckDeflateAnswer(%q) = %v, %v; want %v, %q", tc.answer, got, err, tc.deflate, tc.err)
		}
	}
}

func TestInflateBounded(t *testing.T) {
	// "hello" deflated (a stored block without its final empty block).
	z := []byte{0xca, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}
	if p, err := inflate(z, 5); err != nil || string(p) != "hello" {
		t.Fatalf("inflate: %q %v", p, err)
	}
	if _, err := inflate(z, 4); err == nil || !strings.Contains(err.Error(), "1009") {
		t.Fatalf("over the limit: %v", err)
	}
	if _, err := inflate([]byte{0xff, 0xff}, 100); err == nil || !strings.Contains(err.Error(), "1007") {
		t.Fatalf("not deflate data: %v", err)
	}
}

// A payload whose deflate data ends with a final block and then carries
// more (a bomb the relay would never inflate, for a receiver that goes on)
// is refused with 1007; the padding a final-block sender leaves is not.
func TestInflateRefusesDataAfterFinalBlock(t *testing.T) {
	final := func(msg []byte) []byte {
		var b bytes.Buffer
		w, _ := flate.NewWriter(&b, flate.BestCompression)
		_, _ = w.Write(msg)
		_ = w.Close() // ends with a final block
		return b.Bytes()
	}
	flushed := func(msg []byte) []byte {
		var b bytes.Buffer
		w, _ := flate.NewWriter(&b, flate.BestCompression)
		_, _ = w.Write(msg)
		_ = w.Flush()
		return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
	}
	bomb := flushed(bytes.Repeat([]byte{'A'}, 4<<20))
	for _, tc := range []struct {
		name    string
		payload []byte
		want    string // "" ok, else the close code
	}{
		{"flushed, as RFC 7692 says", flushed([]byte("hello")), ""},
		{"ends with a final block", final([]byte("hello")), ""},
		{"final block and a zero byte (RFC 7692 7.2.3.3)", append(final([]byte("hello")), 0), ""},
		{"an empty final block, then a bomb", append(final(nil), bomb...), "1007"},
		{"a message, then another after its final block", append(final([]byte("hello")), flushed([]byte("world"))...), "1007"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := inflate(tc.payload, 1<<20)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("inflate: %v", err)
			case tc.want == "" && string(p) != "hello":
				t.Fatalf("inflate: %q", p)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("inflate: %q, %v; want close %s", p, err, tc.want)
			}
		})
	}
}
