package proxy

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/securegw/gateway/proxy/internal/webhost"
)

// publicURL is Config.PublicURL, parsed once in New: the origin of every
// absolute link the gateway writes, and the X-Forwarded-Proto, -Host and
// -Port it tells backends. Zero when unset: links then follow the request
// (publicOrigin), as the gateway told the backend.
type publicURL struct {
	origin string // "https://gw.example.com" (lower case, no default port)
	proto  string // "https"
	host   string // "gw.example.com", with the port when not the default
	port   string // "443"
}

// ParsePublicURL checks a public URL (proxy.public_url): an absolute http
// or https URL naming an origin, scheme and host[:port], and nothing else.
// It returns the origin as the gateway writes it, as a browser writes it
// in Origin: scheme and host in lower case, the port without leading zeros
// and without the scheme's default, no trailing slash; "" for "". The errors never repeat user info (it may hold a password).
func ParsePublicURL(raw string) (string, error) {
	pu, err := parsePublicURL(raw)
	return pu.origin, err
}

// errPublicURLForm is the shape of a public URL, in every error about one.
const errPublicURLForm = "want scheme://host[:port], such as https://gw.example.com"

func parsePublicURL(raw string) (publicURL, error) {
	if raw == "" {
		return publicURL{}, nil
	}
	if strings.Contains(raw, "@") {
		// Before parsing: url.Parse's errors quote the whole value.
		return publicURL{}, fmt.Errorf("has user info (or an '@'); %s", errPublicURLForm)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return publicURL{}, fmt.Errorf("%q is not a URL; %s", raw, errPublicURLForm)
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme == "" || u.Opaque != "":
		return publicURL{}, fmt.Errorf("%q is not an absolute URL; %s", raw, errPublicURLForm)
	case scheme != "http" && scheme != "https":
		return publicURL{}, fmt.Errorf("%q: scheme %q is not http or https", raw, u.Scheme)
	case u.RawQuery != "" || u.ForceQuery:
		return publicURL{}, fmt.Errorf("%q has a query; %s", raw, errPublicURLForm)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return publicURL{}, fmt.Errorf("%q has a fragment; %s", raw, errPublicURLForm)
	case u.Host == "" || u.Hostname() == "":
		return publicURL{}, fmt.Errorf("%q has no host; %s", raw, errPublicURLForm)
	case u.Path != "" && u.Path != "/":
		// Honouring a prefix would take more than the origin: root-relative
		// links, cookie paths and the body rewriter's prefix all say
		// /{path_prefix}/…, which a prefix in front would have to map.
		return publicURL{}, fmt.Errorf("%q has a path (%q): a path prefix is not supported, links are "+
			"/{path_prefix}/… on the public origin; %s", raw, u.Path, errPublicURLForm)
	case !publicHost(u):
		return publicURL{}, fmt.Errorf("%q: host %q is not a name of letters, digits, '.', '-' and '_' "+
			"(an internationalised name in its xn-- form), an IPv4 address or an IPv6 address in brackets, "+
			"with an optional port", raw, u.Host)
	}
	// As a browser writes the origin (webhost, as the rewriter reads
	// backend URLs): the host in lower case and canonical form (an
	// IPv4-mapped IPv6 address kept so, in hexadecimal, as a browser's
	// Origin and Host write it), the port without leading zeros ("0443"
	// is 443) and without the default.
	host, okHost := webhost.Written(u.Hostname())
	port, okPort := webhost.Port(u.Port(), defaultPort(scheme))
	switch {
	case !okHost:
		return publicURL{}, fmt.Errorf("%q: host %q is not one a browser reads", raw, u.Hostname())
	case !okPort || port == "0":
		return publicURL{}, fmt.Errorf("%q: port %q is not 1..65535", raw, u.Port())
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != defaultPort(scheme) {
		host += ":" + port
	}
	return publicURL{origin: scheme + "://" + host, proto: scheme, host: host, port: port}, nil
}

// publicHost reports whether u's host is plain (plainHost: it is written
// into bodies and headers as it is), an IPv6 address only in brackets and
// without a zone, and its port, when there is a colon, not empty.
func publicHost(u *url.URL) bool {
	name := u.Hostname()
	if !plainHost(u.Host) || strings.HasSuffix(u.Host, ":") || strings.ContainsAny(name, "[]") {
		return false
	}
	if strings.HasPrefix(u.Host, "[") {
		a, err := netip.ParseAddr(name)
		return err == nil && a.Is6() && a.Zone() == ""
	}
	return !strings.Contains(name, ":")
}

// linkOrigin is the origin of the absolute links the gateway writes for
// the request out (the backend request, with its X-Forwarded-* set):
// Config.PublicURL's when set, whatever the client's Host or a trusted
// proxy's X-Forwarded-Host said; otherwise the request's (publicOrigin).
// "" means: write paths on the gateway, not absolute links.
func (p *Proxy) linkOrigin(out *http.Request) string {
	if p.public.origin != "" {
		return p.public.origin
	}
	return publicOrigin(out)
}
