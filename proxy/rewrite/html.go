package rewrite

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"

	"golang.org/x/net/html"
)

// ErrTokenTooLarge ends an HTML body with a token larger than MaxToken.
var ErrTokenTooLarge = errors.New("rewrite: HTML token larger than the limit")

// urlAttrs are the attributes whose value is one URL.
var urlAttrs = map[string]bool{
	"href": true, "src": true, "action": true, "formaction": true, "poster": true, "data": true,
	"background": true, "cite": true, "longdesc": true, "manifest": true, "icon": true,
	"xlink:href": true, "codebase": true, "usemap": true, "profile": true, "lowsrc": true,
}

// htmlRewriter turns the tokens of an HTML stream into output.
type htmlRewriter struct {
	rw   *rewriter
	z    *html.Tokenizer
	css  scanner
	js   scanner
	json scanner
	// raw is the element whose text comes next: "script" (JavaScript, an
	// import map or speculation rules), "script-json" (a JSON data block),
	// "script-other" (another data block, left alone), "style", or "".
	raw   string
	attrs []attr
	tmp   []byte // scratch for style attributes and javascript: URLs
	nv    []byte // the current tag's new attribute values (attr.lo:hi)
	// maxToken bounds a token, and a srcdoc document rewritten; depth is
	// how many srcdoc documents this one is in.
	maxToken, depth int
	// open are the elements open since the outermost svg or math
	// (foreign.go), their names in names; spare are scanners of SVG
	// styles and scripts closed; lname and flush are scratch.
	open         []openElem
	names        []byte
	spare        []*scanner
	lname, flush []byte
}

// maxSrcdocDepth is how deep srcdoc documents in srcdoc documents are
// rewritten; one nested deeper is blanked.
const maxSrcdocDepth = 3

func newHTMLRewriter(rw *rewriter, src io.Reader, maxToken int) *htmlRewriter {
	h := &htmlRewriter{rw: rw, z: html.NewTokenizer(src), maxToken: maxToken}
	h.z.SetMaxBuf(maxToken)
	h.css = scanner{kind: KindCSS, rw: rw}
	h.js = scanner{kind: KindJS, rw: rw}
	h.json = scanner{kind: KindJSON, rw: rw}
	return h
}

// next appends the next token's output to dst.
func (h *htmlRewriter) next(dst []byte) ([]byte, error) {
	h.allowCDATA()
	tt := h.z.Next()
	switch tt {
	case html.ErrorToken:
		err := h.z.Err()
		if errors.Is(err, html.ErrBufferExceeded) {
			return dst, ErrTokenTooLarge
		}
		dst = h.popTo(dst, 0)
		return append(dst, h.z.Raw()...), err
	case html.TextToken:
		if sc := h.foreignScanner(); sc != nil {
			return h.foreignText(dst, sc), nil
		}
		raw := h.z.Raw()
		switch h.raw {
		case "script":
			dst = h.js.feed(dst, raw)
			return h.js.end(dst), nil
		case "script-json":
			dst = h.json.feed(dst, raw)
			return h.json.end(dst), nil
		case "style":
			dst = h.css.feed(dst, raw)
			return h.css.end(dst), nil
		}
		return append(dst, raw...), nil
	case html.StartTagToken, html.SelfClosingTagToken:
		return h.tag(dst, tt), nil
	case html.EndTagToken:
		h.raw = ""
		if len(h.open) > 0 {
			raw := h.z.Raw()
			dst = h.endTag(dst, h.lowerName(tagName(raw[1:])))
		}
	}
	return append(dst, h.z.Raw()...), nil
}

// tagName is the name of a start tag from its raw bytes ("<a href…").
func tagName(raw []byte) []byte {
	i := 1
	for i < len(raw) && !isSpace(raw[i]) && raw[i] != '/' && raw[i] != '>' {
		i++
	}
	return raw[1:i]
}

// linkAttrHints are substrings of every attribute name tag rewrites
// ("src" covers srcset, imagesrcset, lowsrc and srcdoc, "con" content and
// icon).
var linkAttrHints = [][]byte{[]byte("href"), []byte("src"), []byte("action"), []byte("style"), []byte("data"),
	[]byte("poster"), []byte("background"), []byte("cite"), []byte("con"), []byte("manifest"), []byte("usemap"),
	[]byte("profile"), []byte("longdesc"), []byte("equiv"), []byte("codebase"), []byte("ping")}

// mayHaveLink reports whether a raw tag may have an attribute tag rewrites
// (a link or an event handler); a tag with upper-case letters is always
// looked at, one without a value ("=") never.
func mayHaveLink(raw []byte) bool {
	if bytes.IndexByte(raw, '=') < 0 {
		return false
	}
	for _, c := range raw {
		if c >= 'A' && c <= 'Z' {
			return true
		}
	}
	for _, h := range linkAttrHints {
		if bytes.Contains(raw, h) {
			return true
		}
	}
	return mayHaveHandler(raw)
}

// mayHaveHandler reports whether raw may have an event handler attribute:
// "on" where an attribute name may start (after a space, a slash or a
// quoted value's closing quote).
func mayHaveHandler(raw []byte) bool {
	for i := 1; i < len(raw); i += 2 {
		j := bytes.Index(raw[i:], []byte("on"))
		if j < 0 {
			return false
		}
		i += j
		switch raw[i-1] {
		case ' ', '\t', '\n', '\r', '\f', '/', '"', '\'':
			return true
		}
	}
	return false
}

// isHandler reports whether the attribute named k (lower case, as the
// tokenizer gives it) is an event handler: any name starting with "on"
// and longer, so that event types browsers add later are covered too.
func isHandler(k []byte) bool {
	return len(k) > 2 && k[0] == 'o' && k[1] == 'n'
}

// attr is an attribute of the current tag: its bytes are the tokenizer's,
// valid until its next token; when changed, the new value is
// htmlRewriter.nv[lo:hi].
type attr struct {
	key, val []byte
	lo, hi   int
	changed  bool
}

// setValue records a new value of a (when changed).
func (h *htmlRewriter) setValue(a *attr, nv string, changed bool) {
	if changed {
		a.lo = len(h.nv)
		h.nv = append(h.nv, nv...)
		a.hi, a.changed = len(h.nv), true
	}
}

// setBytes records nv as the new value of a.
func (h *htmlRewriter) setBytes(a *attr, nv []byte) {
	a.lo = len(h.nv)
	h.nv = append(h.nv, nv...)
	a.hi, a.changed = len(h.nv), true
}

// tag appends a start tag (as it came, unless an attribute changes) and,
// in or into foreign content, updates the open elements (foreign.go).
func (h *htmlRewriter) tag(dst []byte, tt html.TokenType) []byte {
	raw := h.z.Raw()
	mark := len(dst)
	name := tagName(raw)
	foreign := len(h.open) > 0 || isForeignRoot(name)
	var fa foreignAttrs
	dst = h.startTag(dst, tt, raw, name, foreign, &fa)
	if !foreign {
		return dst
	}
	h.flush = h.flush[:0]
	var isForeign bool
	h.flush, isForeign = h.openElement(h.flush, h.lowerName(name), tt == html.SelfClosingTagToken, fa)
	if isForeign {
		h.z.NextIsNotRawText()
		h.raw = ""
	}
	if len(h.flush) > 0 { // an SVG style or script the tag closed: its last text comes first
		dst = slices.Insert(dst, mark, h.flush...)
	}
	return dst
}

// foreignAttrs are what a start tag's attributes tell the tree builder in
// foreign content.
type foreignAttrs struct {
	fontBreakout bool // a color, face or size attribute (of font)
	htmlEncoding bool // encoding text/html or application/xhtml+xml (of annotation-xml)
}

// startTag appends a start tag: as it came, unless an attribute changes.
// With foreign, the attributes of font and annotation-xml tags are read
// into fa.
func (h *htmlRewriter) startTag(dst []byte, tt html.TokenType, raw, name []byte, foreign bool, fa *foreignAttrs) []byte {
	mark := len(dst)
	dst = append(dst, raw...) // optimistic: most tags have no link to change
	h.raw = ""
	isScript := bytes.EqualFold(name, []byte("script"))
	switch {
	case isScript:
		h.raw = "script"
	case bytes.EqualFold(name, []byte("style")):
		h.raw = "style"
	}
	treeAttrs := foreign && (bytes.EqualFold(name, []byte("font")) || bytes.EqualFold(name, []byte("annotation-xml")))
	// The tokenizer's TagAttr copies what it returns: call it only for a
	// tag that may hold a link.
	if !isScript && !treeAttrs && !mayHaveLink(raw) {
		return dst
	}
	h.attrs, h.nv = h.attrs[:0], h.nv[:0]
	changed := false
	isMeta, refresh := bytes.EqualFold(name, []byte("meta")), false
	content := -1
	for {
		k, v, more := h.z.TagAttr()
		if k == nil && !more {
			break // no attributes
		}
		a := attr{key: k, val: v}
		switch {
		case urlAttrs[string(k)]:
			if len(v) > 0 && (v[0]|0x20 == 'j' || v[0] <= ' ') { // the commonest URL is not looked at again
				if js, ok := javascriptURL(v); ok {
					h.javascript(&a, js)
					break
				}
			}
			lo := len(h.nv)
			if h.nv, a.changed = h.rw.appendCandidate(h.nv, KindHTML, browserURL(v, h.rw.o.PageScheme)); a.changed {
				a.lo, a.hi = lo, len(h.nv)
			}
		case isHandler(k):
			if out, ok := h.script(v); ok {
				h.setBytes(&a, out)
			}
		case string(k) == "srcdoc":
			h.srcdoc(&a, v)
		case string(k) == "srcset" || string(k) == "imagesrcset":
			nv, ok := h.srcset(string(v))
			h.setValue(&a, nv, ok)
		case string(k) == "ping":
			nv, ok := h.ping(string(v))
			h.setValue(&a, nv, ok)
		case string(k) == "style":
			nv := h.css.end(h.css.feed(h.tmp[:0], v))
			if !bytes.Equal(nv, v) {
				h.setBytes(&a, nv)
			}
			h.tmp = nv
		case string(k) == "type" && isScript:
			h.raw = scriptText(string(v))
		case isMeta && string(k) == "http-equiv" && strings.EqualFold(string(v), "refresh"):
			refresh = true
		case isMeta && string(k) == "content":
			content = len(h.attrs)
		case treeAttrs && (string(k) == "color" || string(k) == "face" || string(k) == "size"):
			fa.fontBreakout = true
		case treeAttrs && string(k) == "encoding":
			fa.htmlEncoding = strings.EqualFold(string(v), "text/html") || strings.EqualFold(string(v), "application/xhtml+xml")
		}
		changed = changed || a.changed
		h.attrs = append(h.attrs, a)
		if !more {
			break
		}
	}
	if refresh && content >= 0 {
		a := &h.attrs[content]
		nv, ok := h.refresh(string(a.val))
		h.setValue(a, nv, ok)
		changed = changed || a.changed
	}
	if !changed {
		return dst
	}
	dst = append(dst[:mark], '<')
	dst = append(dst, name...)
	for _, a := range h.attrs {
		dst = append(dst, ' ')
		dst = append(dst, a.key...)
		dst = append(dst, '=', '"')
		if a.changed {
			dst = appendEscaped(dst, h.nv[a.lo:a.hi])
		} else {
			dst = appendEscaped(dst, a.val)
		}
		dst = append(dst, '"')
	}
	if tt == html.SelfClosingTagToken {
		dst = append(dst, '/')
	}
	return append(dst, '>')
}

// srcdoc rewrites the document of a srcdoc attribute a with the HTML
// rewriter. It is blanked (an empty document: the iframe loads nothing,
// not its src) when it is nested deeper than maxSrcdocDepth, holds a
// token larger than MaxToken, or would be written back (escaped) larger
// than MaxToken: never passed on unrewritten, and the output stays
// bounded however the levels multiply escaping.
func (h *htmlRewriter) srcdoc(a *attr, doc []byte) {
	var out []byte
	if h.depth < maxSrcdocDepth {
		c := newHTMLRewriter(h.rw, bytes.NewReader(doc), h.maxToken)
		c.depth = h.depth + 1
		var err error
		for err == nil && len(out) <= h.maxToken {
			out, err = c.next(out)
		}
		switch {
		case err != io.EOF || escapedLen(out) > h.maxToken:
			out = nil
		case bytes.Equal(out, doc):
			return
		}
	}
	a.lo = len(h.nv)
	h.nv = append(h.nv, out...)
	a.hi, a.changed = len(h.nv), true
}

// escapedLen is the length of v escaped by appendEscaped.
func escapedLen(v []byte) int {
	n := len(v)
	for _, c := range v {
		switch c {
		case '&', '\'', '"':
			n += 4
		case '<', '>':
			n += 3
		}
	}
	return n
}

// javascriptURL returns the script of a javascript: URL as the browser
// reads it (the URL without spaces around it and tabs and line breaks in
// it), false when v is not one. Cheap for other URLs.
func javascriptURL(v []byte) ([]byte, bool) {
	const scheme = "javascript:"
	if len(v) < len(scheme) || v[0]|0x20 != 'j' && v[0] > ' ' {
		return nil, false
	}
	if hasFoldPrefix(v, scheme) && !bytes.ContainsAny(v, "\t\n\r") && v[len(v)-1] > ' ' {
		return v[len(scheme):], true
	}
	lo, hi := 0, len(v)
	for lo < hi && v[lo] <= ' ' {
		lo++
	}
	for hi > lo && v[hi-1] <= ' ' {
		hi--
	}
	u := stripTabs(v[lo:hi])
	if !hasFoldPrefix(u, scheme) {
		return nil, false
	}
	return u[len(scheme):], true
}

// javascript rewrites the script js of a javascript: URL attribute a as
// an inline script's: the browser runs it percent-decoded, so it is
// rewritten decoded and written back with its percent signs, controls and
// trailing spaces percent-encoded.
func (h *htmlRewriter) javascript(a *attr, js []byte) {
	if bytes.IndexByte(js, '%') >= 0 {
		js = percentDecode(js)
	}
	out, ok := h.script(js)
	if !ok {
		return
	}
	a.lo = len(h.nv)
	h.nv = append(h.nv, "javascript:"...)
	end := len(out)
	for end > 0 && out[end-1] == ' ' {
		end--
	}
	for i, c := range out {
		if c == '%' || c < ' ' || c == 0x7f || i >= end {
			h.nv = append(h.nv, '%', "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&15])
		} else {
			h.nv = append(h.nv, c)
		}
	}
	a.hi, a.changed = len(h.nv), true
}

// script rewrites js as an inline script's text: the result (in h.tmp,
// valid until its next use) and true when it differs from js.
func (h *htmlRewriter) script(js []byte) ([]byte, bool) {
	out := h.js.end(h.js.feed(h.tmp[:0], js))
	h.tmp = out
	return out, !bytes.Equal(out, js)
}

// percentDecode is v with its %XX sequences decoded (others kept), as a
// URL's percent-decoding reads it, in a new slice.
func percentDecode(v []byte) []byte {
	out := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if v[i] == '%' && i+2 < len(v) && isHex(v[i+1]) && isHex(v[i+2]) {
			out = append(out, unhex(v[i+1])<<4|unhex(v[i+2]))
			i += 2
			continue
		}
		out = append(out, v[i])
	}
	return out
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'f' }

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c | 0x20 - 'a' + 10
}

// appendEscaped appends v escaped for a double-quoted attribute value (as
// html.EscapeString escapes).
func appendEscaped(dst, v []byte) []byte { return appendEscapes(dst, v, true) }

// appendEscapes appends v with &, < and > escaped, and with quotes the
// quotes too (html.EscapeString's set).
func appendEscapes(dst, v []byte, quotes bool) []byte {
	start := 0
	for i, c := range v {
		var esc string
		switch c {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '\'':
			esc = "&#39;"
		case '"':
			esc = "&#34;"
		default:
			continue
		}
		if !quotes && (c == '\'' || c == '"') {
			continue
		}
		dst = append(append(dst, v[start:i]...), esc...)
		start = i + 1
	}
	return append(dst, v[start:]...)
}

// scriptText is how the text of a script of type t is read: "script" for
// JavaScript, and for an import map or speculation rules (JSON whose
// strings are URLs the browser loads, root-relative ones too), as
// JavaScript's string literals; "script-json" for a JSON data block
// (application/json, …+json: a page's script reads its URLs); else
// "script-other", left alone.
func scriptText(t string) string {
	t = strings.ToLower(strings.TrimSpace(t))
	mt, _, _ := strings.Cut(t, ";")
	mt = strings.TrimSpace(mt)
	switch {
	case t == "" || t == "module" || strings.Contains(t, "javascript") || strings.Contains(t, "ecmascript"),
		t == "importmap" || t == "speculationrules":
		return "script"
	case mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json"):
		return "script-json"
	}
	return "script-other"
}

// srcset rewrites the URLs of a srcset list ("a.png 1x, /b.png 2x").
func (h *htmlRewriter) srcset(v string) (string, bool) {
	parts := strings.Split(v, ",")
	changed := false
	for i, p := range parts {
		f := strings.Fields(p)
		if len(f) == 0 {
			continue
		}
		if nv, ok := h.rw.candidate(KindHTML, browserURL([]byte(f[0]), h.rw.o.PageScheme)); ok {
			f[0], changed = nv, true
			parts[i] = " " + strings.Join(f, " ")
		}
	}
	return strings.TrimSpace(strings.Join(parts, ",")), changed
}

// ping rewrites the URLs of a ping list (space-separated URLs the
// browser posts to when the link is followed).
func (h *htmlRewriter) ping(v string) (string, bool) {
	f := strings.Fields(v)
	changed := false
	for i, u := range f {
		if nv, ok := h.rw.candidate(KindHTML, browserURL([]byte(u), h.rw.o.PageScheme)); ok {
			f[i], changed = nv, true
		}
	}
	return strings.Join(f, " "), changed
}

// refresh rewrites the URL of a meta refresh content ("5; url=/x").
func (h *htmlRewriter) refresh(v string) (string, bool) {
	start, end := RefreshURL(v)
	if start == end {
		return v, false
	}
	nv, ok := h.rw.candidate(KindHTML, browserURL([]byte(v[start:end]), h.rw.o.PageScheme))
	if !ok {
		return v, false
	}
	return v[:start] + nv + v[end:], true
}

// stripTabs is v without its tabs and line breaks, in a new slice.
func stripTabs(v []byte) []byte {
	u := make([]byte, 0, len(v))
	for _, c := range v {
		if c != '\t' && c != '\n' && c != '\r' {
			u = append(u, c)
		}
	}
	return u
}
