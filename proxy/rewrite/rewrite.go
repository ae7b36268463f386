package rewrite

import (
	"bytes"
	"fmt"
	"mime"
	"regexp"
	"strings"
)

// Kind is a kind of body the rewriter understands.
type Kind uint8

// Kinds of bodies.
const (
	KindHTML Kind = 1 << iota
	KindCSS
	KindJS
	KindJSON

	// AllKinds selects every kind (a Rule's default).
	AllKinds = KindHTML | KindCSS | KindJS | KindJSON
)

var kindNames = map[string]Kind{"html": KindHTML, "css": KindCSS, "js": KindJS, "javascript": KindJS, "json": KindJSON}

// ParseKinds reads a comma-separated list of kinds (html, css, js, json).
func ParseKinds(s string) (Kind, error) {
	var k Kind
	for f := range strings.SplitSeq(s, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" {
			continue
		}
		v, ok := kindNames[f]
		if !ok {
			return 0, fmt.Errorf("%q is not a body kind: use html, css, js or json", f)
		}
		k |= v
	}
	if k == 0 {
		return 0, fmt.Errorf("no body kind in %q", s)
	}
	return k, nil
}

// KindOf is the kind of a Content-Type, false for bodies not rewritten.
func KindOf(contentType string) (Kind, bool) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(strings.Split(contentType, ";")[0]))
	}
	switch {
	case mt == "text/html" || mt == "application/xhtml+xml":
		return KindHTML, true
	case mt == "text/css":
		return KindCSS, true
	case mt == "text/javascript" || mt == "application/javascript" || mt == "application/x-javascript" || mt == "application/ecmascript" || mt == "text/ecmascript":
		return KindJS, true
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return KindJSON, true
	}
	return 0, false
}

// Mapper maps a link: the value to write and true, or false when the link
// names an internal address no service covers (it is replaced).
type Mapper func(link string) (string, bool)

// Rule is a rewrite rule of a service: a literal prefix (From → To) or,
// with Pattern, a regular expression replaced by To ($1 expands).
type Rule struct {
	Name    string
	From    string
	To      string
	Pattern *regexp.Regexp
	Kinds   Kind // 0: all
}

// Options configure a rewriter. Map is required.
type Options struct {
	Map Mapper
	// RootPrefix, when set, maps a plain root-relative path ("/x/y", not
	// "//host", without %, #, \, spaces or "/.") to RootPrefix+path without
	// calling Map (the commonest link of a UI, written straight into the
	// output); any other link goes to Map.
	RootPrefix string
	// PageScheme is the scheme of the gateway URL the body is served
	// from, "http" or "https" ("" unknown): a URL spelled with a special
	// scheme and fewer than two slashes ("http:host/x", "http:/x") is
	// absolute unless the page has that scheme (then "http:/x" is the
	// root-relative path "/x", "http:x" a relative one). Unknown, it is
	// read as absolute.
	PageScheme string
	Rules      []Rule
	// MaxBytes bounds the decoded body; 0: DefaultMaxBytes.
	MaxBytes int64
	// MaxToken bounds one HTML token (a tag with its attributes, a text
	// run, a script); 0: DefaultMaxToken.
	MaxToken int
}

// Defaults of Options.
const (
	DefaultMaxBytes = 64 << 20
	DefaultMaxToken = 4 << 20
	// MaxRatio is the most a compressed body may expand in its first
	// primeBytes of decoded output.
	MaxRatio = 200
)

// blank replaces a link the Mapper refused.
const blank = "about:blank"

type rewriter struct {
	o *Options
}

// candidate rewrites one literal or attribute value v of a body of kind k:
// the new value and true, or false to keep v.
func (rw *rewriter) candidate(k Kind, v []byte) (string, bool) {
	if rw.rootRelative(k, v) {
		return rw.o.RootPrefix + string(v), true
	}
	return rw.mapped(k, v)
}

// appendCandidate is candidate appending the new value to dst (dst as it
// was when v stays).
func (rw *rewriter) appendCandidate(dst []byte, k Kind, v []byte) ([]byte, bool) {
	if rw.rootRelative(k, v) {
		return append(append(dst, rw.o.RootPrefix...), v...), true
	}
	nv, ok := rw.mapped(k, v)
	if !ok {
		return dst, false
	}
	return append(dst, nv...), true
}

// rootRelative reports whether v is a plain root-relative path that
// RootPrefix maps, no rule applying to it.
func (rw *rewriter) rootRelative(k Kind, v []byte) bool {
	if rw.o.RootPrefix == "" || len(v) < 2 || v[0] != '/' || v[1] == '/' || !isLink(k, v) ||
		bytes.ContainsAny(v, "%#\\ \t\n\r\f") || bytes.Contains(v, []byte("/.")) {
		return false
	}
	for i := range rw.o.Rules {
		if r := &rw.o.Rules[i]; r.Kinds == 0 || r.Kinds&k != 0 {
			return false // rules come first: leave v to mapped
		}
	}
	return true
}

// mapped is candidate without the RootPrefix path: the rules, then Map.
func (rw *rewriter) mapped(k Kind, v []byte) (string, bool) {
	for i := range rw.o.Rules {
		r := &rw.o.Rules[i]
		if r.Kinds != 0 && r.Kinds&k == 0 {
			continue
		}
		if r.Pattern != nil {
			if r.Pattern.Match(v) {
				return string(r.Pattern.ReplaceAll(v, []byte(r.To))), true
			}
			continue
		}
		if bytes.HasPrefix(v, []byte(r.From)) {
			return r.To + string(v[len(r.From):]), true
		}
	}
	if !isLink(k, v) {
		return "", false
	}
	nv, ok := rw.o.Map(string(v))
	if !ok {
		return blank, true
	}
	if nv == string(v) {
		return "", false
	}
	return nv, true
}

// isLink reports whether v may be a link the Mapper rewrites: an absolute
// http(s) or ws(s) URL, a network-path reference or (except in JSON) a
// root-relative path.
func isLink(k Kind, v []byte) bool {
	if len(v) < 2 {
		return false
	}
	if v[0] == '/' {
		if v[1] == '/' {
			return len(v) > 2
		}
		return k != KindJSON && !isSpace(v[1]) && v[1] != '*'
	}
	return hasFoldPrefix(v, "http://") || hasFoldPrefix(v, "https://") ||
		hasFoldPrefix(v, "ws://") || hasFoldPrefix(v, "wss://")
}

func hasFoldPrefix(v []byte, p string) bool {
	return len(v) >= len(p) && strings.EqualFold(string(v[:len(p)]), p)
}
