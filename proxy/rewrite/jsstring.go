package rewrite

import (
	"bytes"
	"unicode/utf8"
)

// jsEscapes is how a JavaScript or JSON string literal wrote the
// characters an encoder may escape without need ("\/" from Jackson, PHP
// and others, "\u002F", Go's "\u0026", "\u003c" and "\u003e"): the
// rewritten string is written back the same way.
type jsEscapes struct {
	slash, lt, gt, amp string // the escape of '/', '<', '>', '&' ("" when written plainly)
}

// unescapeJS appends the string a literal's body raw (between quotes q)
// spells to dst, and how it escaped what it need not have: false when
// raw holds an escape that is a syntax error (a bad \u or \x, a lone
// surrogate) or, in a template literal, an escaped "$" or "{" (the
// rewritten string could not tell it from a substitution).
func unescapeJS(dst, raw []byte, q byte) ([]byte, jsEscapes, bool) {
	var e jsEscapes
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			dst = append(dst, c)
			i++
			continue
		}
		if i+1 == len(raw) {
			return dst, e, false
		}
		start := i
		c = raw[i+1]
		i += 2
		var r rune
		switch c {
		case 'n':
			r = '\n'
		case 'r':
			r = '\r'
		case 't':
			r = '\t'
		case 'b':
			r = '\b'
		case 'f':
			r = '\f'
		case 'v':
			r = '\v'
		case '\n': // a line continuation
			continue
		case '\r':
			if i < len(raw) && raw[i] == '\n' {
				i++
			}
			continue
		case 'x':
			v, ok := hexValue(raw, i, 2)
			if !ok {
				return dst, e, false
			}
			r, i = v, i+2
		case 'u':
			var ok bool
			if r, i, ok = unicodeEscape(raw, i); !ok {
				return dst, e, false
			}
			if r >= 0xd800 && r < 0xdc00 && i+1 < len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
				if lo, j, ok := unicodeEscape(raw, i+2); ok && lo >= 0xdc00 && lo < 0xe000 {
					r, i = 0x10000+(r-0xd800)<<10+(lo-0xdc00), j
				}
			}
			if r >= 0xd800 && r < 0xe000 {
				return dst, e, false // a lone surrogate: not UTF-8
			}
		case '0', '1', '2', '3', '4', '5', '6', '7': // legacy octal
			r = rune(c - '0')
			for n := 0; n < 2 && i < len(raw) && raw[i] >= '0' && raw[i] <= '7' && r*8+rune(raw[i]-'0') <= 0377; n++ {
				r, i = r*8+rune(raw[i]-'0'), i+1
			}
		case '$', '{':
			if q == '`' {
				return dst, e, false
			}
			r = rune(c)
		default:
			r = rune(c)
			if c >= utf8.RuneSelf { // "\" before a non-ASCII character: the character
				var n int
				r, n = utf8.DecodeRune(raw[i-1:])
				if r == '\u2028' || r == '\u2029' {
					i += n - 1 // a line continuation
					continue
				}
				dst = append(dst, raw[i-1:i-1+n]...)
				i += n - 1
				continue
			}
		}
		switch seq := raw[start:i]; r {
		case '/':
			e.slash = first(e.slash, seq)
		case '<':
			e.lt = first(e.lt, seq)
		case '>':
			e.gt = first(e.gt, seq)
		case '&':
			e.amp = first(e.amp, seq)
		}
		dst = utf8.AppendRune(dst, r)
	}
	return dst, e, true
}

// first is a, or b as a string when a is "".
func first(a string, b []byte) string {
	if a != "" {
		return a
	}
	return string(b)
}

// unicodeEscape reads the hex digits of a \u escape at raw[i:] (XXXX or
// {X…}): the code point and the index after it.
func unicodeEscape(raw []byte, i int) (rune, int, bool) {
	if i < len(raw) && raw[i] == '{' {
		j := bytes.IndexByte(raw[i:], '}')
		if j < 2 || j > 9 {
			return 0, i, false
		}
		r, ok := hexValue(raw, i+1, j-1)
		if !ok || r > utf8.MaxRune {
			return 0, i, false
		}
		return r, i + j + 1, true
	}
	r, ok := hexValue(raw, i, 4)
	return r, i + 4, ok
}

// hexValue reads n hex digits at raw[i:].
func hexValue(raw []byte, i, n int) (rune, bool) {
	if i+n > len(raw) {
		return 0, false
	}
	var r rune
	for _, c := range raw[i : i+n] {
		if !isHex(c) {
			return 0, false
		}
		r = r<<4 | rune(unhex(c))
	}
	return r, true
}

// appendJS appends s written as the body of a literal quoted by q, the
// characters of e escaped as the original literal escaped them, and a
// "<" before "/" or "!" always escaped.
func appendJS(dst []byte, s string, q byte, e jsEscapes) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		var esc string
		switch {
		case c == '\\' || c == q:
			dst = append(dst, '\\', c)
			continue
		case c == '\n':
			esc = `\n`
		case c == '\r':
			esc = `\r`
		case c == '\t':
			esc = `\t`
		case c < ' ' || c == 0x7f:
			dst = append(dst, `\u00`...)
			dst = append(dst, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
			continue
		case c == '/':
			esc = e.slash
		case c == '<':
			esc = e.lt
			if esc == "" && i+1 < len(s) && (s[i+1] == '/' || s[i+1] == '!') {
				// The string may spell "</script" or "<!--" that its
				// literal did not hold as such ("</\x73cript", "<\x21--",
				// a line continuation between): written plainly it would
				// end an inline script early, or change where it ends.
				esc = `\u003c`
			}
		case c == '>':
			esc = e.gt
		case c == '&':
			esc = e.amp
		}
		if esc == "" {
			dst = append(dst, c)
		} else {
			dst = append(dst, esc...)
		}
	}
	return dst
}
