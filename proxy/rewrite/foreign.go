package rewrite

import (
	"bytes"
)

// Foreign content: inside <svg> and <math> a browser's tree builder reads
// <style>, <script>, <title>, <textarea>, <xmp>, <iframe>, <noembed>,
// <noframes>, <noscript> and <plaintext> as elements of that namespace
// whose content is markup (tags, character references, CDATA sections),
// not raw text as in HTML; and the text of an SVG <style> or <script> (its
// own text nodes, character references decoded, CDATA sections as they
// are) is a stylesheet or a script the browser loads from. The tokenizer
// does not know: golang.org/x/net/html leaves that to its tree builder,
// which needs the whole document. So the rewriter keeps the elements open
// since the outermost <svg> or <math> (HTML ones in an integration point
// included) and applies the tree builder's rules for foreign content
// (HTML 13.2.6.5): where it says so, the next token is not raw text
// (Tokenizer.NextIsNotRawText) and CDATA sections are read
// (Tokenizer.AllowCDATA); an HTML tag that breaks out of foreign content
// (<img>, <p>, <div>, <font color>, …) closes it; integration points
// (<foreignObject>, <desc>, <title> of SVG; <mi>, <mo>, <mn>, <ms>,
// <mtext> and <annotation-xml encoding="text/html"> of MathML) hold HTML.
// The text of an SVG <style> or <script> is rewritten as CSS or
// JavaScript across its text tokens (a comment or an element between two
// of them is not part of the stylesheet) and written back escaped.
//
// Outside <svg> and <math> none of this costs more than a look at each
// start tag's name. What the model leaves out (the insertion modes of
// HTML content inside an integration point: implied end tags, tables,
// <select>) only changes which HTML elements it thinks are open there.

// Namespaces of open elements.
const (
	nsHTML uint8 = iota
	nsSVG
	nsMath
)

// Integration points.
const (
	ipNone uint8 = iota
	ipHTML
	ipMathText
)

// openElem is an element open since the outermost svg or math.
type openElem struct {
	ns, ip uint8
	lo, hi int      // its lower-case name in htmlRewriter.names
	text   *scanner // an SVG style's or script's text: CSS or JavaScript
}

// htmlVoid are HTML elements that have no end tag (never left open).
var htmlVoid = map[string]bool{
	"area": true, "base": true, "basefont": true, "bgsound": true, "br": true, "col": true, "embed": true,
	"frame": true, "hr": true, "image": true, "img": true, "input": true, "keygen": true, "link": true,
	"meta": true, "param": true, "source": true, "track": true, "wbr": true,
}

// breakout are the start tags that end foreign content (HTML 13.2.6.5;
// font only with a color, face or size attribute).
var breakout = map[string]bool{
	"b": true, "big": true, "blockquote": true, "body": true, "br": true, "center": true, "code": true,
	"dd": true, "div": true, "dl": true, "dt": true, "em": true, "embed": true, "h1": true, "h2": true,
	"h3": true, "h4": true, "h5": true, "h6": true, "head": true, "hr": true, "i": true, "img": true,
	"li": true, "listing": true, "menu": true, "meta": true, "nobr": true, "ol": true, "p": true,
	"pre": true, "ruby": true, "s": true, "small": true, "span": true, "strong": true, "strike": true,
	"sub": true, "sup": true, "table": true, "tt": true, "u": true, "ul": true, "var": true,
}

// isForeignRoot reports whether a start tag's name is svg or math (any
// case): the only tags that matter while no foreign element is open.
func isForeignRoot(name []byte) bool {
	return len(name) == 3 && bytes.EqualFold(name, []byte("svg")) || len(name) == 4 && bytes.EqualFold(name, []byte("math"))
}

// top is the current node, nil outside foreign content.
func (h *htmlRewriter) top() *openElem {
	if len(h.open) == 0 {
		return nil
	}
	return &h.open[len(h.open)-1]
}

func (h *htmlRewriter) elemName(e *openElem) []byte { return h.names[e.lo:e.hi] }

// allowCDATA tells the tokenizer whether a CDATA section may come next:
// only when the current node is not an HTML element.
func (h *htmlRewriter) allowCDATA() {
	if t := h.top(); t != nil {
		h.z.AllowCDATA(t.ns != nsHTML)
	} else {
		h.z.AllowCDATA(false)
	}
}

// inForeign reports whether a start tag (lower-case name) is processed by
// the rules for foreign content, the current node being t.
func inForeign(t *openElem, name []byte, names []byte) bool {
	switch {
	case t == nil || t.ns == nsHTML:
		return false
	case t.ip == ipMathText:
		return string(name) == "mglyph" || string(name) == "malignmark"
	case t.ip == ipHTML:
		return false
	case string(name) == "svg" && t.ns == nsMath && string(names[t.lo:t.hi]) == "annotation-xml":
		return false
	}
	return true
}

// openElement updates the open elements for a start tag (lower-case name)
// and appends what popping elements flushed. It reports whether the
// element is a foreign one: its content, if any, is not raw text.
func (h *htmlRewriter) openElement(dst, name []byte, selfClosing bool, fa foreignAttrs) ([]byte, bool) {
	t := h.top()
	if inForeign(t, name, h.names) && (breakout[string(name)] || fa.fontBreakout && string(name) == "font") {
		i := len(h.open) - 1
		for i >= 0 && h.open[i].ns != nsHTML && h.open[i].ip == ipNone {
			i--
		}
		dst = h.popTo(dst, i+1)
		t = h.top()
	}
	if inForeign(t, name, h.names) {
		if !selfClosing {
			h.push(name, t.ns, fa.htmlEncoding)
		}
		return dst, true
	}
	// HTML rules: svg and math start foreign content; other elements
	// matter only inside it.
	switch {
	case isForeignRoot(name):
		ns := nsSVG
		if name[0] == 'm' {
			ns = nsMath
		}
		if !selfClosing {
			h.push(name, ns, false)
		}
		return dst, true
	case t != nil && !htmlVoid[string(name)]:
		h.push(name, nsHTML, false)
	}
	return dst, false
}

// Bounds of the open elements: past maxOpen (Chromium's parser nests no
// deeper than 512 either) a start tag opens nothing, and a name longer than maxName
// is kept as "" (no end tag closes it but its ancestors'), so that a page
// cannot make the rewriter hold more than a few KiB.
const (
	maxOpen = 512
	maxName = 64
)

// push opens an element named name (lower case) in namespace ns.
func (h *htmlRewriter) push(name []byte, ns uint8, htmlEncoding bool) {
	if len(h.open) == maxOpen {
		return
	}
	e := openElem{ns: ns, lo: len(h.names)}
	if len(name) <= maxName {
		h.names = append(h.names, name...)
	}
	e.hi = len(h.names)
	switch {
	case ns == nsSVG && (string(name) == "foreignobject" || string(name) == "desc" || string(name) == "title"):
		e.ip = ipHTML
	case ns == nsMath && string(name) == "annotation-xml" && htmlEncoding:
		e.ip = ipHTML
	case ns == nsMath && (string(name) == "mi" || string(name) == "mo" || string(name) == "mn" || string(name) == "ms" || string(name) == "mtext"):
		e.ip = ipMathText
	case ns == nsSVG && string(name) == "style":
		e.text = h.scanner(KindCSS)
	case ns == nsSVG && string(name) == "script":
		e.text = h.scanner(KindJS)
	}
	h.open = append(h.open, e)
}

// scanner is a scanner for the text of an SVG style or script, reused
// from one closed before.
func (h *htmlRewriter) scanner(k Kind) *scanner {
	if n := len(h.spare); n > 0 {
		sc := h.spare[n-1]
		h.spare = h.spare[:n-1]
		sc.kind = k
		return sc
	}
	return &scanner{kind: k, rw: h.rw}
}

// popTo closes the elements from index n up, appending what an SVG style
// or script among them still holds.
func (h *htmlRewriter) popTo(dst []byte, n int) []byte {
	for i := len(h.open) - 1; i >= n; i-- {
		if sc := h.open[i].text; sc != nil {
			h.tmp = sc.end(h.tmp[:0])
			dst = appendText(dst, h.tmp)
			h.spare = append(h.spare, sc)
		}
	}
	if n < len(h.open) {
		h.names = h.names[:h.open[n].lo]
		h.open = h.open[:n]
	}
	return dst
}

// endTag updates the open elements for an end tag (lower-case name),
// appending what popping them flushed.
func (h *htmlRewriter) endTag(dst, name []byte) []byte {
	i := len(h.open) - 1
	switch {
	case h.open[i].ns == nsHTML:
	case string(name) == "br" || string(name) == "p":
		// Out of foreign content, then HTML's rules.
		for i >= 0 && h.open[i].ns != nsHTML && h.open[i].ip == ipNone {
			i--
		}
		dst = h.popTo(dst, i+1)
	default:
		// Foreign content: the nearest open element of that name, down
		// to the first HTML element, whose rules go on from there.
		for ; i >= 0 && h.open[i].ns != nsHTML; i-- {
			if bytes.Equal(h.elemName(&h.open[i]), name) {
				return h.popTo(dst, i)
			}
		}
	}
	// HTML content: the nearest HTML element of that name, not past a
	// foreign one (an integration point, which HTML's end tags leave open).
	for ; i >= 0 && h.open[i].ns == nsHTML; i-- {
		if bytes.Equal(h.elemName(&h.open[i]), name) {
			return h.popTo(dst, i)
		}
	}
	return dst
}

// foreignText appends a text token of an SVG style or script (the current
// node's scanner sc): its text, character references decoded, rewritten
// and written back escaped.
func (h *htmlRewriter) foreignText(dst []byte, sc *scanner) []byte {
	raw := h.z.Raw()
	var text []byte
	if cdata, ok := bytes.CutPrefix(raw, []byte("<![CDATA[")); ok {
		text, _ = bytes.CutSuffix(cdata, []byte("]]>")) // the tokenizer would decode references in it
	} else {
		text = h.z.Text()
	}
	h.tmp = sc.feed(h.tmp[:0], text)
	return appendText(dst, h.tmp)
}

// appendText appends v escaped as text: &, < and > (appendEscaped's
// set without the quotes).
func appendText(dst, v []byte) []byte { return appendEscapes(dst, v, false) }

// lowerName is name in lower case, in h.lname (valid until its next use).
func (h *htmlRewriter) lowerName(name []byte) []byte {
	h.lname = append(h.lname[:0], name...)
	for i, c := range h.lname {
		if c >= 'A' && c <= 'Z' {
			h.lname[i] = c + 'a' - 'A'
		}
	}
	return h.lname
}

// foreignScanner is the scanner of the current node when it is an SVG
// style or script: a text token is its text.
func (h *htmlRewriter) foreignScanner() *scanner {
	t := h.top()
	if t == nil || t.text == nil {
		return nil
	}
	return t.text
}
