package rewrite

import "bytes"

// urlForm is what readURL found a spelling to be.
type urlForm uint8

const (
	formOther      urlForm = iota // a relative path, or a scheme the rewriter does not map
	formRoot                      // a root-relative path: "/x"
	formSchemeRoot                // a root-relative path spelled with the page's scheme: "http:/x"
	formNetwork                   // a network-path reference: "//host/x"
	formAbsolute                  // an http, https, ws or wss URL: "http://host/x"
)

// readURL appends v to dst as a browser's URL parser (WHATWG URL) reads it
// against a page of scheme page ("http", "https"; "" unknown), and says
// what it is. Read so: the C0 controls and spaces around it and the tabs
// and line breaks in it dropped; for a special scheme (http, https, ws,
// wss, or none: the page's), backslashes before the query or fragment
// slashes, and the slashes after the scheme's colon, any number of them,
// "//" (or, on a page of that scheme, one slash a root-relative path and
// none a relative one, as the parser's "special relative or authority
// state" has it); slashes opening a network-path reference "//". The
// scheme is written in lower case. A spelling of another scheme is
// appended without its tabs, line breaks and surrounding spaces only.
func readURL(dst, v []byte, page string) ([]byte, urlForm) {
	lo, hi := 0, len(v)
	for lo < hi && v[lo] <= ' ' {
		lo++
	}
	for hi > lo && v[hi-1] <= ' ' {
		hi--
	}
	start := len(dst)
	for _, c := range v[lo:hi] {
		if c != '\t' && c != '\n' && c != '\r' {
			dst = append(dst, c)
		}
	}
	u := dst[start:]
	colon := schemeEnd(u)
	if colon < 0 { // relative to the page: special
		backslashes(u)
		switch n := leadingSlashes(u); {
		case n >= 2:
			return collapse(dst, start, n, 2), formNetwork
		case n == 1:
			return dst, formRoot
		}
		return dst, formOther
	}
	for i := range colon {
		if c := u[i]; c >= 'A' && c <= 'Z' {
			u[i] = c + 'a' - 'A'
		}
	}
	scheme := string(u[:colon]) // no allocation: compared only
	switch scheme {
	case "http", "https", "ws", "wss":
	default:
		return dst, formOther
	}
	rest := u[colon+1:]
	backslashes(rest)
	n := leadingSlashes(rest)
	if scheme == page && n < 2 {
		if n == 1 { // "http:/x" on an http page: the path "/x"
			return append(dst[:start], rest...), formSchemeRoot
		}
		return dst, formOther // "http:x": a relative path
	}
	return collapse(dst, start+colon+1, n, 2), formAbsolute
}

// collapse replaces the n slashes at dst[at:] with want slashes.
func collapse(dst []byte, at, n, want int) []byte {
	tail := len(dst) - at - n
	switch {
	case n > want:
		copy(dst[at+want:], dst[at+n:])
		dst = dst[:at+want+tail]
	case n < want:
		dst = append(dst, "//"[:want-n]...)
		copy(dst[at+want:], dst[at+n:at+n+tail])
	}
	for i := at; i < at+want; i++ {
		dst[i] = '/'
	}
	return dst
}

// backslashes turns the backslashes of u before its query or fragment
// into slashes.
func backslashes(u []byte) {
	end := len(u)
	if i := bytes.IndexAny(u, "?#"); i >= 0 {
		end = i
	}
	for i := range end {
		if u[i] == '\\' {
			u[i] = '/'
		}
	}
}

func leadingSlashes(u []byte) int {
	n := 0
	for n < len(u) && u[n] == '/' {
		n++
	}
	return n
}

// schemeEnd is the index of the colon ending u's scheme, -1 when u has
// none (u without tabs and line breaks).
func schemeEnd(u []byte) int {
	for i, c := range u {
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return i
		default:
			return -1
		}
	}
	return -1
}

// plainURL reports whether a browser reads v as it is written: nothing
// readURL would drop or change but the scheme's case (the Mapper reads
// any): an http(s) or ws(s) scheme followed by exactly "//", a path
// opening with at most one slash. Most URLs are; this is the fast path.
func plainURL[T string | []byte](v T) bool {
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] == '\\' {
			return false
		}
	}
	if len(v) > 0 && v[0] == '/' {
		return len(v) < 3 || v[1] != '/' || v[2] != '/'
	}
	n := specialScheme(v)
	if n < 0 {
		return true
	}
	r := v[n+1:]
	return len(r) >= 2 && r[0] == '/' && r[1] == '/' && (len(r) == 2 || r[2] != '/')
}

// specialScheme is the index of the colon after v's http, https, ws or
// wss scheme (tabs and line breaks in it, any case), -1 when v has none.
func specialScheme[T string | []byte](v T) int {
	var b [5]byte
	n := 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\t' || c == '\n' || c == '\r':
			continue
		case c == ':':
			switch string(b[:n]) {
			case "http", "https", "ws", "wss":
				return i
			}
			return -1
		case n == len(b):
			return -1
		default:
			b[n] = c | 0x20 // lower case (the colon and tabs are out)
			n++
		}
	}
	return -1
}

// browserURL is an attribute's URL v as a browser's URL parser reads it
// against a page of scheme page (readURL): v itself when that is the
// same. Otherwise a template's "\n  /x\n", "\\\\host/" or "http:host/"
// would pass unmapped, an internal address or a path outside the gateway.
func browserURL(v []byte, page string) []byte {
	if plainURL(v) {
		return v // the common case: read as it is
	}
	u, _ := readURL(nil, v, page)
	return u
}

// stringURL is a string literal's value v as a browser reads it when it
// is used as a URL (readURL), and true, when that makes it an absolute or
// network-path URL of a special scheme or a root-relative path spelled
// with the page's scheme ("http:/x") other than v as written; false
// otherwise. A string only the reading makes a root-relative path (" /x",
// "\\d+") is left as it is: it is as likely text or a regular
// expression's source as a path. buf is scratch space, returned (grown)
// for reuse; u is in it.
func stringURL(buf, v []byte, page string) (u []byte, read bool, scratch []byte) {
	i := 0
	for i < len(v) && v[i] <= ' ' {
		i++
	}
	if i == len(v) || v[i] != '/' && v[i] != '\\' && specialScheme(v[i:]) < 0 || plainURL(v) {
		return v, false, buf // most strings: no URL, or one read as it is
	}
	u, f := readURL(buf[:0], v, page)
	read = (f == formAbsolute || f == formNetwork || f == formSchemeRoot) && !bytes.Equal(u, v)
	return u, read, u
}

// ReadURL is a URL v that a browser resolves against the gateway URL it
// asked, of scheme page ("http", "https"; "" unknown), as the browser
// reads it (a Location or Refresh header's, as an attribute's: readURL),
// and true, when that is an http(s) or ws(s) URL, a network-path
// reference or a root-relative path other than v as written; v and false
// otherwise.
func ReadURL(v, page string) (string, bool) {
	if plainURL(v) {
		return v, false
	}
	u, f := readURL(nil, []byte(v), page)
	if f == formOther || string(u) == v {
		return v, false
	}
	return string(u), true
}
