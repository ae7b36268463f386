package frontend

import (
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// maxSimpleFields is the most header fields a head read by simpleRequest
// may have; a head with more goes to http.ReadRequest.
const maxSimpleFields = 48

// maxReusedFields is the most names a header map may hold to be reused
// for the next request (simpleRequest): clearing a map costs its size.
const maxReusedFields = 16

// simpleRequest fills req from head (a whole request head, its empty line
// included) when head is of the plain kind nearly every client sends, and
// reports whether it did:
//
//   - the request line is an upper-case method other than CONNECT, an
//     origin-form target ("/…") of visible ASCII, and HTTP/1.1 or
//     HTTP/1.0, each separated by one space, ending in CRLF;
//   - each field line is a name of letters, digits and '-', a colon right
//     after it, a value of visible ASCII, spaces and tabs, and CRLF: no
//     obs-fold, no obs-text, no control byte, no bare LF;
//   - at most one Host field, and none of the fields that frame a body or
//     that net/http's parsing acts on (Content-Length, Transfer-Encoding,
//     Trailer, Pragma): the request has no body.
//
// req.Header, when it is a map of at most maxReusedFields names (the
// connection's last request's), is cleared and filled, and req.URL, when
// there is one, is filled anew: a connection's requests then allocate no
// header map and no URL. Whatever is in req is replaced.
//
// What it fills is what http.ReadRequest returns for the same bytes (the
// tests hold it to that, FuzzSimpleRequest among them); any other head
// goes to http.ReadRequest, whose rules and errors stay the only ones.
// The difference is the cost: one pass over bytes the server has already
// buffered, the strings (canonical names included) cut from one copy of
// the head, no textproto reader. It also returns the count of Host fields and the first one's
// value (hostFields).
func simpleRequest(head []byte, req *http.Request) (hosts int, host string, ok bool) {
	var fields [maxSimpleFields]span
	// The request line.
	i := 0
	for i < len(head) && 'A' <= head[i] && head[i] <= 'Z' {
		i++
	}
	if i == 0 || i >= len(head) || head[i] != ' ' || string(head[:i]) == http.MethodConnect {
		return 0, "", false
	}
	methodEnd := i
	i++
	t0 := i
	if i >= len(head) || head[i] != '/' {
		return 0, "", false
	}
	for i < len(head) && head[i] > ' ' && head[i] < 0x7f {
		i++
	}
	t1 := i
	const v11, v10 = " HTTP/1.1\r\n", " HTTP/1.0\r\n"
	if len(head)-i < len(v11) {
		return 0, "", false
	}
	minor := 1
	switch string(head[i : i+len(v11)]) {
	case v11:
	case v10:
		minor = 0
	default:
		return 0, "", false
	}
	i += len(v11)
	// The field lines, up to the empty line.
	n := 0
	hostAt := -1
	for {
		if i+1 < len(head) && head[i] == '\r' && head[i+1] == '\n' {
			i += 2
			break
		}
		if n == maxSimpleFields {
			return 0, "", false
		}
		k0 := i
		for i < len(head) && isNameByte(head[i]) {
			i++
		}
		if i == k0 || i >= len(head) || head[i] != ':' {
			return 0, "", false
		}
		k1 := i
		i++
		for i < len(head) && (head[i] == ' ' || head[i] == '\t') {
			i++
		}
		v0 := i
		for i < len(head) && (head[i] >= ' ' && head[i] < 0x7f || head[i] == '\t') {
			i++
		}
		if i+1 >= len(head) || head[i] != '\r' || head[i+1] != '\n' {
			return 0, "", false
		}
		v1 := i
		for v1 > v0 && (head[v1-1] == ' ' || head[v1-1] == '\t') {
			v1--
		}
		i += 2
		switch k1 - k0 {
		case 4:
			if asciiEqualFold(head[k0:k1], "host") {
				if hosts++; hosts > 1 {
					return 0, "", false // ReadRequest's error
				}
				hostAt = n
			}
		case 6:
			if asciiEqualFold(head[k0:k1], "pragma") {
				return 0, "", false
			}
		case 7:
			if asciiEqualFold(head[k0:k1], "trailer") {
				return 0, "", false
			}
		case 14:
			if asciiEqualFold(head[k0:k1], "content-length") {
				return 0, "", false
			}
		case 17:
			if asciiEqualFold(head[k0:k1], "transfer-encoding") {
				return 0, "", false
			}
		}
		fields[n] = span{k0, k1, v0, v1}
		n++
	}
	if i != len(head) {
		return 0, "", false
	}

	s := copyCanonical(head, fields[:n]) // the one copy every string below is cut from
	target := s[t0:t1]
	u := req.URL // the connection's last request's, reused as its header map is
	if u == nil {
		u = new(url.URL)
	}
	if !readTarget(target, u) {
		var err error
		if u, err = url.ParseRequestURI(target); err != nil {
			return 0, "", false // ReadRequest's error
		}
	}
	method := s[:methodEnd]
	h := req.Header
	if h == nil || len(h) > maxReusedFields {
		h = make(http.Header, n-hosts)
	} else {
		clear(h)
	}
	strs := make([]string, n-hosts) // Host's value goes to req.Host
	for j := range n {
		f := &fields[j]
		v := s[f.v0:f.v1]
		if j == hostAt {
			host = v // ReadRequest moves Host to req.Host
			continue
		}
		k := s[f.k0:f.k1]
		if vv, dup := h[k]; dup {
			h[k] = append(vv, v)
			continue
		}
		vv := strs[:1:1]
		strs = strs[1:]
		vv[0] = v
		h[k] = vv
	}
	*req = http.Request{
		Method:        method,
		URL:           u,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    minor,
		Header:        h,
		Body:          http.NoBody,
		ContentLength: 0,
		Host:          host,
		RequestURI:    target,
	}
	if minor == 0 {
		req.Proto = "HTTP/1.0"
	}
	// net/http's shouldClose.
	conn := h["Connection"]
	req.Close = httpguts.HeaderValuesContainsToken(conn, "close")
	if minor == 0 && !req.Close {
		req.Close = !httpguts.HeaderValuesContainsToken(conn, "keep-alive")
	}
	return hosts, host, true
}

// readTarget fills u from target, an origin-form target ("/…") of visible
// ASCII, as url.ParseRequestURI reads it, when its path has no escapes
// (then the path is the target's bytes: url.URL.setPath's unescape changes
// nothing), and reports whether it did; a path with '%' is left to
// ParseRequestURI. The query is never parsed, by either.
func readTarget(target string, u *url.URL) bool {
	path, query, hasQuery := strings.Cut(target, "?")
	if strings.IndexByte(path, '%') >= 0 {
		return false
	}
	// ParseRequestURI: a '?' that ends the target and is its only one
	// forces an empty query; else the query is what follows the first.
	*u = url.URL{Path: path, RawQuery: query, ForceQuery: hasQuery && query == ""}
	if u.EscapedPath() != path {
		u.RawPath = path // setPath keeps a path Go would write otherwise as it came
	}
	return true
}

// span is where a field's name and value are in a head.
type span struct{ k0, k1, v0, v1 int }

// copyCanonical returns head as a string with the field names at fields
// in their canonical form (textproto.CanonicalMIMEHeaderKey's: upper case
// first and after each '-', lower case elsewhere; the names are of
// letters, digits and '-', so the form has their length): one allocation
// for the whole head, the names a client sends in lower case (Chromium's
// sec-ch-ua, HTTP/2-minded libraries) included.
func copyCanonical(head []byte, fields []span) string {
	var b strings.Builder
	b.Grow(len(head))
	at := 0
	for _, f := range fields {
		name := head[f.k0:f.k1]
		if isCanonical(name) {
			continue
		}
		b.Write(head[at:f.k0])
		upper := true
		for _, c := range name {
			switch {
			case upper && 'a' <= c && c <= 'z':
				c -= 'a' - 'A'
			case !upper && 'A' <= c && c <= 'Z':
				c += 'a' - 'A'
			}
			b.WriteByte(c)
			upper = c == '-'
		}
		at = f.k1
	}
	b.Write(head[at:])
	return b.String()
}

// isCanonical reports whether name, of letters, digits and '-', is in
// canonical form.
func isCanonical(name []byte) bool {
	upper := true
	for _, c := range name {
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			return false
		}
		upper = c == '-'
	}
	return true
}

// isNameByte reports whether b may be in a field name simpleRequest reads
// (a subset of RFC 9110's tchar).
func isNameByte(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-'
}
