// Package webhost puts the host and port of an http(s) or ws(s) URL in the
// one spelling a browser resolves them to, so that two spellings a browser
// sends to the same server compare equal.
//
// A host is read as the WHATWG URL Standard's host parser reads the host of
// a special URL, given what net/url's Hostname returns (percent-decoded,
// brackets removed): a name is mapped by UTS #46 (golang.org/x/net/idna:
// case, width, "。" as a dot, punycode checked) and lower-cased; a name
// ending in a number is an IPv4 address, whose parts may be decimal, octal
// (a leading 0) or hexadecimal (0x), and fewer than four ("127.1",
// "2130706433", "0x7f.1" are all 127.0.0.1); an IPv6 address is written as
// net/netip writes it, an IPv4-mapped one ("::ffff:127.0.0.1") as the IPv4
// address it connects to (Written keeps it IPv6, in hexadecimal, as a
// browser writes it back: "::ffff:c000:201"). One trailing dot of a name or address (a fully
// qualified name, "namenode.example.") is dropped: it resolves to the same
// address. A port loses its leading zeros ("09870" is 9870), and a URL
// without one has its scheme's default.
//
// What a browser refuses (an IPv4 part out of range, a zone, a forbidden
// code point, a bad punycode label, a port above 65535) is reported: such a
// URL is never fetched, so it names no server.
package webhost
