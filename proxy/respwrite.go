package proxy

import (
	"net/http"
	"net/url"
	"strings"
)

// rewriteResponseHeaders points Location, Content-Location, Refresh and
// Set-Cookie Path/Domain that name one of the service's backends at the
// gateway instead: https://{host}/gateway/{topology}/{service}/{rest}.
// Only URLs under a backend's base path are rewritten; anything else is
// left alone.
func (s *service) rewriteResponseHeaders(resp *http.Response) {
	h := resp.Header
	_, loc := h["Location"]
	_, cloc := h["Content-Location"]
	_, ref := h["Refresh"]
	_, ck := h["Set-Cookie"]
	if !loc && !cloc && !ref && !ck {
		return
	}
	pub := publicOrigin(resp.Request)
	for _, name := range []string{"Location", "Content-Location"} {
		vs := h[name]
		for i, v := range vs {
			if nv, ok := s.rewriteURL(v, pub); ok {
				vs[i] = nv
			}
		}
	}
	for i, v := range h["Refresh"] {
		h["Refresh"][i] = s.rewriteRefresh(v, pub)
	}
	for i, v := range h["Set-Cookie"] {
		h["Set-Cookie"][i] = s.rewriteCookie(v)
	}
}

// publicOrigin is the scheme and host the client used, as the gateway told
// the backend in X-Forwarded-Proto and X-Forwarded-Host.
func publicOrigin(out *http.Request) string {
	if out == nil {
		return ""
	}
	proto := out.Header.Get("X-Forwarded-Proto")
	if i := strings.IndexByte(proto, ','); i >= 0 {
		proto = strings.TrimSpace(proto[:i])
	}
	if proto != "https" && proto != "http" {
		proto = "https"
	}
	host := out.Header.Get("X-Forwarded-Host")
	if i := strings.IndexByte(host, ','); i >= 0 {
		host = strings.TrimSpace(host[:i])
	}
	if host == "" {
		return ""
	}
	return proto + "://" + host
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

// rewriteURL maps a backend URL (absolute, or a path on the backend) to
// the gateway's.
func (s *service) rewriteURL(v string, pub string) (string, bool) {
	if v == "" {
		return "", false
	}
	u, err := url.Parse(v)
	if err != nil {
		return "", false
	}
	var b *backend
	switch {
	case u.Scheme == "" && u.Host == "" && strings.HasPrefix(v, "/"):
		b = s.up.backends[0]
		for _, cand := range s.up.backends { // the longest matching base path
			if _, ok := underBase(u.Path, cand.basePath); ok && len(cand.basePath) > len(b.basePath) {
				b = cand
			}
		}
	case u.Host != "":
		b = s.backendFor(u)
	}
	if b == nil {
		return "", false
	}
	rest, ok := underBase(u.Path, b.basePath)
	if !ok {
		return "", false
	}
	g := &url.URL{Path: s.prefix + rest, RawQuery: u.RawQuery, Fragment: u.Fragment}
	if rest == "" && strings.HasSuffix(u.Path, "/") {
		g.Path += "/"
	}
	if u.Host == "" {
		return g.String(), true // a path stays a path
	}
	if pub == "" {
		return "", false
	}
	return pub + g.String(), true
}

// backendFor finds the backend an absolute URL points at (http~ws, https~wss).
func (s *service) backendFor(u *url.URL) *backend {
	scheme := strings.ToLower(u.Scheme)
	switch scheme {
	case "ws":
		scheme = "http"
	case "wss":
		scheme = "https"
	case "":
		scheme = "" // network-path reference: any scheme
	}
	host := strings.ToLower(u.Hostname())
	for _, b := range s.up.backends {
		if host != b.hostname || (scheme != "" && scheme != b.scheme) {
			continue
		}
		port := u.Port()
		if port == "" {
			port = defaultPort(b.scheme)
		}
		if port == b.hostPort[strings.LastIndexByte(b.hostPort, ':')+1:] {
			if _, ok := underBase(u.Path, b.basePath); ok {
				return b
			}
		}
	}
	return nil
}

// rewriteRefresh rewrites the URL of "5; url=http://backend/x".
func (s *service) rewriteRefresh(v, pub string) string {
	i := strings.Index(strings.ToLower(v), "url=")
	if i < 0 {
		return v
	}
	target := strings.Trim(strings.TrimSpace(v[i+4:]), `'"`)
	if nv, ok := s.rewriteURL(target, pub); ok {
		return v[:i+4] + nv
	}
	return v
}

// rewriteCookie maps a Path under a backend's base path to the gateway's
// (any other Path to the service's prefix) and drops a Domain naming a
// backend host (the cookie becomes host-only for the gateway).
func (s *service) rewriteCookie(v string) string {
	parts := strings.Split(v, ";")
	changed := false
	out := make([]string, 1, len(parts))
	out[0] = parts[0]
	for _, a := range parts[1:] {
		name, val, _ := strings.Cut(strings.TrimSpace(a), "=")
		switch strings.ToLower(name) {
		case "path":
			// Under a base path: mapped. Elsewhere (Path=/): scoped to the
			// service, so a backend's cookie never reaches other routes.
			a, changed = " Path="+s.prefix, true
			for _, b := range s.up.backends {
				if rest, ok := underBase(val, b.basePath); ok && strings.HasPrefix(val, "/") {
					a = " Path=" + s.prefix + strings.TrimSuffix(rest, "/")
					break
				}
			}
		case "domain":
			d := strings.ToLower(strings.TrimPrefix(val, "."))
			drop := false
			for _, b := range s.up.backends {
				if d == b.hostname {
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
	if !changed {
		return v
	}
	return strings.Join(out, ";")
}
