package proxy

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy/rewrite"
)

// Web UI rewriting (catalogue rewrite "body"): the links in HTML, CSS,
// JavaScript and JSON response bodies are rewritten while they stream
// (proxy/rewrite), the same way as Location and its kin: absolute URLs of
// the topology's backends and root-relative paths resolve under
// /gateway/{topology}/{service}/. So is Content-Security-Policy.
//
// Service params (any service; they also turn rewriting on or off):
//
//	rewrite.body              true or false: rewrite bodies (default: the role's catalogue entry)
//	rewrite.max_bytes         the largest decoded body rewritten (default 64 MiB)
//	rewrite.rule.NAME.from    a literal prefix replaced by .to
//	rewrite.rule.NAME.pattern a regular expression (RE2) replaced by .to ($1 expands)
//	rewrite.rule.NAME.to      the replacement
//	rewrite.rule.NAME.types   the bodies it applies to: html, css, js, json (default all)

// bodyRewrite is a service's body rewriting.
type bodyRewrite struct {
	rules    []rewrite.Rule
	maxBytes int64
}

// rewriteParam is the prefix of the service params read here.
const rewriteParam = "rewrite."

// compileBodyRewrite reads a service's rewriting params; nil when its
// bodies are not rewritten.
func compileBodyRewrite(ts *topology.Service) (*bodyRewrite, error) {
	on := topology.RoleRewrite(ts.Role) == topology.RewriteBody
	br := &bodyRewrite{}
	type ruleParams struct{ from, pattern, to, types string }
	rules := map[string]*ruleParams{}
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(ts.Params)) {
		v := ts.Params[k]
		name, ok := strings.CutPrefix(k, rewriteParam)
		if !ok {
			continue
		}
		switch {
		case name == "body":
			b, err := strconv.ParseBool(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("param %q: %q is not true or false", k, v))
			}
			on = b
		case name == "max_bytes":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				errs = append(errs, fmt.Errorf("param %q: %q is not a positive number of bytes", k, v))
			}
			br.maxBytes = n
		case strings.HasPrefix(name, "rule."):
			rn, field, ok := strings.Cut(strings.TrimPrefix(name, "rule."), ".")
			if !ok || rn == "" {
				errs = append(errs, fmt.Errorf("param %q: want rewrite.rule.NAME.{from,pattern,to,types}", k))
				continue
			}
			r := rules[rn]
			if r == nil {
				r = &ruleParams{}
				rules[rn] = r
			}
			switch field {
			case "from":
				r.from = v
			case "pattern":
				r.pattern = v
			case "to":
				r.to = v
			case "types":
				r.types = v
			default:
				errs = append(errs, fmt.Errorf("param %q: unknown rule field %q (from, pattern, to, types)", k, field))
			}
		default:
			errs = append(errs, fmt.Errorf("param %q: unknown rewrite param (body, max_bytes, rule.NAME.*)", k))
		}
	}
	for _, rn := range slices.Sorted(maps.Keys(rules)) {
		r := rules[rn]
		rule := rewrite.Rule{Name: rn, From: r.from, To: r.to}
		switch {
		case (r.from == "") == (r.pattern == ""):
			errs = append(errs, fmt.Errorf("rewrite rule %q: give one of from (a literal) and pattern (a regular expression)", rn))
			continue
		case r.pattern != "":
			re, err := regexp.Compile(r.pattern)
			if err != nil {
				errs = append(errs, fmt.Errorf("rewrite rule %q: pattern: %v", rn, err))
				continue
			}
			rule.Pattern = re
		}
		if r.types != "" {
			k, err := rewrite.ParseKinds(r.types)
			if err != nil {
				errs = append(errs, fmt.Errorf("rewrite rule %q: types: %v", rn, err))
				continue
			}
			rule.Kinds = k
		}
		br.rules = append(br.rules, rule)
		on = on || ts.Params[rewriteParam+"body"] == ""
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if !on {
		return nil, nil
	}
	return br, nil
}

// rewriteEncodings is what a UI service's backend is offered: bodies the
// gateway can decode to rewrite.
var rewriteEncodings = []string{"gzip, deflate"}

// outboundRewrite offers the backend only encodings the rewriter decodes.
func (br *bodyRewrite) outbound(out *http.Request) {
	if _, ok := out.Header["Accept-Encoding"]; ok {
		out.Header["Accept-Encoding"] = rewriteEncodings
	}
}

// rewriteBody wraps a UI response's body in the rewriter and maps its
// Content-Security-Policy. A compressed body that expands like a zip bomb
// fails here, before the client got anything (502).
func (s *service) rewriteBody(resp *http.Response) error {
	br := s.body
	h := resp.Header
	pub := s.topo.p.linkOrigin(resp.Request)
	for _, name := range []string{"Content-Security-Policy", "Content-Security-Policy-Report-Only"} {
		for i, v := range h[name] {
			h[name][i] = s.rewriteCSP(v, pub)
		}
	}
	if resp.Body == nil || resp.Body == http.NoBody || resp.StatusCode == http.StatusNoContent ||
		resp.StatusCode == http.StatusNotModified || resp.Request != nil && resp.Request.Method == http.MethodHead {
		return nil
	}
	kind, ok := rewrite.KindOf(h.Get("Content-Type"))
	if !ok {
		return nil
	}
	enc := h.Get("Content-Encoding")
	r, err := rewrite.NewReader(resp.Body, kind, enc, &rewrite.Options{
		Map:        s.bodyMapper(pub),
		RootPrefix: s.rootPrefix(),
		PageScheme: pageScheme(resp.Request),
		Rules:      br.rules,
		MaxBytes:   br.maxBytes,
	})
	if errors.Is(err, rewrite.ErrEncoding) {
		s.topo.p.log.Warn("proxy: response body not rewritten: unsupported content encoding",
			"topology", s.topo.name, "service", s.path, "encoding", enc)
		return nil
	}
	if err != nil {
		return fmt.Errorf("rewriting the response body: %w", err)
	}
	if err := r.Prime(); err != nil {
		r.Close()
		return fmt.Errorf("rewriting the response body: %w", err)
	}
	resp.Body = r
	resp.ContentLength = -1
	delete(h, "Content-Length")
	delete(h, "Content-Encoding")
	delete(h, "Content-Md5")
	if et := h.Get("Etag"); et != "" && !strings.HasPrefix(et, "W/") {
		h.Set("Etag", "W/"+et) // the bytes changed; the content did not
	}
	return nil
}

// pageScheme is the scheme of the gateway URL the client asked, against
// which its browser resolves the links of the answer's body and headers
// ("": unknown, without the request).
func pageScheme(out *http.Request) string {
	if out == nil {
		return ""
	}
	return publicScheme(out)
}

// bodyMapper maps the links of a body as rewriteURL maps headers; a
// backend's WebSocket URL stays one. The commonest link, a root-relative
// path of a service served from its backends' root, never gets here: the
// rewriter writes it itself (rootPrefix).
func (s *service) bodyMapper(pub string) rewrite.Mapper {
	return func(link string) (string, bool) {
		nv, ok := s.rewriteURL(link, pub)
		if ok && nv != link && len(link) > 3 && strings.EqualFold(link[:2], "ws") {
			if rest, found := strings.CutPrefix(nv, "https://"); found {
				nv = "wss://" + rest
			} else if rest, found := strings.CutPrefix(nv, "http://"); found {
				nv = "ws://" + rest
			}
		}
		return nv, ok
	}
}

// rootPrefix is what a root-relative link of a body gets in front of it
// when every backend of the service serves from its root ("" when one
// has a base path: such links go through rewriteURL).
func (s *service) rootPrefix() string {
	for _, b := range s.up.backends {
		if b.basePath != "" {
			return ""
		}
	}
	return s.prefix
}

// rewriteCSP maps the backend URLs of a Content-Security-Policy's source
// lists (and report-uri) to the gateway's; a source naming an internal
// address no service covers is dropped.
func (s *service) rewriteCSP(v, pub string) string {
	dirs := strings.Split(v, ";")
	changed := false
	for i, d := range dirs {
		f := strings.Fields(d)
		keep := f[:0]
		for j, tok := range f {
			if j == 0 || !(strings.Contains(tok, "://") || strings.HasPrefix(tok, "/")) {
				keep = append(keep, tok)
				continue
			}
			nv, ok := s.rewriteURL(tok, pub)
			if !ok {
				changed = true
				continue
			}
			changed = changed || nv != tok
			keep = append(keep, nv)
		}
		if len(f) > 0 {
			dirs[i] = " " + strings.Join(keep, " ")
		}
	}
	if !changed {
		return v
	}
	return strings.TrimSpace(strings.Join(dirs, ";"))
}
