package kerberos

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Rules are Hadoop auth_to_local rules (hadoop.security.auth_to_local,
// Knox's kerberos.name.rules), applied as Hadoop's KerberosName applies them
// with the "hadoop" mechanism:
//
//	DEFAULT                                 realm is the default realm: the first component
//	RULE:[N:FORMAT](MATCH)s/FROM/TO/[g][/L]  a name of N components, formatted ($0 the realm,
//	                                        $1, $2 the components), fully matching MATCH,
//	                                        with FROM replaced by TO (all with g), lower-cased with /L
//
// The first rule that applies gives the short name; a result holding '/'
// or '@' is an error, and so is a name no rule applies to. Regular
// expressions are Go's (RE2): Java's look-arounds and back-references are
// refused when the rules are parsed; $n in TO is group n, as in Java.
type Rules struct {
	rules        []rule
	defaultRealm string
}

type rule struct {
	text       string
	isDefault  bool
	components int
	format     string
	match      *regexp.Regexp // nil: any
	from       *regexp.Regexp // nil: no substitution
	to         string         // in Go's Expand syntax
	global     bool
	lower      bool
}

// ruleParser is Hadoop's (KerberosName.ruleParser).
var ruleParser = regexp.MustCompile(`^\s*((DEFAULT)|(RULE:\[(\d*):([^\]]*)](\(([^)]*)\))?(s/([^/]*)/([^/]*)/(g)?)?))/?(L)?`)

// ErrNoRule is wrapped by errors of names that no rule maps.
var ErrNoRule = errors.New("no auth_to_local rule applies")

// ParseRules parses rules (separated by white space or new lines; "" is
// DEFAULT) for a realm whose default realm is defaultRealm.
func ParseRules(text, defaultRealm string) (*Rules, error) {
	rs := &Rules{defaultRealm: defaultRealm}
	rest := strings.TrimSpace(text)
	if rest == "" {
		rest = "DEFAULT"
	}
	for rest != "" {
		m := ruleParser.FindStringSubmatchIndex(rest)
		if m == nil {
			return nil, fmt.Errorf("invalid rule: %q", firstLine(rest))
		}
		g := func(i int) (string, bool) {
			if m[2*i] < 0 {
				return "", false
			}
			return rest[m[2*i]:m[2*i+1]], true
		}
		text := strings.TrimSpace(rest[m[0]:m[1]])
		var r rule
		r.text = text
		if _, ok := g(2); ok {
			r.isDefault = true
		} else {
			n, err := strconv.Atoi(must(g(4)))
			if err != nil || n < 1 || n > 2 {
				// Hadoop's names have one or two components.
				return nil, fmt.Errorf("rule %q: the number of components must be 1 or 2", text)
			}
			r.components = n
			r.format = must(g(5))
			if err := checkFormat(r.format, n); err != nil {
				return nil, fmt.Errorf("rule %q: %w", text, err)
			}
			if expr, ok := g(7); ok {
				re, err := regexp.Compile("^(?:" + expr + ")$")
				if err != nil {
					return nil, fmt.Errorf("rule %q: match %q: %w", text, expr, err)
				}
				r.match = re
			}
			if from, ok := g(9); ok {
				re, err := regexp.Compile(from)
				if err != nil {
					return nil, fmt.Errorf("rule %q: s/%s/: %w", text, from, err)
				}
				r.from = re
				r.to = javaReplacement(must(g(10)))
				_, r.global = g(11)
			}
		}
		_, r.lower = g(12)
		rs.rules = append(rs.rules, r)
		rest = strings.TrimSpace(rest[m[1]:])
		if m[1] == 0 {
			return nil, fmt.Errorf("invalid rule: %q", firstLine(rest))
		}
	}
	return rs, nil
}

func must(s string, _ bool) string { return s }

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// checkFormat refuses a $n beyond the name's components (Hadoop fails at
// mapping time: BadFormatString; we fail at deploy).
func checkFormat(format string, components int) error {
	for i := 0; i < len(format); i++ {
		if format[i] != '$' {
			continue
		}
		j := i + 1
		for j < len(format) && format[j] >= '0' && format[j] <= '9' {
			j++
		}
		if j == i+1 {
			// Hadoop fails on it when mapping (BadFormatString); at deploy here.
			return fmt.Errorf("format %q: '$' without a component number", format)
		}
		n, err := strconv.Atoi(format[i+1 : j])
		if err != nil || n > components {
			return fmt.Errorf("format %q: $%s is outside 0 to %d", format, format[i+1:j], components)
		}
		i = j - 1
	}
	return nil
}

// javaReplacement turns a java.util.regex replacement ($1, \$ for a
// dollar) into Go's Expand template (${1}, $$).
func javaReplacement(to string) string {
	var b strings.Builder
	for i := 0; i < len(to); i++ {
		c := to[i]
		switch {
		case c == '\\' && i+1 < len(to):
			i++
			if to[i] == '$' {
				b.WriteString("$$")
			} else {
				b.WriteByte(to[i])
			}
		case c == '$':
			j := i + 1
			for j < len(to) && to[j] >= '0' && to[j] <= '9' {
				j++
			}
			if j == i+1 {
				b.WriteString("$$")
				continue
			}
			b.WriteString("${" + to[i+1:j] + "}")
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// ShortName maps a principal ("alice@EXAMPLE.TEST", "HTTP/host@EXAMPLE.TEST")
// to a short name with the rules.
func (rs *Rules) ShortName(principal string) (string, error) {
	service, host, realm, err := splitPrincipal(principal)
	if err != nil {
		return "", err
	}
	if realm == "" && host == "" {
		return service, nil // already simple
	}
	params := []string{realm, service}
	if host != "" {
		params = append(params, host)
	}
	for i := range rs.rules {
		out, ok, err := rs.rules[i].apply(params, rs.defaultRealm)
		if err != nil {
			return "", err
		}
		if ok {
			return out, nil
		}
	}
	return "", fmt.Errorf("%w to %s", ErrNoRule, principal)
}

// splitPrincipal splits a name as Hadoop's KerberosName.nameParser does:
// ([^/@]+)(/([^/@]+))?(@([^/@]+))?
func splitPrincipal(name string) (service, host, realm string, err error) {
	bad := func() (string, string, string, error) {
		return "", "", "", fmt.Errorf("malformed Kerberos name %q", name)
	}
	rest := name
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		rest, realm = rest[:i], rest[i+1:]
		if realm == "" || strings.ContainsAny(realm, "/@") {
			return bad()
		}
	}
	service = rest
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		service, host = rest[:i], rest[i+1:]
		if host == "" || strings.ContainsAny(host, "/@") {
			return bad()
		}
	}
	if service == "" {
		return bad()
	}
	return service, host, realm, nil
}

func (r *rule) apply(params []string, defaultRealm string) (string, bool, error) {
	var result string
	var ok bool
	switch {
	case r.isDefault:
		if params[0] == defaultRealm {
			result, ok = params[1], true
		}
	case len(params)-1 == r.components:
		base := formatName(r.format, params)
		if r.match == nil || r.match.MatchString(base) {
			result, ok = base, true
			if r.from != nil {
				result = substitute(base, r.from, r.to, r.global)
			}
		}
	}
	if !ok {
		return "", false, nil
	}
	if strings.ContainsAny(result, "/@") {
		return "", false, fmt.Errorf("%w: non-simple name %q after auth_to_local rule %s", ErrNoRule, result, r.text)
	}
	if r.lower {
		result = strings.ToLower(result)
	}
	return result, true, nil
}

// formatName replaces $n in format with params[n] (checkFormat bounded n).
func formatName(format string, params []string) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] != '$' {
			b.WriteByte(format[i])
			continue
		}
		j := i + 1 // checkFormat made sure digits follow
		for j < len(format) && format[j] >= '0' && format[j] <= '9' {
			j++
		}
		n, _ := strconv.Atoi(format[i+1 : j])
		b.WriteString(params[n])
		i = j - 1
	}
	return b.String()
}

// substitute is Java's Matcher.replaceFirst (replaceAll when global).
func substitute(base string, from *regexp.Regexp, to string, global bool) string {
	if global {
		return from.ReplaceAllString(base, to)
	}
	m := from.FindStringSubmatchIndex(base)
	if m == nil {
		return base
	}
	var dst []byte
	dst = from.ExpandString(dst, to, base, m)
	return base[:m[0]] + string(dst) + base[m[1]:]
}
