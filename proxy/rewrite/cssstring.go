package rewrite

import "unicode/utf8"

// flushCSSEscaped appends a CSS string or url() value (lit[lo:hi]) with
// escapes ("http\3a //host\2f x", "\/static\/x"): the string it spells,
// as the browser reads it, is the candidate, written back with what must
// be escaped escaped. A bad escape leaves it as it came.
func (s *scanner) flushCSSEscaped(dst, lit []byte, lo, hi int) []byte {
	q := s.cssQuote(lit, lo)
	v, ok := unescapeCSS(s.str[:0], lit[lo:hi], q != 0)
	s.str = v
	if !ok {
		return append(dst, lit...)
	}
	if u, read := s.read(v); read {
		v = u
	}
	nv, ok := s.rw.candidate(KindCSS, v)
	if !ok {
		return append(dst, lit...)
	}
	dst = append(dst, lit[:lo]...)
	dst = appendCSS(dst, nv, q)
	return append(dst, lit[hi:]...)
}

// unescapeCSS appends the string raw spells (CSS Syntax: "\" and up to
// six hex digits, one white space after them dropped; "\" and another
// character, that character; in a quoted string "\" and a line break,
// nothing) to dst; false for an escape a URL cannot hold ("\" at the end,
// a line break in an unquoted url()).
func unescapeCSS(dst, raw []byte, quoted bool) ([]byte, bool) {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			dst = append(dst, c)
			i++
			continue
		}
		i++
		if i == len(raw) {
			return dst, false
		}
		c = raw[i]
		switch {
		case c == '\n' || c == '\r' || c == '\f':
			if !quoted {
				return dst, false
			}
			i++
			if c == '\r' && i < len(raw) && raw[i] == '\n' {
				i++
			}
		case isHex(c):
			var r rune
			for n := 0; n < 6 && i < len(raw) && isHex(raw[i]); n++ {
				r = r<<4 | rune(unhex(raw[i]))
				i++
			}
			if i < len(raw) && isSpace(raw[i]) {
				if raw[i] == '\r' && i+1 < len(raw) && raw[i+1] == '\n' {
					i++
				}
				i++
			}
			if r == 0 || r >= 0xd800 && r < 0xe000 || r > utf8.MaxRune {
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
		default:
			_, n := utf8.DecodeRune(raw[i:])
			dst = append(dst, raw[i:i+n]...)
			i += n
		}
	}
	return dst, true
}

// appendCSS appends s as the body of a CSS string quoted by q, or of an
// unquoted url() (q 0): backslashes and the quote escaped, controls (and,
// unquoted, spaces, quotes and parentheses) as hex escapes, and a "<"
// before "/" or "!" too, so that the value never spells "</style" or
// "<!--" in a <style> element.
func appendCSS(dst []byte, s string, q byte) []byte {
	const hexDigits = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' || q != 0 && c == q:
			dst = append(dst, '\\', c)
		case c < ' ' || c == 0x7f,
			q == 0 && (c == ' ' || c == '"' || c == '\'' || c == '(' || c == ')'),
			c == '<' && i+1 < len(s) && (s[i+1] == '/' || s[i+1] == '!'):
			dst = append(dst, '\\', hexDigits[c>>4], hexDigits[c&15], ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
