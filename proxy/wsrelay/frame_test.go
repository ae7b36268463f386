package wsrelay

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// Text split anywhere, in any number of pieces, validates as the whole.
func TestUTF8Stream(t *testing.T) {
	tests := []struct {
		name string
		text []byte
	}{
		{"ascii", []byte("hello")},
		{"two-byte", []byte("héllo")},
		{"three-byte", []byte("a€b€")},
		{"four-byte", []byte("x😀y")},
		{"invalid byte", []byte{'a', 0xff}},
		{"overlong", []byte{0xC0, 0xAF}},
		{"surrogate", []byte{0xED, 0xA0, 0x80}},
		{"beyond U+10FFFF", []byte{0xF4, 0x90, 0x80, 0x80}},
		{"truncated at the end", []byte{'a', 0xE2, 0x82}},
		{"continuation first", []byte{0x80, 'a'}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := utf8.Valid(tc.text)
			for cut1 := 0; cut1 <= len(tc.text); cut1++ {
				for cut2 := cut1; cut2 <= len(tc.text); cut2++ {
					var u utf8Stream
					ok := u.write(tc.text[:cut1]) && u.write(tc.text[cut1:cut2]) && u.write(tc.text[cut2:]) && u.end()
					if ok != want {
						t.Fatalf("cut at %d,%d: valid %v, want %v", cut1, cut2, ok, want)
					}
				}
			}
		})
	}
}

func TestMaskBytesAnyOffset(t *testing.T) {
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	src := []byte(strings.Repeat("the quick brown fox ", 10))
	want := append([]byte(nil), src...)
	for i := range want {
		want[i] ^= key[i%4]
	}
	for cut := range len(src) {
		got := append([]byte(nil), src...)
		pos := maskBytes(key, 0, got[:cut])
		maskBytes(key, pos, got[cut:])
		if !bytes.Equal(got, want) {
			t.Fatalf("masked in two pieces at %d differs", cut)
		}
	}
}

func TestClosePayload(t *testing.T) {
	tests := []struct {
		payload []byte
		want    int
	}{
		{nil, 0},
		{ClosePayload(1000, "bye"), 0},
		{ClosePayload(4999, ""), 0},
		{[]byte{0x03}, CloseProtocolError},
		{ClosePayload(1005, "")[:0], 0},
		{[]byte{0x03, 0xED}, CloseProtocolError},        // 1005
		{[]byte{0x03, 0xEE}, CloseProtocolError},        // 1006
		{[]byte{0x03, 0xF7}, CloseProtocolError},        // 1015
		{[]byte{0x13, 0x88}, CloseProtocolError},        // 5000
		{[]byte{0x03, 0xE8, 0xff}, CloseInvalidPayload}, // reason not UTF-8
	}
	for _, tc := range tests {
		if got := checkClosePayload(tc.payload); got != tc.want {
			t.Errorf("% x: %d, want %d", tc.payload, got, tc.want)
		}
	}
	long := ClosePayload(1001, strings.Repeat("é", 100))
	if len(long) > 125 || !utf8.Valid(long[2:]) {
		t.Fatalf("a long reason gives %d bytes (valid UTF-8 %v)", len(long), utf8.Valid(long[2:]))
	}
}

func TestValidKey(t *testing.T) {
	for key, want := range map[string]bool{
		"dGhlIHNhbXBsZSBub25jZQ==": true,
		"dGhlIHNhbXBsZSBub25jZQ":   false,
		"short":                    false,
		"dGhlIHNhbXBsZSBub25jZSE=": false, // 17 bytes
		"":                         false,
	} {
		if ValidKey(key) != want {
			t.Errorf("ValidKey(%q) = %v", key, !want)
		}
	}
	if got := AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" { // RFC 6455 §1.3
		t.Fatalf("AcceptKey %q", got)
	}
}

func TestRules(t *testing.T) {
	parse := func(name, spec string) Rule {
		r, err := ParseRule(name, spec)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	rs := NewRules([]Rule{
		parse("1", "literal:http://backend:8080 => {gateway_url}"),
		parse("2", `regex:user=(\w+) => user=$1 as {principal}`),
		parse("3", "binary literal:\x01 => \x02"),
	})
	b := rs.Bind(Vars{GatewayURL: "https://gw/gateway/t/s", ServiceURL: "ws://backend:8080", Principal: "al$ice"})
	if !b.Applies(OpText) || !b.Applies(OpBinary) {
		t.Fatal("rules do not apply")
	}
	if got := string(b.Apply(OpText, []byte("see http://backend:8080/x user=bob"))); got != "see https://gw/gateway/t/s/x user=bob as al$ice" {
		t.Fatalf("text: %q", got)
	}
	if got := b.Apply(OpBinary, []byte{1, 'h'}); !bytes.Equal(got, []byte{2, 'h'}) {
		t.Fatalf("binary: % x", got)
	}
	if NewRules(nil) != nil || (*Rules)(nil).Bind(Vars{}) != nil || (*Bound)(nil).Applies(OpText) {
		t.Fatal("no rules must bind to nothing")
	}
	textOnly := NewRules([]Rule{parse("1", "literal:a => b")}).Bind(Vars{})
	if textOnly.Applies(OpBinary) {
		t.Fatal("a text rule applies to binary messages")
	}
}
