package rewrite

import (
	"bytes"
	"errors"
	"io"
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
	rw  *rewriter
	z   *html.Tokenizer
	css scanner
	js  scanner
	// raw is the element whose text comes next: "script" (JavaScript),
	// "script-other" (a data block, left alone), "style", or "".
	raw   string
	attrs []html.Attribute
}

func newHTMLRewriter(rw *rewriter, src io.Reader, maxToken int) *htmlRewriter {
	h := &htmlRewriter{rw: rw, z: html.NewTokenizer(src)}
	h.z.SetMaxBuf(maxToken)
	h.css = scanner{kind: KindCSS, rw: rw}
	h.js = scanner{kind: KindJS, rw: rw}
	return h
}

// next appends the next token's output to dst.
func (h *htmlRewriter) next(dst []byte) ([]byte, error) {
	tt := h.z.Next()
	switch tt {
	case html.ErrorToken:
		err := h.z.Err()
		if errors.Is(err, html.ErrBufferExceeded) {
			return dst, ErrTokenTooLarge
		}
		return append(dst, h.z.Raw()...), err
	case html.TextToken:
		raw := h.z.Raw()
		switch h.raw {
		case "script":
			dst = h.js.feed(dst, raw)
			return h.js.end(dst), nil
		case "style":
			dst = h.css.feed(dst, raw)
			return h.css.end(dst), nil
		}
		return append(dst, raw...), nil
	case html.StartTagToken, html.SelfClosingTagToken:
		return h.tag(dst, tt), nil
	case html.EndTagToken:
		h.raw = ""
	}
	return append(dst, h.z.Raw()...), nil
}

// tag appends a start tag: as it came, unless an attribute changes.
func (h *htmlRewriter) tag(dst []byte, tt html.TokenType) []byte {
	raw := h.z.Raw()
	mark := len(dst)
	dst = append(dst, raw...) // optimistic: most tags have no link to change
	name, hasAttr := h.z.TagName()
	h.raw = ""
	switch string(name) {
	case "script":
		h.raw = "script"
	case "style":
		h.raw = "style"
	}
	if !hasAttr {
		return dst
	}
	h.attrs = h.attrs[:0]
	changed := false
	isMeta, refresh := string(name) == "meta", false
	var content int = -1
	for {
		k, v, more := h.z.TagAttr()
		a := html.Attribute{Key: string(k), Val: string(v)}
		switch {
		case urlAttrs[a.Key]:
			if nv, ok := h.rw.candidate(KindHTML, v); ok {
				a.Val, changed = string(nv), true
			}
		case a.Key == "srcset":
			if nv, ok := h.srcset(a.Val); ok {
				a.Val, changed = nv, true
			}
		case a.Key == "style":
			if nv := h.css.end(h.css.feed(nil, v)); !bytes.Equal(nv, v) {
				a.Val, changed = string(nv), true
			}
		case a.Key == "type" && string(name) == "script":
			if !isJSType(a.Val) {
				h.raw = "script-other"
			}
		case isMeta && a.Key == "http-equiv" && strings.EqualFold(a.Val, "refresh"):
			refresh = true
		case isMeta && a.Key == "content":
			content = len(h.attrs)
		}
		h.attrs = append(h.attrs, a)
		if !more {
			break
		}
	}
	if refresh && content >= 0 {
		if nv, ok := h.refresh(h.attrs[content].Val); ok {
			h.attrs[content].Val, changed = nv, true
		}
	}
	if !changed {
		return dst
	}
	dst = append(dst[:mark], '<')
	dst = append(dst, name...)
	for _, a := range h.attrs {
		dst = append(dst, ' ')
		dst = append(dst, a.Key...)
		dst = append(dst, '=', '"')
		dst = append(dst, html.EscapeString(a.Val)...)
		dst = append(dst, '"')
	}
	if tt == html.SelfClosingTagToken {
		dst = append(dst, '/')
	}
	return append(dst, '>')
}

// isJSType reports a script type that holds JavaScript.
func isJSType(t string) bool {
	t = strings.ToLower(strings.TrimSpace(t))
	return t == "" || t == "module" || strings.Contains(t, "javascript") || strings.Contains(t, "ecmascript")
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
		if nv, ok := h.rw.candidate(KindHTML, []byte(f[0])); ok {
			f[0], changed = string(nv), true
			parts[i] = " " + strings.Join(f, " ")
		}
	}
	return strings.TrimSpace(strings.Join(parts, ",")), changed
}

// refresh rewrites the URL of a meta refresh content ("5; url=/x").
func (h *htmlRewriter) refresh(v string) (string, bool) {
	i := strings.Index(strings.ToLower(v), "url=")
	if i < 0 {
		return v, false
	}
	u := strings.Trim(strings.TrimSpace(v[i+4:]), `'"`)
	nv, ok := h.rw.candidate(KindHTML, []byte(u))
	if !ok {
		return v, false
	}
	return v[:i+4] + string(nv), true
}
