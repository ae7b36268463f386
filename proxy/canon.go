package proxy

import (
	"net/url"
	"strings"
)

// Reasons a path is refused with 400. They are stable: tests, the JSON
// error and the metric label use them.
const (
	reasonNotAbsolute    = "path is not absolute"
	reasonBadEscape      = "invalid percent-encoding"
	reasonEncodedSlash   = "encoded slash"
	reasonBackslash      = "backslash"
	reasonControl        = "control character"
	reasonDoubleEncoding = "double-encoded character"
	reasonDotSegment     = "dot-dot segment"
	reasonParamSegment   = "segment of only parameters"
)

var refusalReasons = []string{reasonNotAbsolute, reasonBadEscape, reasonEncodedSlash, reasonBackslash,
	reasonControl, reasonDoubleEncoding, reasonDotSegment, reasonParamSegment}

// canonicalPath returns the one path that routing, the chain and the
// backend see, decoded (percent-escapes resolved; with %2F refused, the
// decoded form is unambiguous), or the reason the path is refused.
//
// Go's server gives u.Path decoded and u.RawPath, the path as sent, only
// when that differs from the default encoding of u.Path; RawPath is read
// whenever set (even when it is not a valid encoding, where u.EscapedPath
// would re-encode Path and turn %2F into a real slash).
//
// The common case (no RawPath, nothing to change) returns u.Path itself
// without allocating.
func canonicalPath(u *url.URL) (string, string) {
	if u.RawPath != "" {
		return canonical(u.RawPath, true)
	}
	return canonical(u.Path, false)
}

func canonical(src string, escaped bool) (string, string) {
	if !strings.HasPrefix(src, "/") {
		return "", reasonNotAbsolute
	}
	if !escaped && plain(src) {
		return src, ""
	}
	return canonicalSlow(src, escaped)
}

// canonicalSlow validates every segment and rebuilds the path if needed.
func canonicalSlow(src string, escaped bool) (string, string) {
	if !strings.HasPrefix(src, "/") {
		return "", reasonNotAbsolute
	}
	// First pass: validate, and find whether anything must change.
	rebuild := escaped
	for i := 1; i <= len(src); {
		j := strings.IndexByte(src[i:], '/')
		if j < 0 {
			j = len(src) - i
		}
		seg := src[i : i+j]
		last := i+j >= len(src)
		i += j + 1
		if seg == "" {
			if !last {
				rebuild = true // doubled slash: merged
			}
			continue
		}
		skip, reason := checkSegment(seg, escaped)
		if reason != "" {
			return "", reason
		}
		if skip {
			rebuild = true
		}
	}
	if !rebuild {
		return src, ""
	}
	var b strings.Builder
	b.Grow(len(src))
	trailing := false
	for i := 1; i <= len(src); {
		j := strings.IndexByte(src[i:], '/')
		if j < 0 {
			j = len(src) - i
		}
		seg := src[i : i+j]
		i += j + 1
		trailing = seg == "" || seg == "." || (escaped && isEncodedDot(seg))
		if trailing {
			continue
		}
		b.WriteByte('/')
		if escaped {
			d, _ := url.PathUnescape(seg) // validated above
			b.WriteString(d)
		} else {
			b.WriteString(seg)
		}
	}
	if trailing || b.Len() == 0 {
		b.WriteByte('/')
	}
	return b.String(), ""
}

// plain reports, in one pass, that a decoded path needs neither checks nor
// changes: no empty segment, no segment starting with a dot, and no
// backslash, '%', ';' or control character.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '/':
			// A segment that may be a dot segment ("..", " ..", ". ") takes
			// the slow path, which refuses dots-and-spaces segments.
			if i+1 < len(s) && (s[i+1] == '/' || s[i+1] == '.' || s[i+1] == ' ') {
				return false
			}
		case c < 0x20 || c == 0x7f || c == '\\' || c == '%' || c == ';':
			return false
		}
	}
	return true
}

// checkSegment validates one non-empty segment; skip is true for a "."
// segment, which is removed.
func checkSegment(seg string, escaped bool) (skip bool, reason string) {
	d := seg
	if escaped && strings.IndexByte(seg, '%') >= 0 {
		var err error
		if d, err = url.PathUnescape(seg); err != nil {
			return false, reasonBadEscape
		}
		if strings.IndexByte(d, '/') >= 0 {
			return false, reasonEncodedSlash
		}
	}
	for k := 0; k < len(d); k++ {
		switch c := d[k]; {
		case c == '\\':
			return false, reasonBackslash
		case c < 0x20 || c == 0x7f:
			return false, reasonControl
		case c == '%' && k+2 < len(d) && doubleEncoded(d[k+1], d[k+2]):
			return false, reasonDoubleEncoding
		}
	}
	base := d
	if k := strings.IndexByte(d, ';'); k >= 0 {
		base = d[:k]
		if base == "" {
			return false, reasonParamSegment
		}
	}
	if base == "." && base == d {
		return true, ""
	}
	if dotLike(base) {
		return false, reasonDotSegment
	}
	return false, ""
}

// dotLike: "..", "...", ". .", ".;x": segments made of dots and spaces,
// which some backends (Tomcat's ';' parameters, Windows' trailing dots and
// spaces) turn into a parent reference.
func dotLike(s string) bool {
	if s == "" {
		return false
	}
	for k := 0; k < len(s); k++ {
		if s[k] != '.' && s[k] != ' ' {
			return false
		}
	}
	return strings.IndexByte(s, '.') >= 0
}

func isEncodedDot(seg string) bool { return seg == "%2e" || seg == "%2E" }

// doubleEncoded reports whether "%" h l, found in a decoded segment, encodes
// a character a second decoding would make dangerous: '.', '/', '\', '%', NUL.
func doubleEncoded(h, l byte) bool {
	switch h {
	case '0':
		return l == '0'
	case '2':
		return l == 'e' || l == 'E' || l == 'f' || l == 'F' || l == '5'
	case '5':
		return l == 'c' || l == 'C'
	}
	return false
}
