package wsrelay

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

// Rule is one message rewrite rule, compiled. Its source form is
//
//	[binary ]literal:MATCH => TEMPLATE
//	[binary ]regex:MATCH => TEMPLATE
//
// MATCH is literal text or a Go regular expression (RE2); TEMPLATE may use
// {gateway_url} (the service's http(s) URL at the gateway, as the client called
// it), {service_url} (the backend URL the connection went to) and
// {principal}, and for regex rules $1, ${name} for the match's groups.
// A rule applies to text messages, or with "binary" to binary ones only.
type Rule struct {
	Name   string
	binary bool
	lit    []byte
	re     *regexp.Regexp
	tmpl   string
}

// Vars are the values a connection's templates use.
type Vars struct {
	GatewayURL, ServiceURL, Principal string
}

var placeholder = regexp.MustCompile(`\{[a-z_]+\}`)

// ParseRule compiles a rule; errors name it.
func ParseRule(name, spec string) (Rule, error) {
	r := Rule{Name: name}
	s := spec
	if rest, ok := strings.CutPrefix(s, "binary "); ok {
		r.binary, s = true, rest
	}
	match, tmpl, ok := strings.Cut(s, " => ")
	if !ok {
		return r, fmt.Errorf("rewrite rule %s: want [binary ]literal:MATCH => TEMPLATE or [binary ]regex:MATCH => TEMPLATE", name)
	}
	for _, p := range placeholder.FindAllString(tmpl, -1) {
		switch p {
		case "{gateway_url}", "{service_url}", "{principal}":
		default:
			return r, fmt.Errorf("rewrite rule %s: unknown placeholder %s (use {gateway_url}, {service_url} or {principal})", name, p)
		}
	}
	r.tmpl = tmpl
	switch {
	case strings.HasPrefix(match, "literal:"):
		lit := strings.TrimPrefix(match, "literal:")
		if lit == "" {
			return r, fmt.Errorf("rewrite rule %s: empty literal", name)
		}
		r.lit = []byte(lit)
	case strings.HasPrefix(match, "regex:"):
		re, err := regexp.Compile(strings.TrimPrefix(match, "regex:"))
		if err != nil {
			return r, fmt.Errorf("rewrite rule %s: bad regular expression: %w", name, err)
		}
		if re.MatchString("") {
			return r, fmt.Errorf("rewrite rule %s: the regular expression matches the empty string", name)
		}
		r.re = re
	default:
		return r, fmt.Errorf("rewrite rule %s: the match must start with \"literal:\" or \"regex:\" (got %q)", name, match)
	}
	return r, nil
}

// Rules are the ordered rules of one direction of a service.
type Rules struct {
	rules          []Rule
	text, binaryOK bool
}

// NewRules returns the ordered rules, nil when there are none.
func NewRules(rules []Rule) *Rules {
	if len(rules) == 0 {
		return nil
	}
	rs := &Rules{rules: rules}
	for _, r := range rules {
		rs.text = rs.text || !r.binary
		rs.binaryOK = rs.binaryOK || r.binary
	}
	return rs
}

// Bound are rules with one connection's values in their templates.
type Bound struct {
	rs    *Rules
	tmpls [][]byte
}

// Bind fills the templates with v; nil rules bind to nil.
func (rs *Rules) Bind(v Vars) *Bound {
	if rs == nil {
		return nil
	}
	b := &Bound{rs: rs, tmpls: make([][]byte, len(rs.rules))}
	for i, r := range rs.rules {
		esc := func(s string) string { return s }
		if r.re != nil {
			esc = func(s string) string { return strings.ReplaceAll(s, "$", "$$") }
		}
		t := strings.NewReplacer("{gateway_url}", esc(v.GatewayURL), "{service_url}", esc(v.ServiceURL), "{principal}", esc(v.Principal)).Replace(r.tmpl)
		b.tmpls[i] = []byte(t)
	}
	return b
}

// Applies reports whether a message of opcode op is rewritten.
func (b *Bound) Applies(op byte) bool {
	return b != nil && (op == OpText && b.rs.text || op == OpBinary && b.rs.binaryOK)
}

// Apply runs the rules, in order, on a whole message of opcode op.
func (b *Bound) Apply(op byte, msg []byte) []byte {
	for i, r := range b.rs.rules {
		if r.binary != (op == OpBinary) {
			continue
		}
		if r.re != nil {
			msg = r.re.ReplaceAll(msg, b.tmpls[i])
		} else {
			msg = bytes.ReplaceAll(msg, r.lit, b.tmpls[i])
		}
	}
	return msg
}
