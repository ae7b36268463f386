package ldap

import (
	"strings"
	"unicode/utf8"
)

// escapeDNValue escapes s for use as an attribute value in a DN (RFC 4514
// section 2.4): the characters " + , ; < > \ and = get a backslash, as do a
// leading # or space and a trailing space; NUL and other control bytes
// become \XX. The result parses back to s.
func escapeDNValue(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '+' || c == ',' || c == ';' || c == '<' || c == '>' || c == '\\' || c == '=':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '#' && i == 0, c == ' ' && (i == 0 || i == len(s)-1):
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			b.WriteByte('\\')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// expand replaces every {0} in template with value (already escaped for
// where the template is used).
func expand(template, value string) string { return strings.ReplaceAll(template, "{0}", value) }

// Limits on what a client may present as a user name or password. A name
// outside them is refused before the directory is asked.
const (
	maxUserLen     = 256
	maxPasswordLen = 1024
)

// acceptableUser reports whether name may be looked up at all: non-empty,
// UTF-8, at most maxUserLen bytes, no control characters (NUL included).
// Every character it lets through is escaped where it is used.
func acceptableUser(name string) bool {
	return name != "" && len(name) <= maxUserLen && utf8.ValidString(name) &&
		!strings.ContainsFunc(name, isControl)
}
