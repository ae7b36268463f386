package proxy

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/securegw/gateway/proxy/internal/webhost"
	"github.com/securegw/gateway/proxy/rewrite"
)

// errUnroutableRedirect is returned by modifyResponse for a redirect to a
// backend address that no service of the topology covers: the client gets a
// generic 502, never the address.
var errUnroutableRedirect = errors.New("redirect to a backend address no service of the topology covers")

// originKey is a backend origin: scheme (http or https), host and port,
// spelled as webhost makes them canonical (a host without brackets, in
// lower case, an IPv4 address in dotted decimal; a port without leading
// zeros, the scheme's default when absent), so that every spelling a
// browser sends to the same server finds it.
type originKey struct{ scheme, host, port string }

// newOriginKey is the originKey of a URL's scheme (http or https), host
// (as url.URL.Hostname gives it) and port (as url.URL.Port gives it). A
// host or port a browser refuses is kept as it is, in lower case: the
// browser fetches nothing, but an exact spelling of a configured backend
// is still found.
func newOriginKey(scheme, host, port string) originKey {
	h, _ := webhost.Host(host)
	p, _ := webhost.Port(port, defaultPort(scheme))
	return originKey{scheme, h, p}
}

// originRoute is a service covering base (a path without trailing slash,
// "" for the whole origin) on an origin.
type originRoute struct {
	base string
	svc  *service
}

// origins maps every backend origin of a topology to the services covering
// it, longest base path first. It is built once at compile time, so mapping
// a URL in a response header costs a map lookup, or for a topology of at
// most smallOrigins origins (most: a map is several times the size of a
// few entries) a scan of that many keys.
type origins struct {
	small  []originEntry // when at most smallOrigins; routes is then nil
	routes map[originKey][]originRoute
	// internal are host names a host map declares internal: a URL naming
	// one is never passed to a client unmapped.
	internal map[string]bool
}

// smallOrigins is the most origins a topology's index keeps in a slice.
const smallOrigins = 8

// originEntry is one origin of a small index and the services covering it.
type originEntry struct {
	key    originKey
	routes []originRoute
}

// find returns the services covering the origin k, nil when none.
func (o *origins) find(k originKey) []originRoute {
	if o.routes != nil {
		return o.routes[k]
	}
	for i := range o.small {
		if o.small[i].key == k {
			return o.small[i].routes
		}
	}
	return nil
}

// buildOrigins indexes the backends of the services. hostmap maps internal
// host names (lower case) to the external names used in the topology's URLs.
func buildOrigins(svcs []*service, hostmap map[string]string) origins {
	o := origins{routes: map[originKey][]originRoute{}}
	for _, s := range svcs {
		for _, b := range s.up.backends {
			k := newOriginKey(b.scheme, b.hostname, b.port())
			rs := o.routes[k]
			if !slices.ContainsFunc(rs, func(r originRoute) bool { return r.base == b.basePath && r.svc == s }) {
				o.routes[k] = append(rs, originRoute{base: b.basePath, svc: s})
			}
		}
	}
	for _, rs := range o.routes {
		slices.SortStableFunc(rs, func(a, b originRoute) int { return len(b.base) - len(a.base) })
	}
	if len(hostmap) > 0 {
		o.internal = make(map[string]bool, len(hostmap))
		for k, rs := range o.routes {
			for internal, external := range hostmap {
				if ext, _ := webhost.Host(external); ext == k.host {
					ik := newOriginKey(k.scheme, internal, k.port)
					o.routes[ik] = append(o.routes[ik], rs...)
				}
			}
		}
		for internal := range hostmap {
			h, _ := webhost.Host(internal)
			o.internal[h] = true
		}
	}
	if len(o.routes) <= smallOrigins {
		o.small = compactOrigins(o.routes)
		o.routes = nil
	}
	return o
}

// compactOrigins turns a small index into a slice of its entries, their
// routes in one backing array.
func compactOrigins(m map[originKey][]originRoute) []originEntry {
	if len(m) == 0 {
		return nil
	}
	n := 0
	for _, rs := range m {
		n += len(rs)
	}
	all := make([]originRoute, 0, n)
	entries := make([]originEntry, 0, len(m))
	for k, rs := range m {
		all = append(all, rs...)
		entries = append(entries, originEntry{key: k, routes: all[len(all)-len(rs) : len(all) : len(all)]})
	}
	return entries
}

// lookup finds the service covering u, an absolute URL: the longest base
// path wins, self on a tie. known reports whether u names one of the
// topology's backend origins (or an internal host) at all.
func (o *origins) lookup(u *url.URL, self *service) (r originRoute, rest string, found, known bool) {
	host, _ := webhost.Host(u.Hostname())
	var schemes [2]string
	switch strings.ToLower(u.Scheme) {
	case "http", "ws":
		schemes[0] = "http"
	case "https", "wss":
		schemes[0] = "https"
	case "": // network-path reference: either
		schemes = [2]string{"http", "https"}
	default:
		return r, "", false, o.internal[host]
	}
	for _, scheme := range schemes {
		if scheme == "" {
			continue
		}
		port, _ := webhost.Port(u.Port(), defaultPort(scheme))
		rs := o.find(originKey{scheme, host, port})
		if len(rs) == 0 {
			continue
		}
		known = true
		for _, cand := range rs {
			if found && len(cand.base) < len(r.base) {
				break
			}
			tail, ok := underBase(u.Path, cand.base)
			if !ok {
				continue
			}
			if !found || cand.svc == self {
				r, rest, found = cand, tail, true
			}
		}
		if found {
			return r, rest, true, true
		}
	}
	return r, "", false, known || o.internal[host]
}

// port is the backend's port (the scheme's default when the URL has none).
func (b *backend) port() string { return b.hostPort[strings.LastIndexByte(b.hostPort, ':')+1:] }

// rewriteResponseHeaders points Location, Content-Location, Refresh, the
// URIs of Link and Set-Cookie Path/Domain that name a backend of the topology at the gateway
// instead: https://{host}/gateway/{topology}/{service}/{rest}, for the
// service covering the URL (any service of the topology, the longest base
// path first). A URL naming a backend origin (or a host the host map
// declares internal) that no service covers must not reach the client: the
// header is removed, and a redirect (3xx) that loses its Location fails
// with errUnroutableRedirect (the client gets a generic 502).
func (s *service) rewriteResponseHeaders(resp *http.Response) error {
	if s.dn != nil {
		if err := s.sealJSONLocation(resp); err != nil { // datanode.go
			return err
		}
	}
	h := resp.Header
	_, loc := h["Location"]
	_, cloc := h["Content-Location"]
	_, ref := h["Refresh"]
	_, lnk := h["Link"]
	_, ck := h["Set-Cookie"]
	if !loc && !cloc && !ref && !lnk && !ck {
		return nil
	}
	pub := s.topo.p.linkOrigin(resp.Request)
	scheme := pageScheme(resp.Request)
	var err error
	for _, name := range []string{"Location", "Content-Location", "Refresh", "Link"} {
		vs := h[name]
		for i := 0; i < len(vs); i++ {
			var nv string
			var ok bool
			if s.dn != nil && (name == "Location" || name == "Content-Location") {
				if nv, ok = s.fileSystemURL(vs[i], pub); ok {
					vs[i] = nv
					continue
				}
			}
			if name == "Location" && s.dn != nil && resp.StatusCode >= 300 && resp.StatusCode < 400 {
				sv, handled, serr := s.sealLocation(vs[i], pub)
				if handled {
					if serr == nil {
						vs[i] = sv
						continue
					}
					if err == nil {
						err = serr
					}
					vs = slices.Delete(vs, i, i+1)
					i--
					continue
				}
			}
			switch name {
			case "Refresh":
				nv, ok = s.rewriteRefresh(vs[i], pub, scheme)
			case "Link":
				nv, ok = s.rewriteLink(vs[i], pub, scheme)
			default:
				nv, ok = s.rewriteHeaderURL(vs[i], pub, scheme)
			}
			if ok {
				vs[i] = nv
				continue
			}
			if name == "Location" && resp.StatusCode >= 300 && resp.StatusCode < 400 && err == nil {
				err = fmt.Errorf("%w: %s", errUnroutableRedirect, redactedTarget(vs[i]))
			}
			vs = slices.Delete(vs, i, i+1)
			i--
		}
		if len(vs) == 0 {
			delete(h, name)
		} else {
			h[name] = vs
		}
	}
	target := ""
	if resp.Request != nil {
		target = resp.Request.RequestURI // the client's, as it sent it
	}
	for i, v := range h["Set-Cookie"] {
		h["Set-Cookie"][i] = s.rewriteCookie(v, target)
	}
	return err
}

// headOnlyField reports whether the response field k is one the gateway
// rewrites, removes or sets in an answer's head: a URL or a cookie that
// may name a backend (rewriteResponseHeaders), a Content-Security-Policy's
// sources (rewriteBody), the gateway's X-Request-Id. Where the gateway
// does not rewrite (an informational answer, trailers), such a field is
// left out.
func headOnlyField(k string) bool {
	switch k {
	case "Location", "Content-Location", "Refresh", "Link", "Set-Cookie",
		"Content-Security-Policy", "Content-Security-Policy-Report-Only", "X-Request-Id":
		return true
	}
	return false
}

// redactedTarget is a URL for the operator's log: no user info, query or
// fragment (they may carry tokens).
func redactedTarget(v string) string {
	u, err := url.Parse(v)
	if err != nil {
		return "(unparsable URL)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// publicOrigin is the scheme and host the client used, as the gateway told
// the backend in X-Forwarded-Proto and X-Forwarded-Host.
func publicOrigin(out *http.Request) string {
	if out == nil {
		return ""
	}
	proto := publicScheme(out)
	host := out.Header.Get("X-Forwarded-Host")
	if i := strings.IndexByte(host, ','); i >= 0 {
		host = strings.TrimSpace(host[:i])
	}
	if host == "" || !plainHost(host) {
		return ""
	}
	return proto + "://" + host
}

// publicScheme is the scheme the client used, as the gateway told the
// backend in X-Forwarded-Proto (forwardedScheme).
func publicScheme(out *http.Request) string {
	return forwardedScheme(out.Header.Get("X-Forwarded-Proto"))
}

// forwardedScheme reads an X-Forwarded-Proto value: its first element
// (the client's), http in any case, else https.
func forwardedScheme(proto string) string {
	proto, _, _ = strings.Cut(proto, ",")
	if strings.EqualFold(strings.TrimSpace(proto), "http") {
		return "http"
	}
	return "https"
}

// plainHost reports whether host is a name, IPv4 or IPv6 address with an
// optional port and nothing else. A Host field may hold more (quotes,
// parentheses, ';', '&', '%': RFC 3986's sub-delims), which written into a
// rewritten body or header could end a script's string or add markup; the
// links then stay paths on the gateway, which need no origin.
func plainHost(host string) bool {
	for i := 0; i < len(host); i++ {
		switch c := host[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '.', c == '-', c == '_', c == ':', c == '[', c == ']':
		default:
			return false
		}
	}
	return true
}

// underBase returns the part of path below base ("" or "/…"), if path is
// base or below it.
func underBase(path, base string) (string, bool) {
	if base == "" {
		return path, true
	}
	if !strings.HasPrefix(path, base) {
		return "", false
	}
	rest := path[len(base):]
	if rest != "" && rest[0] != '/' {
		return "", false
	}
	return rest, true
}

// rewriteURL maps a URL of a response header to the gateway's. It returns
// the value to send and true, or false when the value names a backend (or
// internal host) but no service covers it: the caller removes it. Values
// that name no backend (other hosts, relative references, paths outside the
// service's base paths) are returned unchanged.
func (s *service) rewriteURL(v string, pub string) (string, bool) {
	if v == "" {
		return v, true
	}
	u, err := url.Parse(v)
	if err != nil {
		// Cannot tell where it points: an absolute one might name a backend.
		return v, !strings.Contains(v, "//")
	}
	if strings.Contains(u.Path, "/.") {
		// The browser resolves "." and ".." before it asks: so does the
		// gateway before it picks the base path, or "/base/../x" would go
		// out as /gateway/t/s/../x, a path outside the service.
		u.Path, u.RawPath = resolveDots(u.Path), ""
	}
	var svc *service
	var rest string
	switch {
	case u.Scheme == "" && u.Host == "" && strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "//"):
		// A path on the answering backend: its longest matching base path.
		var b *backend
		for _, cand := range s.up.backends {
			if _, ok := underBase(u.Path, cand.basePath); ok && (b == nil || len(cand.basePath) > len(b.basePath)) {
				b = cand
			}
		}
		if b == nil {
			return v, true
		}
		rest, _ = underBase(u.Path, b.basePath)
		svc = s
	case u.Host != "":
		r, tail, found, known := s.topo.origins.lookup(u, s)
		if !found {
			return v, !known
		}
		svc, rest = r.svc, tail
	default:
		return v, true
	}
	g := &url.URL{Path: svc.prefix + rest, RawQuery: u.RawQuery, Fragment: u.Fragment}
	if rest == "" && strings.HasSuffix(u.Path, "/") {
		g.Path += "/"
	}
	if u.Host == "" || pub == "" {
		return g.String(), true // a path stays a path; without a public origin, a path
	}
	return pub + g.String(), true
}

// rewriteHeaderURL is rewriteURL for a URL of a header that a browser
// resolves against the gateway URL it asked, whose scheme is scheme: the
// URL as the browser reads it (rewrite.ReadURL: "http:\\\\rm/x",
// "\\\\rm/x" and "http:///rm/x" are http://rm/x, "http:rm/x" too when
// the gateway is https) when that maps otherwise than the URL as written.
func (s *service) rewriteHeaderURL(v, pub, scheme string) (string, bool) {
	if r, read := rewrite.ReadURL(v, scheme); read {
		if nv, ok := s.rewriteURL(r, pub); !ok || nv != r {
			return nv, ok
		}
	}
	return s.rewriteURL(v, pub)
}

// resolveDots removes the "." and ".." segments of an absolute path as
// RFC 3986 (5.2.4) and browsers do: "/a/b/../c" is "/a/c", "/../x" "/x",
// "/a/.." "/".
func resolveDots(p string) string {
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	out := segs[:0]
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, s)
			continue
		}
		if last {
			out = append(out, "") // "/a/." is "/a/"
		}
	}
	return "/" + strings.Join(out, "/")
}

// rewriteLink maps the URI references of a Link field value (RFC 8288:
// "<uri>; rel=next, <uri>; rel=preload; as=style"; pagination, preloads)
// as Location's; a link whose URI names a backend no service covers is
// left out, and false means none is left. A value that does not parse is
// kept only when it cannot name a backend (no "//").
func (s *service) rewriteLink(v, pub, scheme string) (string, bool) {
	var b strings.Builder
	changed := false
	for rest := v; ; {
		rest = strings.TrimLeft(rest, " \t,")
		if rest == "" {
			break
		}
		end := strings.IndexByte(rest, '>')
		if rest[0] != '<' || end < 0 {
			return v, !strings.Contains(v, "//")
		}
		uri := rest[1:end]
		n := end + 1 + linkParamsLen(rest[end+1:])
		params := rest[end+1 : n]
		rest = rest[n:]
		nv, ok := s.rewriteHeaderURL(uri, pub, scheme)
		if !ok || nv != uri {
			changed = true
		}
		if !ok {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('<')
		b.WriteString(nv)
		b.WriteByte('>')
		b.WriteString(params)
	}
	switch {
	case !changed:
		return v, true
	case b.Len() == 0:
		return "", false
	}
	return b.String(), true
}

// linkParamsLen is the length of a link's parameters at the start of p:
// up to the comma (outside a quoted string) that starts the next link.
func linkParamsLen(p string) int {
	quoted := false
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			return i
		}
	}
	return len(p)
}

// rewriteRefresh rewrites the URL of a Refresh header; false: the URL
// names a backend no service covers. The URL is found as browsers find it
// (HTML's declarative refresh): after the delay and an optional ';' or ',',
// with or without "url=" (any case, spaces around '='), in optional quotes.
func (s *service) rewriteRefresh(v, pub, scheme string) (string, bool) {
	start, end := rewrite.RefreshURL(v)
	if start == end {
		return v, true
	}
	target := v[start:end]
	nv, ok := s.rewriteHeaderURL(target, pub, scheme)
	if !ok {
		return "", false
	}
	if nv == target {
		return v, true
	}
	return v[:start] + nv + v[end:], true
}

// rewriteCookie maps a Path under a backend's base path to the gateway's
// (any other Path to the service's prefix) and drops a Domain naming a
// backend host or a host map's internal host, in any spelling (the cookie
// becomes host-only for the gateway). A cookie without a Path gets the
// service's prefix when the path a browser would give it, from the request
// target, is not in the service ("/gateway/t" for "/gateway/t/app?x"): a
// backend's cookie never reaches, nor replaces a cookie of, the topology's
// other services.
func (s *service) rewriteCookie(v, target string) string {
	parts := strings.Split(v, ";")
	changed, hasPath := false, false
	out := make([]string, 1, len(parts))
	out[0] = parts[0]
	for _, a := range parts[1:] {
		// The name and value as a browser reads them: without the spaces
		// and tabs around them (RFC 6265 §5.2), or "Path =/" would
		// escape the service's prefix.
		name, val, _ := strings.Cut(a, "=")
		name, val = strings.Trim(name, " \t"), strings.Trim(val, " \t")
		switch strings.ToLower(name) {
		case "path":
			// Under a base path: mapped. Elsewhere (Path=/): scoped to the
			// service, so a backend's cookie never reaches other routes.
			a, changed, hasPath = " Path="+s.prefix, true, true
			for _, b := range s.up.backends {
				if rest, ok := underBase(val, b.basePath); ok && strings.HasPrefix(val, "/") {
					a = " Path=" + s.prefix + strings.TrimSuffix(rest, "/")
					break
				}
			}
		case "domain":
			// In every spelling of the host (webhost: case, a trailing
			// dot, an IPv4 address's numeric forms, an IPv6 address in
			// brackets or not), as origins has it.
			d := strings.TrimPrefix(val, ".")
			if len(d) > 2 && d[0] == '[' && d[len(d)-1] == ']' {
				d = d[1 : len(d)-1]
			}
			d, _ = webhost.Host(d)
			drop := s.topo.origins.internal[d] // a host map's internal name
			for _, b := range s.up.backends {
				if h, _ := webhost.Host(b.hostname); d == h {
					drop = true
				}
			}
			if drop {
				changed = true
				continue
			}
		}
		out = append(out, a)
	}
	if dp := defaultCookiePath(target); !hasPath && dp != s.prefix && !strings.HasPrefix(dp, s.prefix+"/") {
		out, changed = append(out, " Path="+s.prefix), true
	}
	if !changed {
		return v
	}
	return strings.Join(out, ";")
}

// defaultCookiePath is the path a browser gives a cookie set without a
// Path attribute by the answer to target (RFC 6265 §5.1.4): the target's
// path up to its last '/'.
func defaultCookiePath(target string) string {
	if i := strings.IndexAny(target, "?#"); i >= 0 {
		target = target[:i]
	}
	if _, rest, ok := strings.Cut(target, "://"); ok && !strings.HasPrefix(target, "/") {
		// An absolute form's path starts after its authority.
		target = ""
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			target = rest[i:]
		}
	}
	i := strings.LastIndexByte(target, '/')
	if i <= 0 {
		return "/"
	}
	return target[:i]
}
