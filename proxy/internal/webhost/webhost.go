package webhost

import (
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
)

// profile is UTS #46 as the URL Standard's "domain to ASCII" applies it
// (CheckHyphens, UseSTD3ASCIIRules and VerifyDnsLength off; CheckBidi,
// CheckJoiners on; nontransitional).
var profile = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.Transitional(false),
	idna.StrictDomainName(false), idna.CheckHyphens(false), idna.CheckJoiners(true),
	idna.VerifyDNSLength(false))

// Host returns the canonical spelling of h, a URL's host as
// url.URL.Hostname returns it, and true; or, when a browser would refuse
// the host, h in lower case and false. It allocates only for a spelling
// that is not already canonical.
func Host(h string) (string, bool) {
	if h == "" {
		return h, false
	}
	if strings.IndexByte(h, ':') >= 0 {
		return ipv6(h)
	}
	ascii, lower := true, true
	for i := 0; i < len(h); i++ {
		switch c := h[i]; {
		case c >= 0x80:
			ascii = false
		case c >= 'A' && c <= 'Z':
			lower = false
		}
	}
	d := h
	switch {
	case !ascii || hasPunycode(h):
		var err error
		if d, err = profile.ToASCII(h); err != nil {
			return strings.ToLower(h), false
		}
	case !lower:
		d = strings.ToLower(h)
	}
	if d == "" || forbidden(d) {
		return strings.ToLower(h), false
	}
	if endsInNumber(d) {
		a, ok := ipv4(d)
		if !ok {
			return strings.ToLower(h), false
		}
		return formatIPv4(h, a), true
	}
	if len(d) > 1 && d[len(d)-1] == '.' {
		d = d[:len(d)-1]
	}
	return d, true
}

// ipv6 is Host for an IPv6 address (brackets removed).
func ipv6(h string) (string, bool) {
	a, err := netip.ParseAddr(h)
	if err != nil || a.Zone() != "" || !a.Is6() {
		return strings.ToLower(h), false
	}
	if a.Is4In6() {
		a = a.Unmap()
	}
	var buf [46]byte
	if b := a.AppendTo(buf[:0]); string(b) != h {
		return string(b), true
	}
	return h, true // no copy of a canonical spelling
}

// Written returns h (as Host takes it) as a browser writes it back in a
// URL it parsed (the URL Standard's host serializer), and true; false as
// Host. It is Host's spelling but for an IPv4-mapped IPv6 address, which
// Host reads as the IPv4 address it connects to, and a browser keeps as an
// IPv6 address, in hexadecimal: "::ffff:192.0.2.1" is "::ffff:c000:201"
// (net/netip would write the dotted form). A host the gateway writes into
// links (proxy.public_url) is spelt so, as the browser's own Origin and
// Host are.
func Written(h string) (string, bool) {
	if strings.IndexByte(h, ':') < 0 {
		return Host(h)
	}
	a, err := netip.ParseAddr(h)
	if err != nil || !a.Is4In6() || a.Zone() != "" {
		return ipv6(h)
	}
	// ::ffff:x:y: the five zero pieces are the longest run, compressed.
	b := a.As16()
	buf := append(make([]byte, 0, 16), "::ffff:"...)
	buf = strconv.AppendUint(buf, uint64(b[12])<<8|uint64(b[13]), 16)
	buf = append(buf, ':')
	buf = strconv.AppendUint(buf, uint64(b[14])<<8|uint64(b[15]), 16)
	return string(buf), true
}

// hasPunycode reports whether a label of the ASCII name h starts with
// "xn--" (any case): the browser decodes and checks it.
func hasPunycode(h string) bool {
	for i := 0; i+4 <= len(h); i++ {
		if (i == 0 || h[i-1] == '.') && h[i]|0x20 == 'x' && h[i+1]|0x20 == 'n' && h[i+2] == '-' && h[i+3] == '-' {
			return true
		}
	}
	return false
}

// forbidden reports whether d holds a forbidden domain code point (C0
// controls, space, # % / : < > ? @ [ \ ] ^ | and DEL).
func forbidden(d string) bool {
	for i := 0; i < len(d); i++ {
		if c := d[i]; c <= ' ' || c == 0x7f || strings.IndexByte("#%/:<>?@[\\]^|", c) >= 0 {
			return true
		}
	}
	return false
}

// endsInNumber reports whether the last label of d (one trailing dot
// aside) is a number: all decimal digits, or "0x" and hexadecimal digits.
func endsInNumber(d string) bool {
	if len(d) > 1 && d[len(d)-1] == '.' {
		d = d[:len(d)-1]
	}
	last := d[strings.LastIndexByte(d, '.')+1:]
	if last == "" {
		return false
	}
	if allDigits(last, 10) {
		return true
	}
	return len(last) >= 2 && last[0] == '0' && last[1]|0x20 == 'x' && allDigits(last[2:], 16)
}

// ipv4 parses d as the URL Standard's IPv4 parser does: up to four parts
// (one trailing dot aside), each decimal, octal (leading 0) or hexadecimal
// (0x); the last fills the bytes the others leave.
func ipv4(d string) (uint32, bool) {
	if d[len(d)-1] == '.' {
		d = d[:len(d)-1]
	}
	var nums [4]uint64
	n := 0
	for rest, more := d, true; more; n++ {
		var part string
		part, rest, more = strings.Cut(rest, ".")
		if n == len(nums) {
			return 0, false
		}
		v, ok := ipv4Number(part)
		if !ok {
			return 0, false
		}
		nums[n] = v
	}
	var a uint64
	for i := range n - 1 {
		if nums[i] > 255 {
			return 0, false
		}
		a |= nums[i] << (8 * (3 - i))
	}
	if nums[n-1] >= 1<<(8*(5-n)) {
		return 0, false
	}
	return uint32(a | nums[n-1]), true
}

// ipv4Number parses one part of an IPv4 address; values above 2^32 are
// capped there (any such address is refused).
func ipv4Number(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	base := uint64(10)
	switch {
	case len(s) >= 2 && s[0] == '0' && s[1]|0x20 == 'x':
		s, base = s[2:], 16
	case len(s) >= 2 && s[0] == '0':
		s, base = s[1:], 8
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		d, ok := digit(s[i], base)
		if !ok {
			return 0, false
		}
		v = min(v*base+d, 1<<32)
	}
	return v, true
}

func digit(c byte, base uint64) (uint64, bool) {
	var d uint64
	switch {
	case c >= '0' && c <= '9':
		d = uint64(c - '0')
	case c|0x20 >= 'a' && c|0x20 <= 'f':
		d = uint64(c|0x20-'a') + 10
	default:
		return 0, false
	}
	return d, d < base
}

func allDigits(s string, base uint64) bool {
	for i := 0; i < len(s); i++ {
		if _, ok := digit(s[i], base); !ok {
			return false
		}
	}
	return true
}

// formatIPv4 writes a in dotted decimal: h itself when that is how h is
// written.
func formatIPv4(h string, a uint32) string {
	var buf [15]byte
	b := buf[:0]
	for i := 3; i >= 0; i-- {
		b = strconv.AppendUint(b, uint64(a>>(8*i)&0xff), 10)
		if i > 0 {
			b = append(b, '.')
		}
	}
	if string(b) == h {
		return h
	}
	return string(b)
}

// Port returns the canonical spelling of p, a URL's port as url.URL.Port
// returns it (decimal digits, or "" for none), and true: without leading
// zeros, def (the scheme's default port) when p is empty or equal to it.
// A port a browser refuses (not digits, above 65535) gives p and false.
func Port(p, def string) (string, bool) {
	if p == "" {
		return def, true
	}
	q := strings.TrimLeft(p, "0")
	if q == "" {
		q = "0"
	}
	if len(q) > 5 || !allDigits(q, 10) {
		return p, false
	}
	if n, _ := strconv.Atoi(q); n > 65535 {
		return p, false
	}
	return q, true
}
