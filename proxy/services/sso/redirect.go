package sso

import (
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// redirects decides where a login may send the browser back to.
type redirects struct {
	origins []string       // scheme://host[:port], lower case
	pattern *regexp.Regexp // Knox's whitelist regex, matched against the whole normalised URL
}

// errRedirect is the one answer to every refused redirect target.
var errRedirect = errors.New("the page to return to is not allowed")

// normOrigin is the origin of u, lower case, with a default port dropped.
func normOrigin(u *url.URL) string {
	host := strings.ToLower(u.Host)
	switch {
	case u.Scheme == "https" && strings.HasSuffix(host, ":443"):
		host = strings.TrimSuffix(host, ":443")
	case u.Scheme == "http" && strings.HasSuffix(host, ":80"):
		host = strings.TrimSuffix(host, ":80")
	}
	return u.Scheme + "://" + host
}

// check returns the URL to redirect to for target, or errRedirect. self is
// the origin the login page was requested at: a path-only target is
// resolved against it, and it is allowed when no origins are configured.
// Refused: other schemes, user info, backslashes, control characters and
// white space, percent-encoded or non-ASCII hosts, scheme-relative and
// opaque URLs, and origins not allowed (CVE-2021-42357, KNOX-3416).
func (rd *redirects) check(target, self string) (string, error) {
	if target == "" || len(target) > 4096 || strings.ContainsFunc(target, func(r rune) bool {
		return r == '\\' || unicode.IsControl(r) || unicode.IsSpace(r)
	}) {
		return "", errRedirect
	}
	if strings.HasPrefix(target, "/") {
		if strings.HasPrefix(target, "//") || strings.HasPrefix(target, "/%2f") || strings.HasPrefix(strings.ToLower(target), "/%5c") {
			return "", errRedirect
		}
		target = self + target
	}
	u, err := url.Parse(target)
	if err != nil || u.Opaque != "" || u.User != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", errRedirect
	}
	host := u.Hostname()
	if strings.ContainsFunc(host, func(r rune) bool { return r > unicode.MaxASCII || r == '%' || r == '@' }) || strings.Contains(u.Host, "%") {
		return "", errRedirect
	}
	if strings.Contains(u.EscapedPath(), "%5C") || strings.Contains(u.EscapedPath(), "%5c") {
		return "", errRedirect
	}
	origin := normOrigin(u)
	allowed := rd.origins
	if len(allowed) == 0 && rd.pattern == nil {
		allowed = []string{self}
	}
	out := u.String()
	if slices.Contains(allowed, origin) || (rd.pattern != nil && rd.pattern.MatchString(out)) {
		return out, nil
	}
	return "", errRedirect
}

// parseOrigin checks a configured origin: scheme://host[:port] and nothing else.
func parseOrigin(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("must be scheme://host[:port]")
	}
	return normOrigin(u), nil
}
