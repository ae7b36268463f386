package rewrite

import (
	"bytes"
)

// scanner finds the string literals (and CSS url(…) values) of CSS,
// JavaScript and JSON text fed in chunks of any size, and hands each to
// the rewriter; everything else passes unchanged. It keeps O(1) state
// between chunks: the open literal, at most maxString bytes of it.
type scanner struct {
	kind  Kind
	rw    *rewriter
	quote byte // the open literal's closing byte: ' " ` or ) for url(; 0 outside
	esc   bool // the previous byte of the literal was a backslash
	over  bool // the open literal passed maxString: copied through
	lit   []byte
	str   []byte  // the string a literal with escapes spells
	url   []byte  // the URL a browser reads from a literal's string (stringURL)
	tail  [3]byte // the last bytes outside literals, lower case: "url" before '('
}

// maxString is the longest literal considered for rewriting.
const maxString = 8 << 10

func (s *scanner) reset() {
	s.quote, s.esc, s.over, s.lit, s.tail = 0, false, false, s.lit[:0], [3]byte{}
}

// opens reports whether c opens a literal, outside one.
func (s *scanner) opens(c byte) bool {
	switch c {
	case '"':
		return true
	case '\'':
		return s.kind != KindJSON
	case '`':
		return s.kind == KindJS
	case '(':
		return s.kind == KindCSS && s.tail == [3]byte{'u', 'r', 'l'}
	}
	return false
}

func (s *scanner) push(c byte) {
	if c >= 'A' && c <= 'Z' {
		c += 'a' - 'A'
	}
	s.tail[0], s.tail[1], s.tail[2] = s.tail[1], s.tail[2], c
}

// feed appends the rewritten form of src to dst.
func (s *scanner) feed(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		if s.quote == 0 {
			j := i
			for ; j < len(src) && !s.opens(src[j]); j++ {
				s.push(src[j])
			}
			dst = append(dst, src[i:j]...)
			if j == len(src) {
				return dst
			}
			c := src[j]
			dst = append(dst, c)
			s.quote, s.esc, s.over, s.lit = c, false, false, s.lit[:0]
			if c == '(' {
				s.quote = ')'
			}
			i = j + 1
			continue
		}
		j := i
		for ; j < len(src); j++ {
			c := src[j]
			if s.esc {
				s.esc = false
				continue
			}
			if c == '\\' {
				s.esc = true
				continue
			}
			// A line break ends a quoted literal (a quote in a comment or
			// a regular expression), not a template or a url(…), where
			// CSS allows spaces and line breaks around the URL.
			if c == s.quote || (c == '\n' || c == '\r') && s.quote != '`' && s.quote != ')' {
				break
			}
		}
		if s.over {
			dst = append(dst, src[i:j]...)
		} else {
			s.lit = append(s.lit, src[i:j]...)
			if len(s.lit) > maxString {
				dst = append(dst, s.lit...)
				s.lit, s.over = s.lit[:0], true
			}
		}
		if j == len(src) {
			return dst
		}
		// The closing byte, or a line break in a quoted literal: a quote
		// in a comment or regular expression, which is left alone.
		c := src[j]
		dst = s.flush(dst, c == s.quote, false)
		dst = append(dst, c)
		s.quote, s.tail = 0, [3]byte{}
		i = j + 1
	}
	return dst
}

// end appends what an unterminated literal holds at the end of input:
// rewritten in CSS, where the end of a stylesheet (or of a style
// attribute) ends a string or url(…) that the browser then loads, as it
// came in JavaScript and JSON (a syntax error: nothing runs).
func (s *scanner) end(dst []byte) []byte {
	if s.quote != 0 {
		dst = s.flush(dst, s.kind == KindCSS, true)
	}
	s.reset()
	return dst
}

// flush appends the open literal, rewritten when it closed normally (at
// its closing byte, or with eof at the end of the input).
func (s *scanner) flush(dst []byte, closed, eof bool) []byte {
	lit := s.lit
	if !closed || s.over || len(lit) == 0 {
		return append(dst, lit...)
	}
	lo, hi := 0, len(lit)
	if s.quote == ')' { // url(  "x"  ): the value inside spaces and quotes
		for lo < hi && isSpace(lit[lo]) {
			lo++
		}
		for hi > lo && isSpace(lit[hi-1]) {
			hi--
		}
		switch q := lit[min(lo, hi-1)]; {
		case hi-lo >= 2 && (q == '"' || q == '\'') && lit[hi-1] == q:
			lo, hi = lo+1, hi-1
		case eof && hi > lo && (q == '"' || q == '\''): // url("x at the end: the string ends there
			lo, hi = lo+1, len(lit)
		}
	}
	v := lit[lo:hi]
	if bytes.IndexByte(v, '\\') >= 0 {
		if s.kind == KindCSS {
			return s.flushCSSEscaped(dst, lit, lo, hi)
		}
		return s.flushEscaped(dst, v)
	}
	if u, ok := s.read(v); ok { // "http:host/x", " http://host/x": as read
		nv, ok := s.rw.candidate(s.kind, u)
		if !ok {
			return append(dst, lit...)
		}
		return s.appendValue(dst, lit, lo, hi, nv)
	}
	dst = append(dst, lit[:lo]...)
	if s.rw.rootRelative(s.kind, v) { // nothing in it or the prefix to escape
		dst = append(append(dst, s.rw.o.RootPrefix...), v...)
		return append(dst, lit[hi:]...)
	}
	nv, ok := s.rw.mapped(s.kind, v)
	if !ok {
		return append(dst[:len(dst)-lo], lit...)
	}
	return s.appendValue(dst[:len(dst)-lo], lit, lo, hi, nv)
}

// appendValue appends lit with its value lit[lo:hi] replaced by nv,
// written escaped for the literal: it may hold what the value could not
// (the gateway's origin is the request's Host, whose valid bytes include
// quotes and parentheses).
func (s *scanner) appendValue(dst, lit []byte, lo, hi int, nv string) []byte {
	dst = append(dst, lit[:lo]...)
	if s.kind == KindCSS {
		dst = appendCSS(dst, nv, s.cssQuote(lit, lo))
	} else {
		dst = appendJS(dst, nv, s.quote, jsEscapes{})
	}
	return append(dst, lit[hi:]...)
}

// read is the URL a browser reads from a literal's string v (stringURL),
// and true, when it is not v as written.
func (s *scanner) read(v []byte) ([]byte, bool) {
	u, ok, buf := stringURL(s.url, v, s.rw.o.PageScheme)
	s.url = buf
	return u, ok
}

// cssQuote is the quote of a CSS string or url() value starting at
// lit[lo] (0: an unquoted url(x)).
func (s *scanner) cssQuote(lit []byte, lo int) byte {
	switch {
	case s.quote != ')':
		return s.quote
	case lo > 0 && (lit[lo-1] == '"' || lit[lo-1] == '\''):
		return lit[lo-1]
	}
	return 0
}

// flushEscaped appends a JavaScript or JSON literal with escapes: the
// string it spells is the candidate ("http:\/\/host\/x" is the link
// http://host/x), written back escaped as it was. A literal with a bad
// escape is left as it came (the script would not run).
func (s *scanner) flushEscaped(dst, lit []byte) []byte {
	v, e, ok := unescapeJS(s.str[:0], lit, s.quote)
	s.str = v
	if !ok {
		return append(dst, lit...)
	}
	if u, read := s.read(v); read {
		v = u
	}
	nv, ok := s.rw.candidate(s.kind, v)
	if !ok {
		return append(dst, lit...)
	}
	return appendJS(dst, nv, s.quote, e)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }
