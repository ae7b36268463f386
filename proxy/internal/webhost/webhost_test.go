package webhost

import (
	"net/url"
	"testing"
)

// Each spelling of a host that a browser resolves to the same server gets
// the same canonical form; what a browser refuses is reported.
func TestHost(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		// Names: case, one trailing dot, UTS #46 mapping, punycode.
		{"namenode.example", "namenode.example", true},
		{"NameNode.Example", "namenode.example", true},
		{"namenode.example.", "namenode.example", true},
		{"NAMENODE.EXAMPLE.", "namenode.example", true},
		{"namenode.example..", "namenode.example.", true}, // an empty label: not the same name
		{"ｎａｍｅｎｏｄｅ.example", "namenode.example", true},    // fullwidth letters
		{"namenode。example", "namenode.example", true},    // ideographic full stop
		{"bücher.example", "xn--bcher-kva.example", true},
		{"BÜCHER.example.", "xn--bcher-kva.example", true},
		{"XN--BCHER-KVA.example", "xn--bcher-kva.example", true},
		{"under_score.example", "under_score.example", true},
		{"r3---sn-apo3qvuoxuxbt-j5pe.example", "r3---sn-apo3qvuoxuxbt-j5pe.example", true}, // hyphens not checked
		{"localhost", "localhost", true},
		{"a.1x", "a.1x", true}, // the last label is not a number
		{"0x7g.1x", "0x7g.1x", true},
		// IPv4: the URL Standard's numbers.
		{"127.0.0.1", "127.0.0.1", true},
		{"127.0.0.1.", "127.0.0.1", true},
		{"127.1", "127.0.0.1", true},
		{"127.0.1", "127.0.0.1", true},
		{"2130706433", "127.0.0.1", true},
		{"0x7f000001", "127.0.0.1", true},
		{"0X7F.1", "127.0.0.1", true},
		{"0x7f.0.0.1", "127.0.0.1", true},
		{"0177.0.0.1", "127.0.0.1", true},
		{"0177.1", "127.0.0.1", true},
		{"017700000001", "127.0.0.1", true},
		{"0x.0x.0x.0x", "0.0.0.0", true},
		{"00127.0.0.1", "87.0.0.1", true}, // octal 127
		{"１２７.０.０.１", "127.0.0.1", true},  // fullwidth digits
		{"10.0.0.255", "10.0.0.255", true},
		{"4294967295", "255.255.255.255", true},
		{"name.0x10", "", false}, // ends in a number, not an address
		{"1.2.3.4.5", "", false},
		{"256.0.0.1", "", false},
		{"1.2.3.256", "", false},
		{"1.2.65536", "", false},
		{"4294967296", "", false},
		{"99999999999999999999999", "", false},
		{"08.0.0.1", "", false},             // not octal
		{"127.0.0.1..", "127.0.0.1.", true}, // a name (ends in an empty label): never an address
		{"1..1", "", false},
		// IPv6.
		{"::1", "::1", true},
		{"0:0:0:0:0:0:0:1", "::1", true},
		{"FE80::0001", "fe80::1", true},
		{"::ffff:127.0.0.1", "127.0.0.1", true},
		{"::FFFF:7f00:1", "127.0.0.1", true},
		{"::127.0.0.1", "::7f00:1", true},
		{"fe80::1%eth0", "", false},
		{"::1::2", "", false},
		// What a browser refuses outright.
		{"", "", false},
		{"a^b.example", "", false},
		{"a|b.example", "", false},
		{"a%b.example", "", false},
		{"ａ／b.example", "", false}, // fullwidth solidus maps to '/'
		{"xn--a.example", "", false},
	}
	for _, tt := range tests {
		got, ok := Host(tt.in)
		if ok != tt.ok || ok && got != tt.want {
			t.Errorf("Host(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// Host takes what net/url's Hostname gives: percent-decoded bytes of
// non-ASCII characters included.
func TestHostAfterURLParse(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"http://%EF%BC%91%EF%BC%92%EF%BC%97.0.0.1:9870/x", "127.0.0.1"},
		{"http://[::ffff:7f00:1]:9870/", "127.0.0.1"},
		{"http://user@NameNode.Example.:09870/", "namenode.example"},
	} {
		u, err := url.Parse(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := Host(u.Hostname()); !ok || got != tt.want {
			t.Errorf("%s: Host(%q) = %q, %v; want %q", tt.in, u.Hostname(), got, ok, tt.want)
		}
	}
}

// Written spells a host as a browser writes it back: Host's spelling, but
// an IPv4-mapped IPv6 address stays IPv6, in hexadecimal (the URL
// Standard's IPv6 serializer: new URL("http://[::ffff:192.0.2.1]/").host
// is "[::ffff:c000:201]").
func TestWritten(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{"::ffff:192.0.2.1", "::ffff:c000:201", true},
		{"::FFFF:C000:0201", "::ffff:c000:201", true},
		{"0:0:0:0:0:ffff:192.0.2.1", "::ffff:c000:201", true},
		{"::ffff:127.0.0.1", "::ffff:7f00:1", true},
		{"::ffff:0.0.0.0", "::ffff:0:0", true},
		{"::ffff:255.255.255.255", "::ffff:ffff:ffff", true},
		{"::ffff:10.0.0.1", "::ffff:a00:1", true},
		{"::192.0.2.1", "::c000:201", true}, // IPv4-compatible: plain IPv6, as netip writes it
		{"2001:DB8::1", "2001:db8::1", true},
		{"::1", "::1", true},
		{"::ffff:1.2.3.4%eth0", "", false},
		{"::ffff:1.2.3", "", false},
		{"GW.Example.", "gw.example", true},
		{"0x7f.1", "127.0.0.1", true},
		{"", "", false},
	} {
		got, ok := Written(tt.in)
		if ok != tt.ok || ok && got != tt.want {
			t.Errorf("Written(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestPort(t *testing.T) {
	for _, tt := range []struct {
		in, def, want string
		ok            bool
	}{
		{"", "80", "80", true},
		{"80", "80", "80", true},
		{"080", "80", "80", true},
		{"9870", "80", "9870", true},
		{"09870", "80", "9870", true},
		{"0000009870", "443", "9870", true},
		{"0", "80", "0", true},
		{"000", "80", "0", true},
		{"65535", "80", "65535", true},
		{"65536", "80", "", false},
		{"100000", "80", "", false},
		{"9x", "80", "", false},
	} {
		got, ok := Port(tt.in, tt.def)
		if ok != tt.ok || ok && got != tt.want {
			t.Errorf("Port(%q, %q) = %q, %v; want %q, %v", tt.in, tt.def, got, ok, tt.want, tt.ok)
		}
	}
}

// The canonical spelling of a canonical host costs no allocation.
func TestHostCanonicalDoesNotAllocate(t *testing.T) {
	for _, h := range []string{"namenode.example", "127.0.0.1", "::1"} {
		if n := testing.AllocsPerRun(100, func() { _, _ = Host(h) }); n != 0 {
			t.Errorf("Host(%q): %v allocations", h, n)
		}
	}
}
